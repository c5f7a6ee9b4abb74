/**
 * ZVT below the APDU: over TCP the APDUs follow each other on the stream; over a serial line each is
 * framed (DLE STX … DLE ETX CRC) and acknowledged with a single ACK or NAK byte, and a frame that
 * gets NAK or no answer is sent again, three tries in all.
 */
import { EventEmitter } from 'node:events';
import type { Transport } from '../transport/types.js';
import { ApduSplitter, decodeApdu, type Apdu } from './codec.js';
import { ACK, FrameReader, NAK, encodeFrame } from './framing.js';

export interface ApduLinkEvents {
  apdu: [Apdu];
  /** The line went away; open() may be tried again. */
  close: [];
}

export class LinkError extends Error {
  constructor(
    message: string,
    /** Whether the APDU may have reached the terminal (bytes went out before the failure). */
    readonly written: boolean,
  ) {
    super(message);
  }
}

export interface ApduLink extends EventEmitter<ApduLinkEvents> {
  readonly description: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  /** Sends one APDU; resolves once it is on the line (serial: once the terminal ACKed the frame). */
  send(apdu: Uint8Array): Promise<void>;
}

abstract class TransportLink extends EventEmitter<ApduLinkEvents> implements ApduLink {
  constructor(protected readonly transport: Transport) {
    super();
    transport.on('data', (chunk) => this.onData(chunk));
    transport.on('close', () => {
      this.onClose();
      this.emit('close');
    });
    // A transport error is followed by its close; the error itself adds nothing for the driver.
    transport.on('error', () => undefined);
  }

  get description(): string {
    return this.transport.description;
  }

  get isOpen(): boolean {
    return this.transport.isOpen;
  }

  async open(): Promise<void> {
    this.onClose();
    await this.transport.open();
  }

  async close(): Promise<void> {
    await this.transport.close();
    this.onClose();
  }

  abstract send(apdu: Uint8Array): Promise<void>;
  protected abstract onData(chunk: Buffer): void;
  protected abstract onClose(): void;

  protected async write(bytes: Uint8Array, written: boolean): Promise<void> {
    if (!this.transport.isOpen) throw new LinkError(`${this.description}: not connected`, written);
    try {
      await this.transport.write(bytes);
    } catch (err) {
      throw new LinkError((err as Error).message, written);
    }
  }
}

/** Bare APDUs on a TCP stream. */
export class TcpApduLink extends TransportLink {
  private readonly splitter = new ApduSplitter();

  async send(apdu: Uint8Array): Promise<void> {
    decodeApdu(apdu);
    await this.write(apdu, false);
  }

  protected onData(chunk: Buffer): void {
    for (const apdu of this.splitter.push(chunk)) this.emit('apdu', apdu);
  }

  protected onClose(): void {
    this.splitter.reset();
  }
}

export interface SerialLinkOptions {
  /** How long a sent frame waits for ACK or NAK before it is sent again. Default 1000 ms. */
  ackTimeoutMs?: number;
  /** Tries per frame. Default 3. */
  tries?: number;
}

/** Framed, acknowledged APDUs on a serial line. One frame is in flight at a time. */
export class SerialApduLink extends TransportLink {
  private readonly reader = new FrameReader();
  private readonly ackTimeoutMs: number;
  private readonly tries: number;
  private queue: Promise<unknown> = Promise.resolve();
  private answer: ((a: 'ack' | 'nak' | 'closed') => void) | undefined;

  constructor(transport: Transport, opts: SerialLinkOptions = {}) {
    super(transport);
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 1000;
    this.tries = opts.tries ?? 3;
  }

  get stats(): FrameReader['stats'] {
    return this.reader.stats;
  }

  async send(apdu: Uint8Array): Promise<void> {
    decodeApdu(apdu);
    const frame = encodeFrame(apdu);
    const run = this.queue.then(() => this.sendFrame(frame));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sendFrame(frame: Buffer): Promise<void> {
    let written = false;
    for (let attempt = 1; attempt <= this.tries; attempt++) {
      const answered = this.awaitAnswer();
      await this.write(frame, written);
      written = true;
      const answer = await answered;
      if (answer === 'ack') return;
      if (answer === 'closed') throw new LinkError(`${this.description}: line closed while waiting for ACK`, true);
    }
    throw new LinkError(`${this.description}: no ACK after ${this.tries} tries`, true);
  }

  private awaitAnswer(): Promise<'ack' | 'nak' | 'timeout' | 'closed'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.answer = undefined;
        resolve('timeout');
      }, this.ackTimeoutMs);
      this.answer = (a) => {
        clearTimeout(timer);
        this.answer = undefined;
        resolve(a);
      };
    });
  }

  protected onData(chunk: Buffer): void {
    for (const event of this.reader.push(chunk)) {
      switch (event.kind) {
        case 'ack':
        case 'nak':
          this.answer?.(event.kind);
          break;
        case 'bad-frame':
          void this.transport.write(Buffer.from([NAK])).catch(() => undefined);
          break;
        case 'frame':
          void this.transport.write(Buffer.from([ACK])).catch(() => undefined);
          this.deliver(event.apdu);
          break;
      }
    }
  }

  private deliver(bytes: Buffer): void {
    let apdu: Apdu;
    try {
      apdu = decodeApdu(bytes);
    } catch {
      // A frame with a good CRC around a malformed APDU: acknowledged on the line, ignored above it.
      return;
    }
    this.emit('apdu', apdu);
  }

  protected onClose(): void {
    this.reader.reset();
    this.answer?.('closed');
  }
}
