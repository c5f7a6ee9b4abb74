/**
 * One ccTalk serial line shared by several devices (each at its own address). The host speaks
 * first and one request is on the line at a time; every device driver on the line queues through
 * the same bus.
 */
import { SerialTransport } from '../transport/serial.js';
import { replyDeadline, type ReplyDeadline } from '../transport/reply-deadline.js';
import type { Transport } from '../transport/types.js';
import type { DriverLog } from '../types.js';
import { FrameSplitter, encodeFrame, type ChecksumMode, type Frame, type SplitterStats } from './codec.js';
import { Address, Header } from './headers.js';

/**
 * 'auto': strip the host's own bytes when they come back first (a real single-wire bus), pass
 * everything on when they do not (a pty, a USB adapter without echo). 'on': always drop as many
 * bytes as were sent. 'off': never strip.
 */
export type EchoMode = 'auto' | 'on' | 'off';

export interface CctalkBusOptions {
  checksum?: ChecksumMode;
  echo?: EchoMode;
  /** Default 1. */
  hostAddress?: number;
  /** How long one try waits for its reply. Default 500 ms. */
  replyTimeoutMs?: number;
  /** Re-sends after the first try on a time-out, a bad checksum, NAK or BUSY. Default 3. */
  retries?: number;
  /** Pause before re-sending after NAK or BUSY. Default 1000 ms. */
  busyRetryDelayMs?: number;
  /** Inter-byte gap after which a partial frame is dropped. Default 50 ms. */
  gapMs?: number;
  log?: DriverLog;
}

export interface RequestOptions {
  /** false: send once, whatever happens (a command that must never run twice). Default true. */
  retry?: boolean;
  timeoutMs?: number;
  /**
   * The reply must carry exactly this many data bytes; a reply of another length from the same
   * address is treated as a stray (a late answer to an earlier request) and ignored.
   */
  replyLength?: number;
}

/**
 * no-reply: nothing valid came back. garbled: only bytes with a bad checksum came back. nak/busy:
 * the device answered NAK/BUSY to the last try. link: the port could not be opened or written, or
 * it closed during the request.
 */
export type BusFailure = 'no-reply' | 'garbled' | 'nak' | 'busy' | 'link';

export class CctalkBusError extends Error {
  constructor(
    readonly reason: BusFailure,
    message: string,
  ) {
    super(message);
    this.name = 'CctalkBusError';
  }
}

type Outcome = { data: Buffer } | 'timeout' | 'nak' | 'busy' | 'closed';

interface Waiter {
  dest: number;
  header: number;
  replyLength: number | undefined;
  garbled: boolean;
  done(outcome: Outcome): void;
}

export class CctalkBus {
  readonly mode: ChecksumMode;
  readonly echo: EchoMode;
  readonly hostAddress: number;
  private readonly replyTimeoutMs: number;
  private readonly retries: number;
  private readonly busyRetryDelayMs: number;
  private readonly log: DriverLog;
  private readonly splitter: FrameSplitter;

  private queue: Promise<unknown> = Promise.resolve();
  private waiter: Waiter | undefined;
  /** The frame just sent, while its echo may still be coming back; `at` bytes of it have. */
  private pendingEcho: { bytes: Buffer; at: number } | undefined;
  private gapTimer: NodeJS.Timeout | undefined;
  private readonly owners = new Set<object>();

  constructor(
    readonly transport: Transport,
    opts: CctalkBusOptions = {},
  ) {
    this.mode = opts.checksum ?? 'simple';
    this.echo = opts.echo ?? 'auto';
    this.hostAddress = opts.hostAddress ?? Address.host;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 500;
    this.retries = opts.retries ?? 3;
    this.busyRetryDelayMs = opts.busyRetryDelayMs ?? 1000;
    this.log = opts.log ?? (() => {});
    this.splitter = new FrameSplitter(this.mode, { gapMs: opts.gapMs ?? 50, dest: this.hostAddress });
    transport.on('data', (chunk) => this.onData(chunk));
    transport.on('close', () => this.waiter?.done('closed'));
    transport.on('error', (err) => this.log('warn', 'cctalk: serial link error', { port: transport.description, error: err.message }));
  }

