import { EventEmitter } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transport } from '../../../drivers/transport/types.js';
import { EscposDecoder, type EscposEvent } from './decoder.js';
import { CUT_LINE, ReceiptLayout } from './render.js';

export interface EscposEmulatorOptions {
  transport: Transport;
  /** Where receipt-<n>.txt files go; created when missing. Numbering continues after files already there. */
  outDir: string;
  /** Normal-font characters per line (48 for 80 mm paper, 32 for 58 mm). */
  columns?: number;
  /** Chinese (GB18030) mode at power-up, as on Chinese models. Default true. */
  chineseByDefault?: boolean;
}

export interface PrintedReceipt {
  number: number;
  file: string;
  text: string;
  /** Lines in the file. */
  lines: number;
  /** False when part of the job arrived while the printer could not print. */
  complete: boolean;
}

export interface LostJob {
  /** Why nothing came out, e.g. 'paper out'. */
  reason: string;
  /** The lines that would have been printed. */
  text: string;
}

export type EscposEmulatorEvents = {
  /** One human-readable line per thing the printer does. */
  report: [string];
  job: [PrintedReceipt];
  lost: [LostJob];
};

/** DLE EOT replies always have bits 1 and 4 set and bits 0 and 7 clear. */
const STATUS_BASE = 0x12;
const OFFLINE = 0x08;
const COVER_OPEN = 0x04;
const PAPER_END_STOP = 0x20;
const ERROR = 0x40;
const CUTTER_ERROR = 0x08;
const AUTO_RECOVERABLE_ERROR = 0x40;
const ROLL_NEAR_END = 0x0c;
const ROLL_END = 0x60;

/** Events that put marks on paper; the rest only change modes. */
const PRINTING: ReadonlySet<EscposEvent['kind']> = new Set(['text', 'line-feed', 'feed', 'qr-print', 'barcode', 'cut']);

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;

interface Job {
  printed: string[];
  lost: string[];
  /** Why the first lost line was lost. */
  reason: string | undefined;
}

const newJob = (): Job => ({ printed: [], lost: [], reason: undefined });
const lostLines = (job: Job): number => job.lost.filter((line) => line !== CUT_LINE).length;

/**
 * A thermal receipt printer on a byte line: it answers real-time status requests at once and turns
 * every job, at its cut, into receipt-<n>.txt. While paper is out, the cover is open or an error
 * stands, print data is lost, as on a real printer that keeps receiving but cannot print.
 */
export class EscposEmulator extends EventEmitter<EscposEmulatorEvents> {
  readonly outDir: string;
  private readonly transport: Transport;
  private readonly columns: number;
  private readonly chineseByDefault: boolean;
  private decoder: EscposDecoder;
  private layout: ReceiptLayout;
  private job = newJob();
  private nextNumber = 1;
  private printedCount = 0;
  /** Lines of paper left on a roll that was told to run out (paper-out-after); undefined: plenty. */
  private paperLeft: number | undefined;
  private lostCount = 0;
  private nearEnd = false;
  private paperOut = false;
  private coverOpen = false;
  private cutterError = false;
  private headHot = false;
  private muted = false;
  private ignoredWhileSilent = 0;
  private writing: Promise<void> = Promise.resolve();
  private saving: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onClose = (): void => this.report('serial line closed');
  private readonly onError = (err: Error): void => this.report(`serial line error: ${err.message}`);

  constructor(options: EscposEmulatorOptions) {
    super();
    this.transport = options.transport;
    this.outDir = options.outDir;
    this.columns = options.columns ?? 48;
    this.chineseByDefault = options.chineseByDefault ?? true;
    this.decoder = new EscposDecoder({ chineseByDefault: this.chineseByDefault });
    this.layout = new ReceiptLayout({ columns: this.columns });
  }

