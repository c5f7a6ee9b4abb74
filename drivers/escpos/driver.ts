/**
 * ESC/POS receipt printer. The printer only speaks when asked, so everything it knows comes from
 * the real-time status requests `DLE EOT 1..4`: read before a job (a job sent to a printer without
 * paper would be lost in its buffer), after it (the roll can run out half-way), and every few
 * seconds while idle so the terminal stops offering receipts before a customer pays.
 */
import { EventEmitter } from 'node:events';
import type { Transport } from '../transport/types.js';
import { PrinterError, type DeviceEvents, type DeviceIdentity, type DeviceStatus, type DriverLog, type Printer, type Receipt } from '../types.js';
import { encodeReceipt, type PaperWidth } from './encoder.js';
import { STATUS_KINDS, blockingCode, decodeStatus, isStatusByte, statusRequest, summarize } from './status.js';

export interface EscposPrinterOptions {
  transport: Transport;
  /** Characters per line: 32 (58 mm paper), 42 or 48 (80 mm). Default 32, which prints on both. */
  width?: PaperWidth;
  /** How long one status request waits for its byte. Default 500 ms. */
  statusTimeoutMs?: number;
  /** Status poll while idle. Default 5 s. */
  pollIntervalMs?: number;
  /**
   * Wait between sending a job and the status check after it. Status requests are answered at once,
   * even while the job is still printing, so a roll that runs out at the end of the receipt only
   * shows once the paper got there. Default 1500 ms, about one receipt at thermal speed.
   */
  settleMs?: number;
  /** Back-off while the printer is unreachable: starts at initialMs, doubles up to maxMs. */
  reconnect?: { initialMs: number; maxMs: number };
  /** Ask the firmware version with `GS I 65` at start-up. Off by default: clone replies vary. */
  queryVersion?: boolean;
  log?: DriverLog;
}

const ESC_INIT = Uint8Array.of(0x1b, 0x40);
const GS_I_FIRMWARE = Uint8Array.of(0x1d, 0x49, 0x41);
/** `GS I` answers for n ≥ 65 are framed as 0x5F, text, NUL. */
const INFO_HEADER = 0x5f;
const INFO_END = 0x00;
const INFO_MAX = 80;

const NOT_OPENED: DeviceStatus = { health: 'offline', code: 'closed', detail: 'not opened' };

/** The printer did not answer in time, or the link is down. */
class NoAnswerError extends Error {
  /** Writing failed: the link is gone even if it still looks open, so it is closed and reopened. */
  linkBroken = false;
}

/** Consumes bytes from the front of `rx`; returns a value once it has one. */
type Parser<T> = (rx: number[]) => T | undefined;

/** Drops bytes that cannot be a status reply, including a whole late `GS I` answer. */
function statusByteParser(): Parser<number> {
  let inInfoBlock = false;
  return (rx) => {
    while (rx.length > 0) {
      const b = rx.shift()!;
      if (inInfoBlock) {
        if (b === INFO_END) inInfoBlock = false;
      } else if (b === INFO_HEADER) {
        inInfoBlock = true;
      } else if (isStatusByte(b)) {
        return b;
      }
    }
    return undefined;
  };
}

const infoParser: Parser<string> = (rx) => {
  const start = rx.indexOf(INFO_HEADER);
  if (start < 0) return undefined;
  const end = rx.indexOf(INFO_END, start + 1);
  if (end < 0) return undefined;
  const text = Buffer.from(rx.slice(start + 1, Math.min(end, start + 1 + INFO_MAX))).toString('latin1');
  rx.splice(0, end + 1);
  return text.trim();
};

const sameStatus = (a: DeviceStatus, b: DeviceStatus) => a.health === b.health && a.code === b.code && a.detail === b.detail;

export class EscposPrinter extends EventEmitter<DeviceEvents> implements Printer {
  readonly kind = 'printer' as const;

  private readonly transport: Transport;
  private readonly width: PaperWidth;
  private readonly statusTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly settleMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly queryVersion: boolean;
  private readonly log: DriverLog;