  get description(): string {
    return this.transport.description;
  }

  /** Line noise counters since the bus was created. */
  get stats(): Readonly<SplitterStats> {
    return this.splitter.stats;
  }

  /** Sends one request to `dest` and resolves with the data of its reply (header 0). */
  request(dest: number, header: number, data: Uint8Array = new Uint8Array(0), opts: RequestOptions = {}): Promise<Buffer> {
    let frame: Buffer;
    try {
      frame = encodeFrame({ dest, source: this.hostAddress, header, data }, this.mode);
    } catch (err) {
      return Promise.reject(err);
    }
    const job = this.queue.then(() => this.exchange(frame, dest, header, opts));
    this.queue = job.catch(() => undefined);
    return job;
  }

  /** A driver starts using the bus; the port stays open while any driver does. */
  attach(owner: object): void {
    this.owners.add(owner);
  }

  /** A driver stops using the bus; the last one out closes the port. Never throws. */
  async detach(owner: object): Promise<void> {
    this.owners.delete(owner);
    if (this.owners.size === 0) await this.close();
  }

  /** Closes the port now; a later request opens it again. Never throws. */
  async close(): Promise<void> {
    clearTimeout(this.gapTimer);
    try {
      await this.transport.close();
    } catch (err) {
      this.log('warn', 'cctalk: closing the port failed', { port: this.description, error: (err as Error).message });
    }
  }

  private async exchange(frame: Buffer, dest: number, header: number, opts: RequestOptions): Promise<Buffer> {
    const tries = opts.retry === false ? 1 : this.retries + 1;
    const timeoutMs = opts.timeoutMs ?? this.replyTimeoutMs;
    let last: CctalkBusError | undefined;
    for (let attempt = 1; attempt <= tries; attempt++) {
      if (attempt > 1 && (last?.reason === 'nak' || last?.reason === 'busy')) await delay(this.busyRetryDelayMs);
      await this.ensureOpen();
      const outcome = new Promise<Outcome>((resolve) => {
        this.waiter = { dest, header, replyLength: opts.replyLength, garbled: false, done: resolve };
      });
      let deadline: ReplyDeadline | undefined;
      try {
        this.splitter.reset();
        this.pendingEcho = this.echo === 'off' ? undefined : { bytes: frame, at: 0 };
        try {
          await this.transport.write(frame);
        } catch (err) {
          await this.close();
          throw new CctalkBusError('link', `cctalk: write to ${this.description} failed: ${(err as Error).message}`);
        }
        deadline = replyDeadline(timeoutMs, () => this.waiter?.done('timeout'));
        const result = await outcome;
        if (typeof result === 'object') {
          if (last?.reason === 'no-reply' || last?.reason === 'garbled') await this.settle(2 * timeoutMs);
          return result.data;
        }
        if (result === 'closed') throw new CctalkBusError('link', `cctalk: ${this.description} closed during header ${header} to address ${dest}`);
        last = this.failure(result, dest, header);
        this.log('warn', `cctalk: ${last.message}`, { attempt, of: tries });
      } finally {
        deadline?.clear();
        this.waiter = undefined;
        this.pendingEcho = undefined;
      }
    }
    throw last!;
  }

  /**
   * A reply that came after a re-send may have answered the first try, and the answer to the
   * re-send is then still on its way; ccTalk has no sequence numbers to tell them apart. Whatever
   * arrives in the next two time-outs is dropped, so it cannot pass for the reply to the next
   * request.
   */
  private async settle(ms: number): Promise<void> {
    this.waiter = undefined;
    this.pendingEcho = undefined;
    await delay(ms);
  }

  private failure(result: 'timeout' | 'nak' | 'busy', dest: number, header: number): CctalkBusError {
    const what = `header ${header} to address ${dest}`;
    if (result === 'nak') return new CctalkBusError('nak', `NAK from address ${dest} to header ${header}`);
    if (result === 'busy') return new CctalkBusError('busy', `BUSY from address ${dest} to header ${header}`);
    if (this.waiter?.garbled) return new CctalkBusError('garbled', `garbled reply to ${what}`);
    return new CctalkBusError('no-reply', `no reply to ${what}`);
  }

