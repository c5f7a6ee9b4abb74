import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import type { SerialSettings, Transport, TransportEvents } from './types.js';

const CLOSE_BOUND_MS = 2000;

/** A serial line through `serialport`: real UARTs, USB-serial adapters and pseudo-terminals alike. */
export class SerialTransport extends EventEmitter<TransportEvents> implements Transport {
  private port: SerialPort | undefined;

  constructor(private readonly settings: SerialSettings) {
    super();
  }

  get description(): string {
    return `serial:${this.settings.path}`;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  open(): Promise<void> {
    if (this.port?.isOpen) return Promise.resolve();
    const s = this.settings;
    return new Promise((resolve, reject) => {
      const port = new SerialPort({
        path: s.path,
        baudRate: s.baudRate,
        dataBits: s.dataBits ?? 8,
        parity: s.parity ?? 'none',
        stopBits: s.stopBits ?? 1,
        autoOpen: false,
      });
      port.open((err) => {
        if (err) {
          reject(new Error(`cannot open serial port ${s.path}: ${err.message}`));
          return;
        }
        this.port = port;
        port.on('data', (chunk: Buffer) => this.emit('data', chunk));
        port.on('error', (e: Error) => this.emit('error', e));
        port.on('close', () => {
          if (this.port === port) this.port = undefined;
          this.emit('close');
        });
        resolve();
      });
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new Error(`${this.description}: port is not open`));
    return new Promise((resolve, reject) => {
      port.write(Buffer.from(bytes), (err) => {
        if (err) reject(new Error(`${this.description}: write failed: ${err.message}`));
        else port.drain(() => resolve());
      });
    });
  }

  close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (!port?.isOpen) return Promise.resolve();
    // Closing a port whose device vanished can wait on a read that never ends: the driver's loop
    // must go on (report, retry) rather than wait with it.
    return new Promise((resolve) => {
      const bound = setTimeout(resolve, CLOSE_BOUND_MS);
      port.close(() => {
        clearTimeout(bound);
        resolve();
      });
    });
  }
}