  private current: DeviceStatus = NOT_OPENED;
  private version: string | undefined;
  private closed = true;
  private initialized = false;
  private loop: Promise<void> | undefined;
  private opening: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private lock: Promise<unknown> = Promise.resolve();
  private rx: number[] = [];
  private onRx: (() => void) | undefined;
  /** Pending sleeps, cut short by close(). */
  private readonly wakers = new Set<() => void>();

  constructor(opts: EscposPrinterOptions) {
    super();
    this.transport = opts.transport;
    this.width = opts.width ?? 32;
    this.statusTimeoutMs = opts.statusTimeoutMs ?? 500;
    this.pollIntervalMs = opts.pollIntervalMs ?? 5000;
    this.settleMs = opts.settleMs ?? 1500;
    this.backoff = opts.reconnect ?? { initialMs: 1000, maxMs: 30_000 };
    this.queryVersion = opts.queryVersion ?? false;
    this.log = opts.log ?? (() => {});
    this.transport.on('data', (chunk) => {
      if (!this.onRx) return;
      for (const b of chunk) this.rx.push(b);
      this.onRx();
    });
    this.transport.on('close', () => {
      if (this.closed) return;
      this.initialized = false;
      this.log('warn', 'escpos: printer link closed', { port: this.transport.description });
    });
    this.transport.on('error', (err) => this.log('warn', 'escpos: printer link error', { error: err.message }));
  }

  status(): DeviceStatus {
    return this.current;
  }

  identity(): DeviceIdentity {
    return { kind: 'printer', model: 'ESC/POS', ...(this.version ? { version: this.version } : {}) };
  }

  open(): Promise<void> {
    const opened = new Promise<void>((resolve, reject) => this.opening.push({ resolve, reject }));
    if (!this.loop) {
      this.closed = false;
      this.loop = this.run();
    } else if (this.current.health !== 'offline') {
      this.settleOpen();
    }
    return opened;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
    this.settleOpen(new Error('escpos: closed before the printer answered'));
    await this.loop;
    this.loop = undefined;
    await this.lock.catch(() => undefined);
    await this.transport.close().catch((err: Error) => {
      this.log('warn', 'escpos: closing the transport failed', { error: err.message });
    });
    this.initialized = false;
    this.setStatus({ health: 'offline', code: 'closed', detail: 'closed by the host' });
  }

  async print(receipt: Receipt): Promise<void> {
    let job: Uint8Array;
    try {
      job = encodeReceipt(receipt, { width: this.width });
    } catch (err) {
      throw new PrinterError('invalid-receipt', `receipt cannot be encoded: ${(err as Error).message}`);
    }
    if (this.closed) throw new PrinterError('offline', 'printer not opened');
    await this.exclusive(async () => {
      const before = await this.statusOrOffline('before the job');
      const refused = blockingCode(before);
      if (refused) throw new PrinterError(refused, `receipt not printed: ${before.detail}`);

      try {
        await this.transport.write(job);
      } catch (err) {
        this.setStatus({ health: 'offline', code: 'link-down', detail: (err as Error).message });
        throw new PrinterError('offline', `receipt not sent: ${(err as Error).message}`);
      }
      if (this.settleMs > 0) await this.sleep(this.settleMs);

      const after = await this.statusOrOffline('after the job');
      const failed = blockingCode(after);
      if (failed) throw new PrinterError(failed, `receipt may be incomplete: ${after.detail}`);
      this.log('info', 'escpos: receipt printed', { bytes: job.length, status: after.code });
    });
  }

  // ---------------------------------------------------------------------------- life cycle