  private async ensureOpen(): Promise<void> {
    if (this.transport.isOpen) return;
    try {
      await this.transport.open();
    } catch (err) {
      throw new CctalkBusError('link', `cctalk: cannot open ${this.description}: ${(err as Error).message}`);
    }
    this.splitter.reset();
  }

  private onData(chunk: Buffer): void {
    const rest = this.stripEcho(chunk);
    if (rest.length === 0) return;
    const before = this.damage();
    for (const frame of this.splitter.push(rest)) this.onFrame(frame);
    this.noteGarbled(before);
    clearTimeout(this.gapTimer);
    if (this.splitter.pending > 0) {
      this.gapTimer = setTimeout(() => {
        const atGap = this.damage();
        for (const frame of this.splitter.abandonPending()) this.onFrame(frame);
        this.noteGarbled(atGap);
      }, this.splitter.gapMs);
    }
  }

  private damage(): number {
    return this.splitter.stats.badChecksum + this.splitter.stats.abandoned;
  }

  /** A bad or cut-off frame while waiting is most likely our reply, damaged: the time-out then says so. */
  private noteGarbled(damageBefore: number): void {
    if (this.damage() !== damageBefore && this.waiter) this.waiter.garbled = true;
  }

  /** Removes the host's own bytes from the head of what comes back, as the echo mode says. */
  private stripEcho(chunk: Buffer): Buffer {
    const echo = this.pendingEcho;
    if (!echo) return chunk;
    let i = 0;
    while (i < chunk.length && echo.at < echo.bytes.length) {
      if (this.echo === 'auto' && chunk[i] !== echo.bytes[echo.at]) {
        // Not an echo after all: the bytes taken for one so far belong to the reply.
        this.pendingEcho = undefined;
        return Buffer.concat([echo.bytes.subarray(0, echo.at - i), chunk]);
      }
      i++;
      echo.at++;
    }
    if (echo.at === echo.bytes.length) this.pendingEcho = undefined;
    return chunk.subarray(i);
  }

  private onFrame(frame: Frame): void {
    const waiter = this.waiter;
    const fromWaited =
      waiter !== undefined &&
      frame.dest === this.hostAddress &&
      (frame.source === undefined || frame.source === waiter.dest || waiter.dest === Address.broadcast);
    if (!fromWaited) {
      this.log('info', 'cctalk: unexpected frame ignored', { frame: frame.bytes.toString('hex') });
      return;
    }
    switch (frame.header) {
      case Header.reply:
        if (waiter.replyLength !== undefined && frame.data.length !== waiter.replyLength) {
          this.log('info', 'cctalk: reply of the wrong length ignored', {
            frame: frame.bytes.toString('hex'),
            header: waiter.header,
            expected: waiter.replyLength,
          });
          return;
        }
        waiter.done({ data: Buffer.from(frame.data) });
        return;
      case Header.nak:
        waiter.done('nak');
        return;
      case Header.busy:
        waiter.done('busy');
        return;
      default:
        this.log('info', 'cctalk: frame with an unexpected header ignored', { frame: frame.bytes.toString('hex') });
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** ccTalk line settings: 9600 baud, 8 data bits, no parity, 1 stop bit. */
export function openCctalkBus(port: string, opts: CctalkBusOptions = {}): CctalkBus {
  return new CctalkBus(new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 }), opts);
}

const sharedBuses = new Map<string, CctalkBus>();

/**
 * The one bus for a serial port, so that devices on the same line queue behind each other. The
 * options of the first caller apply. The port opens with the first request.
 */
export function getSharedBus(port: string, opts: CctalkBusOptions = {}): CctalkBus {
  let bus = sharedBuses.get(port);
  if (!bus) {
    bus = openCctalkBus(port, opts);
    sharedBuses.set(port, bus);
  }
  return bus;
}