  async start(): Promise<void> {
    await mkdir(this.outDir, { recursive: true });
    const numbers = (await readdir(this.outDir))
      .map((name) => /^receipt-(\d+)\.txt$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    this.nextNumber = Math.max(0, ...numbers) + 1;
    if (!this.transport.isOpen) await this.transport.open();
    this.transport.on('data', this.onData);
    this.transport.on('close', this.onClose);
    this.transport.on('error', this.onError);
    this.report(`printer ready (${this.columns} columns), next receipt ${this.nextNumber}`);
  }

  async stop(): Promise<void> {
    this.transport.off('data', this.onData);
    this.transport.off('close', this.onClose);
    this.transport.off('error', this.onError);
    await this.writing;
    await this.saving;
    await this.transport.close();
  }

  /** Resolves once every receipt file so far is on disk. */
  settled(): Promise<void> {
    return this.saving;
  }

  // ------------------------------------------------------------------ status

  get offline(): boolean {
    return this.paperOut || this.coverOpen || this.error;
  }

  private get error(): boolean {
    return this.cutterError || this.headHot;
  }

  /** The DLE EOT n reply byte in the current state; undefined for an n the printer ignores. */
  statusByte(n: number): number | undefined {
    switch (n) {
      case 1:
        return STATUS_BASE | (this.offline ? OFFLINE : 0);
      case 2:
        return STATUS_BASE | (this.coverOpen ? COVER_OPEN : 0) | (this.paperOut ? PAPER_END_STOP : 0) | (this.error ? ERROR : 0);
      case 3:
        return STATUS_BASE | (this.cutterError ? CUTTER_ERROR : 0) | (this.headHot ? AUTO_RECOVERABLE_ERROR : 0);
      case 4:
        // An empty roll also trips the near-end sensor, which watches the roll's diameter.
        return STATUS_BASE | (this.nearEnd || this.paperOut ? ROLL_NEAR_END : 0) | (this.paperOut ? ROLL_END : 0);
      default:
        return undefined;
    }
  }

  describe(): string {
    const bytes = [1, 2, 3, 4].map((n) => `${n}→${hex(this.statusByte(n)!)}`).join(' ');
    const waiting = this.job.printed.length + this.job.lost.length;
    const parts = [
      this.muted ? 'silent' : this.offline ? `offline (${this.offlineReason()})` : 'online',
      this.paperOut ? 'paper out' : this.nearEnd ? 'paper near end' : 'paper ok',
      this.coverOpen ? 'cover open' : 'cover closed',
      `${this.printedCount} receipts printed, ${this.lostCount} lost`,
      `DLE EOT ${bytes}`,
    ];
    if (waiting > 0) parts.push(`${waiting} lines waiting for a cut`);
    if (this.decoder.midCommand) parts.push('in the middle of a command (power-cycle drops it)');
    if (this.ignoredWhileSilent > 0) parts.push(`${this.ignoredWhileSilent} bytes ignored while silent`);
    return parts.join(', ');
  }

  private offlineReason(): string {
    const reasons: string[] = [];
    if (this.coverOpen) reasons.push('cover open');
    if (this.paperOut) reasons.push('paper out');
    if (this.cutterError) reasons.push('cutter error');
    if (this.headHot) reasons.push('head overheated');
    return reasons.join(', ');
  }

  // ------------------------------------------------------------------ technician actions

  paperNearEnd(): void {
    this.nearEnd = true;
    this.report('paper near end (DLE EOT 4 reports 0x0C)');
  }

  /** The roll runs out after `lines` more printed lines: the way paper really ends, mid-receipt. */
  paperOutAfter(lines: number): void {
    this.paperLeft = lines;
    this.report(`paper runs out after ${lines} more line(s)`);
  }

  paperOutNow(): void {
    this.paperOut = true;
    this.report('paper out: printing stops, print data is lost until clear');
  }

  openCover(): void {
    this.coverOpen = true;
    this.report('cover open: printing stops, print data is lost until clear');
  }

  /** The auto-cutter jammed: recoverable by DLE ENQ 1/2, clear or a power cycle. */
  jamCutter(): void {
    this.cutterError = true;
    this.report('auto-cutter error: offline until DLE ENQ or clear');
  }

  /** The head overheated: an automatically recoverable error, here until clear. */
  overheat(): void {
    this.headHot = true;
    this.report('head overheated: offline until clear');
  }

  /** Fresh roll, cover shut, errors gone, answering again. */
  clear(): void {
    this.nearEnd = false;
    this.paperOut = false;
    this.paperLeft = undefined;
    this.coverOpen = false;
    this.cutterError = false;
    this.headHot = false;
    this.muted = false;
    this.report('cleared: online, paper ok');
  }

  /** No answers and no printing, as an unplugged or dead printer, until clear or a power cycle. */
  silent(): void {
    this.muted = true;
    this.report('silent: no answers and no printing until clear');
  }

  /** Power cut and back: half-received commands, modes and the uncut job are gone; errors reset. */
  powerCycle(): void {
    const uncut = this.job.printed.length;
    this.decoder.reset();
    this.layout = new ReceiptLayout({ columns: this.columns });
    this.job = newJob();
    this.cutterError = false;
    this.headHot = false;
    this.muted = false;
    const left = uncut > 0 ? `, ${uncut} printed lines left on the roll without a cut` : '';
    this.report(`power cycle${left}; ${this.offline ? `offline (${this.offlineReason()})` : 'online'}`);
  }

  // ------------------------------------------------------------------ the line

  private receive(chunk: Buffer): void {
    if (this.muted) {
      if (this.ignoredWhileSilent === 0) this.report('silent: ignoring what the host sends');
      this.ignoredWhileSilent += chunk.length;
      return;
    }
    for (const event of this.decoder.push(chunk)) this.handle(event);
  }

  private handle(event: EscposEvent): void {
    switch (event.kind) {
      case 'status-request':
        this.answerStatus(event.n);
        return;
      case 'recover':
        this.recover(event.n);
        return;
      case 'auto-status':
        this.report(`host set automatic status back to ${hex(event.mask)}; not emulated, answering DLE EOT only`);
        return;
      case 'notice':
        this.report(`decoder: ${event.message}`);
        return;
    }
    const offline = this.offline && PRINTING.has(event.kind);
    if (offline) this.job.reason ??= this.offlineReason();
    // While offline, modes still change and lines still form, but what they print is lost.
    const cut = this.layout.apply(event);
    const lines = this.layout.takeLines();
    if (offline) {
      this.job.lost.push(...lines);
    } else if (this.paperLeft !== undefined && lines.length >= this.paperLeft) {
      const fits = this.paperLeft;
      this.job.printed.push(...lines.slice(0, fits));
      this.paperLeft = undefined;
      this.paperOutNow();
      this.job.reason ??= this.offlineReason();
      this.job.lost.push(...lines.slice(fits));
    } else {
      if (this.paperLeft !== undefined) this.paperLeft -= lines.length;
      this.job.printed.push(...lines);
    }
    if (cut) this.endJob();
  }

  private answerStatus(n: number): void {
    const status = this.statusByte(n);
    if (status === undefined) {
      this.report(`status request n=${n}: not a DLE EOT function, no answer`);
      return;
    }
    this.report(`status request n=${n} → ${hex(status)}`);
    this.send(Uint8Array.of(status));
  }

  private recover(n: number): void {
    if (n !== 1 && n !== 2) {
      this.report(`DLE ENQ ${n}: not a recovery function, ignored`);
      return;
    }
    if (!this.cutterError) {
      this.report(`DLE ENQ ${n}: no recoverable error, ignored`);
      return;
    }
    this.cutterError = false;
    if (n === 2) {
      this.decoder.reset();
      this.job = newJob();
      this.report('DLE ENQ 2: cutter error cleared, buffers cleared');
      return;
    }
    this.report('DLE ENQ 1: cutter error cleared, printing resumes');
  }

  private endJob(): void {
    const job = this.job;
    this.job = newJob();
    const printed = job.printed.filter((line) => line.length > 0).length;
    if (printed === 0 && job.lost.length > 0) {
      this.lostCount++;
      this.report(`receipt lost: ${job.reason} (${lostLines(job)} lines not printed)`);
      this.emit('lost', { reason: job.reason!, text: `${job.lost.join('\n')}\n` });
      return;
    }
    const complete = job.lost.length === 0;
    const lines = complete ? job.printed : this.withLossMarked(job);
    const number = this.nextNumber++;
    this.printedCount++;
    const file = join(this.outDir, `receipt-${number}.txt`);
    const text = `${lines.join('\n')}\n`;
    const how = complete ? 'printed' : `partly printed (${job.reason})`;
    this.saving = this.saving
      .then(() => writeFile(file, text, 'utf8'))
      .then(
        () => {
          this.report(`receipt ${number} ${how} → ${file} (${lines.length} lines)`);
          this.emit('job', { number, file, text, lines: lines.length, complete });
        },
        (err: Error) => this.report(`receipt ${number}: cannot write ${file}: ${err.message}`),
      );
  }

  /** The paper shows where the data went missing; the cut is there only if it came while online. */
  private withLossMarked(job: Job): string[] {
    const marker = `----- ${job.reason}: ${lostLines(job)} lines not printed -----`;
    const cutOnPaper = job.printed.at(-1) === CUT_LINE;
    return cutOnPaper ? [...job.printed.slice(0, -1), marker, CUT_LINE] : [...job.printed, marker];
  }

  private send(bytes: Uint8Array): void {
    this.writing = this.writing
      .then(() => this.transport.write(bytes))
      .catch((err: Error) => this.report(`write failed: ${err.message}`));
  }

  private report(line: string): void {
    this.emit('report', line);
  }
}
