/**
 * An emulated USB magnetic stripe reader. It serves its HID input reports on a unix socket, each as a
 * 2-byte big-endian length and the report, which the kiosk reads as card reader device `socket:PATH`.
 * One kiosk at a time; a swipe with nobody connected is lost, as with an unplugged reader.
 */
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { SERVER_TEST_CARDS, TEST_CARDS, keyboardReports, presentedTracks, testCard, vendorReport, type Fault, type TestCard } from './reports.js';

export type ReaderKind = 'keyboard' | 'vendor';

export interface HidCardEmulatorOptions {
  socket: string;
  kind: ReaderKind;
  /** Append the LRC to good tracks (keyboard readers usually strip it). */
  lrc?: boolean;
}

export class HidCardEmulator extends EventEmitter<{ report: [string] }> {
  private server: Server | undefined;
  private client: Socket | undefined;
  private swipes = 0;
  private lost = 0;

  constructor(private readonly opts: HidCardEmulatorOptions) {
    super();
  }

  async start(): Promise<void> {
    rmSync(this.opts.socket, { force: true });
    const server = createServer((socket) => {
      this.client?.destroy();
      this.client = socket;
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (this.client === socket) this.client = undefined;
        this.emit('report', 'kiosk disconnected');
      });
      this.emit('report', 'kiosk connected');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot listen on ${this.opts.socket}: ${err.message}`)));
      server.listen(this.opts.socket, () => resolve());
    });
  }

  async stop(): Promise<void> {
    this.client?.destroy();
    this.client = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.opts.socket, { force: true });
  }

  /** A customer swipes `card` (a name of TEST_CARDS or SERVER_TEST_CARDS, or a card) and the reader reads it with `fault`. */
  swipe(card: string | TestCard = 'visa', fault: Fault = 'none'): void {
    const c = typeof card === 'string' ? testCard(card) : card;
    if (!c) throw new Error(`unknown test card '${String(card)}' (known: ${[...Object.keys(TEST_CARDS), ...Object.keys(SERVER_TEST_CARDS)].join(', ')})`);
    const reports = this.opts.kind === 'keyboard' ? keyboardReports(presentedTracks(c, fault, this.opts.lrc === true).join('')) : [vendorReport(c, fault, this.opts.lrc === true)];
    this.swipes++;
    const name = typeof card === 'string' ? card : 'card';
    if (!this.client) {
      this.lost++;
      this.emit('report', `swipe of ${name} (${fault}) lost: no kiosk connected`);
      return;
    }
    this.client.write(Buffer.concat(reports.flatMap((r) => [Buffer.from([r.length >> 8, r.length & 255]), r])));
    this.emit('report', `swipe of ${name} (${fault}): ${reports.length} report(s) sent`);
  }

  /** The reader is pulled out: the kiosk's connection ends. */
  unplug(): void {
    this.client?.destroy();
    this.emit('report', 'reader unplugged');
  }

  describe(): string {
    return `${this.opts.kind} reader on ${this.opts.socket}${this.opts.lrc ? ' (with LRC)' : ''}; kiosk ${this.client ? 'connected' : 'not connected'}; swipes ${this.swipes}, lost ${this.lost}`;
  }
}