  private async run(): Promise<void> {
    let delay = this.backoff.initialMs;
    while (!this.closed) {
      try {
        await this.exclusive(async () => {
          if (!this.transport.isOpen) {
            this.initialized = false;
            await this.transport.open();
          }
          if (!this.initialized) await this.startUp();
          await this.refreshStatus();
        });
        this.settleOpen();
        delay = this.backoff.initialMs;
        await this.sleep(this.pollIntervalMs);
      } catch (err) {
        if (this.closed) break;
        const message = (err as Error).message;
        if (err instanceof NoAnswerError && err.linkBroken) {
          this.initialized = false;
          await this.transport.close().catch(() => undefined);
        }
        if (!(err instanceof NoAnswerError)) {
          this.setStatus({ health: 'offline', code: 'link-down', detail: message });
        }
        this.settleOpen(new Error(`escpos on ${this.transport.description}: ${message}`));
        this.log('warn', 'escpos: printer unavailable, retrying', { error: message, retryInMs: delay });
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.backoff.maxMs);
      }
    }
  }

  private async startUp(): Promise<void> {
    await this.transport.write(ESC_INIT);
    this.initialized = true;
    if (this.queryVersion && this.version === undefined) {
      try {
        this.version = await this.exchange(GS_I_FIRMWARE, infoParser);
      } catch (err) {
        if (!(err instanceof NoAnswerError)) throw err;
        this.log('info', 'escpos: printer does not report a firmware version');
      }
    }
    this.log('info', 'escpos: printer initialised', { port: this.transport.description, version: this.version });
  }

  private settleOpen(err?: Error): void {
    const waiting = this.opening;
    this.opening = [];
    for (const w of waiting) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  // ---------------------------------------------------------------------------- status

  /** Reads DLE EOT 1..4 and records the result; a silent printer sets health offline. */
  private async refreshStatus(): Promise<DeviceStatus> {
    const replies: number[] = [];
    try {
      for (const n of STATUS_KINDS) replies.push(await this.exchange(statusRequest(n), statusByteParser()));
    } catch (err) {
      if (err instanceof NoAnswerError) {
        this.setStatus({ health: 'offline', code: 'no-answer', detail: err.message });
      }
      throw err;
    }
    const status = summarize(decodeStatus(replies as [number, number, number, number]));
    this.setStatus(status);
    return status;
  }

  private async statusOrOffline(when: string): Promise<DeviceStatus> {
    if (!this.transport.isOpen || !this.initialized) {
      throw new PrinterError('offline', `printer not reachable ${when}: ${this.current.detail}`);
    }
    try {
      return await this.refreshStatus();
    } catch (err) {
      throw new PrinterError('offline', `no status ${when}: ${(err as Error).message}`);
    }
  }

  private setStatus(next: DeviceStatus): void {
    if (sameStatus(next, this.current)) return;
    const level = next.health === 'ok' ? 'info' : 'warn';
    this.log(level, 'escpos: printer status', { ...next, was: this.current.code });
    this.current = next;
    this.emit('status', next);
  }

  // ---------------------------------------------------------------------------- line

  /** One conversation with the printer at a time: a status reading never splits a job, nor the reverse. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Sends `request` and waits for what `parse` accepts. Bytes left from before are stale: dropped. */
  private async exchange<T>(request: Uint8Array, parse: Parser<T>): Promise<T> {
    this.rx = [];
    let done!: (value: T | NoAnswerError) => void;
    const answered = new Promise<T | NoAnswerError>((resolve) => (done = resolve));
    const timer = setTimeout(
      () => done(new NoAnswerError(`no answer to ${Buffer.from(request).toString('hex')} within ${this.statusTimeoutMs} ms`)),
      this.statusTimeoutMs,
    );
    this.onRx = () => {
      const value = parse(this.rx);
      if (value !== undefined) done(value);
    };
    try {
      await this.transport.write(request);
      const outcome = await answered;
      if (outcome instanceof NoAnswerError) throw outcome;
      return outcome;
    } catch (err) {
      if (err instanceof NoAnswerError) throw err;
      const broken = new NoAnswerError(`cannot send to the printer: ${(err as Error).message}`);
      broken.linkBroken = true;
      throw broken;
    } finally {
      clearTimeout(timer);
      this.onRx = undefined;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
