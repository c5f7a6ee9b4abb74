import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import type { Transport, TransportEvents } from './types.js';

export interface TcpSettings {
  host: string;
  port: number;
  /** How long open() waits for the connection. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** A TCP connection as a byte pipe (payment terminals on the LAN). open() after a close reconnects. */
export class TcpTransport extends EventEmitter<TransportEvents> implements Transport {
  private socket: Socket | undefined;

  constructor(private readonly settings: TcpSettings) {
    super();
  }

  get description(): string {
    return `tcp:${this.settings.host}:${this.settings.port}`;
  }

  get isOpen(): boolean {
    return this.socket !== undefined;
  }

  open(): Promise<void> {
    if (this.socket) return Promise.resolve();
    const { host, port } = this.settings;
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`cannot connect to ${this.description}: no answer within ${this.settings.connectTimeoutMs ?? 5000} ms`));
      }, this.settings.connectTimeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${this.description}: ${err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        this.socket = socket;
        socket.on('data', (chunk: Buffer) => this.emit('data', chunk));
        socket.on('error', (err) => this.emit('error', err));
        socket.on('close', () => {
          if (this.socket !== socket) return;
          this.socket = undefined;
          this.emit('close');
        });
        resolve();
      });
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error(`${this.description}: not connected`));
    return new Promise((resolve, reject) => {
      socket.write(Buffer.from(bytes), (err) => {
        if (err) reject(new Error(`${this.description}: write failed: ${err.message}`));
        else resolve();
      });
    });
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }
}
