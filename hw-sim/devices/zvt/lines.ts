/**
 * How the emulated terminal meets the kiosk: a TCP server (one kiosk at a time, as a terminal allows)
 * or a serial line with ZVT's framing and ACK/NAK.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { SerialPort } from 'serialport';
import { ACK, FrameParser, NAK, frame, messageLength, readMessage, type Message } from './wire.js';

export interface LineEvents {
  message: [Message];
  /** A kiosk connected (TCP) or the line opened (serial). */
  connected: [];
  disconnected: [];
  note: [string];
}

export interface TerminalLine extends EventEmitter<LineEvents> {
  readonly description: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Sends one message; false when it could not be delivered (no kiosk, or no ACK on serial). */
  send(message: Buffer): Promise<boolean>;
  /** Bytes outside the protocol, for the garbage fault. */
  sendNoise(): Promise<void>;
  /** Cuts the kiosk off (TCP); a serial line cannot be cut, so it just stays quiet. */
  drop(): void;
}

export class TcpTerminalLine extends EventEmitter<LineEvents> implements TerminalLine {
  private server: Server | undefined;
  private client: Socket | undefined;
  private buffer = Buffer.alloc(0);
  private boundPort: number;

  constructor(
    port: number,
    private readonly host = '127.0.0.1',
  ) {
    super();
    this.boundPort = port;
  }

  get description(): string {
    return `tcp ${this.host}:${this.boundPort}`;
  }

  /** The port listened on (useful after asking for port 0). */
  get port(): number {
    return this.boundPort;
  }

  start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot listen on ${this.description}: ${err.message}`)));
      server.listen(this.boundPort, this.host, () => {
        const address = server.address();
        if (address && typeof address === 'object') this.boundPort = address.port;
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.client) {
      this.emit('note', 'a new kiosk connection replaces the old one');
      this.client.destroy();
    }
    this.client = socket;
    this.buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.client !== socket) return;
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const length = messageLength(this.buffer);
        if (length === 0 || length > this.buffer.length) break;
        const message = readMessage(this.buffer.subarray(0, length));
        this.buffer = this.buffer.subarray(length);
        this.emit('message', message);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.client !== socket) return;
      this.client = undefined;
      this.emit('disconnected');
    });
    this.emit('connected');
  }

  send(message: Buffer): Promise<boolean> {
    const client = this.client;
    if (!client) return Promise.resolve(false);
    return new Promise((resolve) => client.write(message, (err) => resolve(!err)));
  }

  async sendNoise(): Promise<void> {
    // TCP has no framing to break: noise is a well-formed message the kiosk has no use for.
    await this.send(Buffer.from([0xa5, 0x5a, 0x04, 0xde, 0xad, 0xbe, 0xef]));
  }

  drop(): void {
    this.client?.destroy();
  }

  async stop(): Promise<void> {
    this.client?.destroy();
    this.client = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export class SerialTerminalLine extends EventEmitter<LineEvents> implements TerminalLine {
  private port: SerialPort | undefined;
  private readonly parser = new FrameParser();
  private answer: ((a: 'ack' | 'nak') => void) | undefined;

  constructor(private readonly path: string) {
    super();
  }

  get description(): string {
    return `serial ${this.path}`;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path: this.path, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 2, autoOpen: false });
      port.open((err) => {
        if (err) return reject(new Error(`cannot open serial port ${this.path}: ${err.message}`));
        this.port = port;
        port.on('data', (chunk: Buffer) => this.onData(chunk));
        port.on('error', (e: Error) => this.emit('note', `serial line error: ${e.message}`));
        this.emit('connected');
        resolve();
      });
    });
  }

  private onData(chunk: Buffer): void {
    for (const event of this.parser.feed(chunk)) {
      if (event.type === 'ack' || event.type === 'nak') this.answer?.(event.type);
      else if (event.type === 'corrupt') this.port?.write(Buffer.from([NAK]));
      else {
        this.port?.write(Buffer.from([ACK]));
        if (messageLength(event.bytes) === event.bytes.length) this.emit('message', readMessage(event.bytes));
      }
    }
  }

  async send(message: Buffer): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = new Promise<'ack' | 'nak' | 'none'>((resolve) => {
        const timer = setTimeout(() => resolve('none'), 1000);
        this.answer = (a) => {
          clearTimeout(timer);
          this.answer = undefined;
          resolve(a);
        };
      });
      this.port?.write(frame(message));
      if ((await answer) === 'ack') return true;
    }
    this.answer = undefined;
    return false;
  }

  async sendNoise(): Promise<void> {
    // Line noise, then a frame whose CRC is wrong: the kiosk must NAK it and keep its footing.
    const broken = frame(Buffer.from([0x04, 0xff, 0x01, 0x0e]));
    broken[broken.length - 1] = broken[broken.length - 1]! ^ 0xff;
    this.port?.write(Buffer.concat([Buffer.from([0x00, 0x10, 0x41, 0xff, 0x03]), broken]));
  }

  drop(): void {
    this.emit('note', 'a serial line cannot be cut: staying quiet instead');
  }

  async stop(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
