import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import type { HidSource, HidSourceEvents } from './hid.js';

/** Longest report accepted from the stream; larger lengths mean the stream is out of step. */
const MAX_REPORT = 4096;
/**
 * The socket reads into this one buffer (net's `onread`), which is zeroed after each read: left to
 * itself, Node reads into a fresh allocation per chunk and frees it with the card data still in it,
 * where a memory dump would find it.
 */
const READ_BUFFER_BYTES = 2 * (MAX_REPORT + 2);

/**
 * HID input reports over a unix socket, for the reader emulator (`kiosk-sim device hid-card`) when the
 * kiosk runs as a separate process: each report is a 2-byte big-endian length and the report bytes.
 */
export class SocketHidSource extends EventEmitter<HidSourceEvents> implements HidSource {
  readonly description: string;
  private socket: Socket | undefined;
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly path: string) {
    super();
    this.description = `hid-socket:${path}`;
  }

  get isOpen(): boolean {
    return this.socket !== undefined;
  }

  open(): Promise<void> {
    if (this.socket) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const readBuffer = Buffer.alloc(READ_BUFFER_BYTES);
      const socket = createConnection({
        path: this.path,
        onread: {
          buffer: readBuffer,
          callback: (read: number, buf: Uint8Array) => {
            this.onData(Buffer.from(buf.buffer, buf.byteOffset, read));
            return true;
          },
        },
      });
      socket.once('error', (err) => reject(new Error(`cannot open HID device ${this.description}: ${err.message}`)));
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        this.socket = socket;
        this.pending = Buffer.alloc(0);
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

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.pending.fill(0);
    this.pending = Buffer.alloc(0);
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private onData(chunk: Buffer): void {
    const all = Buffer.concat([this.pending, chunk]);
    this.pending.fill(0);
    chunk.fill(0);
    let at = 0;
    while (at + 2 <= all.length) {
      const length = all.readUInt16BE(at);
      if (length > MAX_REPORT) {
        all.fill(0);
        this.pending = Buffer.alloc(0);
        this.socket?.destroy(new Error(`report length ${length} over ${MAX_REPORT}: stream out of step`));
        return;
      }
      if (at + 2 + length > all.length) break;
      this.emit('report', Buffer.from(all.subarray(at + 2, at + 2 + length)));
      at += 2 + length;
    }
    this.pending = Buffer.from(all.subarray(at));
    all.fill(0);
  }
}
