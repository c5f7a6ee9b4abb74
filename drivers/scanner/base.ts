/**
 * What the two scanner drivers share once the bytes are split into codes: the gate (a code is
 * reported only while enabled; one shown while disabled is dropped and zeroed), the checks that
 * turn a misread into a 'bad-scan' without its content, and the time-out that ends a code whose
 * terminator never came.
 */
import { PolledDevice, type Backoff } from '../lifecycle.js';
import type { DeviceIdentity, DriverLog } from '../types.js';
import { DEFAULT_MAX_LENGTH, checkCode } from './codec.js';
import type { BadScanReason, CodeScanner, CodeScannerCapabilities, CodeScannerEvents } from './contract.js';
import { sealCode } from './sealed-code.js';

/** A code or what stood for one, from either splitter. */
export type Entry = { kind: 'entry'; bytes: Buffer } | { kind: 'overflow'; length: number };

export interface ScannerBaseOptions {
  /** Model name for identity(), e.g. 'hid-keyboard'. */
  model: string;
  /** Longest code accepted; longer ones are a 'too-long' bad scan. Default 64. */
  maxLength?: number;
  /** A code whose terminator does not come within this quiet time is a 'partial' bad scan. Default 300 ms. */
  partialTimeoutMs?: number;
  /** How often the loop looks at an open device. Default 1000 ms. */
  checkIntervalMs?: number;
  reconnect?: Backoff;
  log?: DriverLog;
}

export abstract class ScannerBase extends PolledDevice<CodeScannerEvents> implements CodeScanner {
  readonly kind = 'code-scanner' as const;
  abstract readonly capabilities: CodeScannerCapabilities;
  protected readonly maxLength: number;
  protected readonly checkIntervalMs: number;
  protected enabled = false;
  private readonly model: string;
  private readonly partialTimeoutMs: number;
  private partialTimer: NodeJS.Timeout | undefined;

  constructor(opts: ScannerBaseOptions & { label: string; link: { readonly description: string } }) {
    super({
      label: opts.label,
      link: opts.link,
      reconnect: opts.reconnect,
      log: opts.log,
      unavailableMessage: `${opts.label}: scanner unavailable, retrying`,
      recoveredMessage: () => `${opts.label}: scanner back`,
    });
    this.model = opts.model;
    this.maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
    this.partialTimeoutMs = opts.partialTimeoutMs ?? 300;
    this.checkIntervalMs = opts.checkIntervalMs ?? 1000;
  }

  abstract enable(): Promise<void>;
  abstract disable(): Promise<void>;

  identity(): DeviceIdentity {
    return { kind: 'code-scanner', model: this.model };
  }

  /** Arms or clears the partial-read time-out after bytes came; `flush` ends the code as it stands. */
  protected watchPartial(pending: number, flush: () => Entry | undefined): void {
    this.clearPartial();
    if (pending === 0) return;
    this.partialTimer = setTimeout(() => {
      this.partialTimer = undefined;
      const entry = flush();
      if (!entry) return;
      if (entry.kind === 'entry') {
        const length = entry.bytes.length;
        entry.bytes.fill(0);
        this.badScan('partial', `${length} characters and no end of code within ${this.partialTimeoutMs} ms`);
      } else {
        this.badScan('too-long', `${entry.length} characters and no end of code`);
      }
      this.afterEntry();
    }, this.partialTimeoutMs);
  }

  /** After each code, bad scan or cut-short read: a scanner that stops after a read is started again here. */
  protected afterEntry(): void {}

  protected clearPartial(): void {
    if (this.partialTimer) clearTimeout(this.partialTimer);
    this.partialTimer = undefined;
  }

  /** One complete code: checked, sealed and handed out while enabled, else dropped. Zeroes `entry`. */
  protected onEntry(entry: Entry): void {
    if (entry.kind === 'overflow') {
      this.badScan('too-long', `${entry.length} characters before the end of the code, at most ${this.maxLength}`);
      return;
    }
    const bytes = entry.bytes;
    if (!this.enabled) {
      bytes.fill(0);
      this.log('info', `${this.label}: code while not enabled, dropped`, { length: bytes.length });
      return;
    }
    const problem = checkCode(bytes, this.maxLength);
    if (problem) {
      bytes.fill(0);
      this.badScan(problem.reason, problem.detail);
      return;
    }
    const read = sealCode(bytes);
    this.log('info', `${this.label}: code read`, { masked: read.masked, length: read.length });
    let taken = false;
    this.tell(() => {
      taken = this.emit('code', read);
    });
    if (!taken) read.sensitive.wipe();
  }

  protected badScan(reason: BadScanReason, detail: string): void {
    if (!this.enabled) return;
    this.log('info', `${this.label}: bad scan`, { reason, detail });
    this.tell(() => this.emit('bad-scan', { reason, detail }));
  }
}
