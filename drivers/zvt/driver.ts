/**
 * A payment terminal over ZVT, the kiosk acting as the ECR. Open = connect and register; then each
 * command runs alone: the kiosk sends it, the terminal acknowledges (80 00 00) and takes over, sends
 * intermediate statuses, the status information with the result, the receipt lines, and ends with
 * completion (06 0F) or abort (06 1E); the kiosk acknowledges each of those. Anything that leaves the
 * result in doubt (silence, a dropped link, an approval without completion) is 'unknown', and the link
 * is then reopened and the terminal registered again, since the stream may be out of step.
 */
import { PolledDevice } from '../lifecycle.js';
import type {
  ApprovalRecord,
  AuthorisationResult,
  AuthoriseOptions,
  DeviceIdentity,
  DriverLog,
  EndOfDayResult,
  PaymentTerminal,
  PaymentTerminalEvents,
  ReversalResult,
  TerminalReceipt,
} from '../types.js';
import type { Apdu } from './codec.js';
import { CURRENCY_CNY, DEFAULT_CONFIG, RESULT_ALREADY_REVERSED, resultText } from './constants.js';
import { LinkError, type ApduLink } from './link.js';
import {
  POSITIVE_ACK,
  abortCommand,
  authorisation,
  classify,
  endOfDay,
  passwordBytes,
  registration,
  reversal,
  statusEnquiry,
  type StatusInformation,
} from './messages.js';

export interface ZvtOptions {
  link: ApduLink;
  /** The terminal's six-digit password. Default 000000. */
  password?: string;
  /** ISO 4217 numeric currency code. Default 156 (CNY). */
  currency?: number;
  /** Registration config byte. Default: receipts to the kiosk, intermediate statuses, no input on the terminal. */
  config?: number;
  /** How long the terminal may take to acknowledge a command (80 00 00). Default 5000 ms. */
  ackTimeoutMs?: number;
  /** Longest silence of the terminal while a command runs (card, PIN, host). Default 90 s. */
  idleTimeoutMs?: number;
  /** Longest a command may run in all. Default 300 s. */
  commandTimeoutMs?: number;
  /** After a time-out, how long the abort sent to the terminal waits for its answer. Default 5000 ms. */
  abortWaitMs?: number;
  /** A status enquiry after this much idle time checks the terminal; 0 never. Default 60 s. */
  healthIntervalMs?: number;
  reconnect?: { initialMs: number; maxMs: number };
  log?: DriverLog;
}

type Purpose = 'registration' | 'status' | 'authorisation' | 'reversal' | 'end-of-day';

type End =
  | 'completion'
  | 'abort'
  | 'refused'
  | 'not-sent'
  | 'no-ack'
  | 'timeout'
  | 'link-lost'
  | 'journal-failed';

/** Everything one command brought back. */
interface Exchange {
  purpose: Purpose;
  ref: string;
  accepted: boolean;
  end: End;
  /** The code of 84 xx, or of 06 1E. */
  code?: number;
  status?: StatusInformation;
  completion?: StatusInformation;
  approval?: ApprovalRecord;
  abortedAfterTimeout: boolean;
  receipts: TerminalReceipt[];
  openLines: string[];
  hookError?: string;
  hook?: AuthoriseOptions['approved'];
}

/** The ends after which the byte stream or the terminal's state cannot be trusted. */
const IN_DOUBT: ReadonlySet<End> = new Set(['no-ack', 'timeout', 'link-lost', 'journal-failed']);

const MAX_AMOUNT = 999_999_999_999;

export class ZvtTerminal extends PolledDevice<PaymentTerminalEvents> implements PaymentTerminal {
  readonly kind = 'payment-terminal' as const;

  private readonly line: ApduLink;
  private readonly password: string;
  private readonly currency: number;
  private readonly config: number;
  private readonly ackTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly abortWaitMs: number;
  private readonly healthIntervalMs: number;

  private terminalId: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private running: Exchange | undefined;
  private inbox: Apdu[] = [];
  private waiting: ((a: Apdu | 'closed') => void) | undefined;
  private lineDown = true;
  private resync = false;
  private lastCommandAt = Date.now();

  constructor(opts: ZvtOptions) {
    super({
      label: 'zvt',
      link: opts.link,
      reconnect: opts.reconnect,
      log: opts.log,
      unavailableMessage: 'zvt: payment terminal unavailable, retrying',
      recoveredMessage: () => 'zvt: payment terminal back',
    });
    this.line = opts.link;
    this.password = opts.password ?? '000000';
    passwordBytes(this.password);
    this.currency = opts.currency ?? CURRENCY_CNY;
    this.config = opts.config ?? DEFAULT_CONFIG;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 90_000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 300_000;
    this.abortWaitMs = opts.abortWaitMs ?? 5000;
    this.healthIntervalMs = opts.healthIntervalMs ?? 60_000;
    this.line.on('apdu', (apdu) => this.onApdu(apdu));
    this.line.on('close', () => {
      this.lineDown = true;
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.('closed');
      if (!this.closed) this.wakeLoop();
    });
  }

  identity(): DeviceIdentity {
    return { kind: 'payment-terminal', model: 'zvt', ...(this.terminalId ? { serial: this.terminalId } : {}) };
  }

  // ---------------------------------------------------------------------------- commands

  authorise(amount: number, ref: string, options: AuthoriseOptions = {}): Promise<AuthorisationResult> {
    if (!Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_AMOUNT) throw new RangeError(`not an amount in minor units: ${amount}`);
    return this.exclusive(async () => {
      if (!this.usable()) return { outcome: 'declined', code: 'not-ready', detail: `payment terminal not ready: ${this.status().detail}`, receipts: [] };
      const ex = await this.exchange(authorisation(amount, this.currency), 'authorisation', ref, options.approved);
      const result = authorisationResult(ex);
      this.log(result.outcome === 'unknown' ? 'warn' : 'info', `zvt: authorisation ${result.outcome}`, {
        ref,
        amount,
        code: result.code,
        ...(result.resultCode !== undefined ? { resultCode: result.resultCode } : {}),
        ...(result.approval ? { receiptNo: result.approval.receiptNo } : {}),
      });
      return result;
    });
  }

  reverse(receiptNo: number): Promise<ReversalResult> {
    if (!Number.isSafeInteger(receiptNo) || receiptNo < 0 || receiptNo > 9999) throw new RangeError(`not a receipt number: ${receiptNo}`);
    return this.exclusive(async () => {
      if (!this.usable()) return { outcome: 'unknown', code: 'not-ready', detail: 'payment terminal not ready', receipts: [] };
      const ex = await this.exchange(reversal(this.password, receiptNo), 'reversal', `receipt ${receiptNo}`);
      const result = reversalResult(ex);
      this.log(result.outcome === 'reversed' ? 'info' : 'warn', `zvt: reversal ${result.outcome}`, { receiptNo, code: result.code });
      return result;
    });
  }

  endOfDay(): Promise<EndOfDayResult> {
    return this.exclusive(async () => {
      if (!this.usable()) return { outcome: 'unknown', code: 'not-ready', detail: 'payment terminal not ready', receipts: [] };
      const ex = await this.exchange(endOfDay(this.password), 'end-of-day', 'end of day');
      const result = endOfDayResult(ex);
      this.log(result.outcome === 'done' ? 'info' : 'warn', `zvt: end of day ${result.outcome}`, { code: result.code });
      return result;
    });
  }

  async abort(): Promise<void> {
    const ex = this.running;
    if (!ex || ex.purpose !== 'authorisation') return;
    this.log('info', 'zvt: abort requested', { ref: ex.ref });
    await this.line.send(abortCommand()).catch((err: Error) => this.log('warn', 'zvt: abort not sent', { error: err.message }));
  }

  /** Registered, and no command since has left the link in doubt. */
  private usable(): boolean {
    return this.ready && !this.resync && !this.lineDown;
  }

  // ---------------------------------------------------------------------------- life cycle

  protected async startUp(): Promise<void> {
    this.resync = false;
    await this.line.open();
    this.lineDown = false;
    this.inbox = [];
    const ex = await this.exclusive(() => this.exchange(registration(this.password, this.config, this.currency), 'registration', 'registration'));
    if (ex.end === 'refused') {
      this.setStatus({ health: 'fault', code: 'registration-refused', detail: `the terminal refused the registration: ${resultText(ex.code ?? 0xff)}` });
      throw new Error(`registration refused (${resultText(ex.code ?? 0xff)})`);
    }
    if (!ex.accepted) throw new Error(`no answer to the registration (${ex.end})`);
    if (ex.end !== 'completion') this.log('warn', 'zvt: registration acknowledged without completion');
    this.terminalId = ex.completion?.terminalId ?? this.terminalId;
    this.lastCommandAt = Date.now();
    this.setStatus({ health: 'ok', code: 'ok', detail: `registered on ${this.line.description}` });
  }

  protected async step(): Promise<void> {
    if (!this.ready) {
      await this.start();
      return;
    }
    if (this.lineDown) throw new Error('link to the terminal lost');
    if (this.resync) throw new Error('reconnecting after a command left the link in doubt');
    const idle = Date.now() - this.lastCommandAt;
    if (this.healthIntervalMs > 0 && idle >= this.healthIntervalMs) {
      const ex = await this.exclusive(() => this.exchange(statusEnquiry(this.password), 'status', 'status enquiry'));
      if (!ex.accepted) throw new Error(`the terminal did not answer a status enquiry (${ex.end})`);
      return;
    }
    await this.sleep(this.healthIntervalMs > 0 ? this.healthIntervalMs - idle : 1000);
  }

  protected async failed(err: unknown): Promise<void> {
    await this.line.close().catch(() => undefined);
    // A refused registration keeps its fault status: retrying does not make the password right.
    if (this.status().health !== 'fault') this.setStatus({ health: 'offline', code: 'no-answer', detail: (err as Error).message });
  }

  protected async release(): Promise<void> {
    await this.line.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------------------- one exchange

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async exchange(request: Buffer, purpose: Purpose, ref: string, hook?: AuthoriseOptions['approved']): Promise<Exchange> {
    const ex: Exchange = { purpose, ref, accepted: false, end: 'no-ack', abortedAfterTimeout: false, receipts: [], openLines: [], ...(hook ? { hook } : {}) };
    this.running = ex;
    this.inbox = [];
    this.lastCommandAt = Date.now();
    try {
      await this.converse(ex, request);
    } finally {
      if (ex.openLines.length > 0) ex.receipts.push({ type: 'unspecified', lines: ex.openLines });
      ex.openLines = [];
      this.running = undefined;
      this.lastCommandAt = Date.now();
      if (IN_DOUBT.has(ex.end) && purpose !== 'status') {
        this.resync = true;
        this.wakeLoop();
      }
    }
    return ex;
  }

  private async converse(ex: Exchange, request: Buffer): Promise<void> {
    try {
      await this.line.send(request);
    } catch (err) {
      ex.end = err instanceof LinkError && !err.written ? 'not-sent' : 'link-lost';
      return;
    }
    const first = await this.next(this.ackTimeoutMs);
    if (first === 'timeout') return void (ex.end = 'no-ack');
    if (first === 'closed') return void (ex.end = 'link-lost');
    const reply = classify(first);
    if (reply.kind === 'nack') {
      ex.end = 'refused';
      ex.code = reply.code;
      return;
    }
    ex.accepted = true;
    if (reply.kind !== 'ack' && (await this.handle(ex, first))) return;

    // Registration and the status enquiry end quickly or not at all: no abort for them.
    const quick = ex.purpose === 'registration' || ex.purpose === 'status';
    const deadline = Date.now() + this.commandTimeoutMs;
    for (;;) {
      const wait = Math.min(quick ? this.ackTimeoutMs : this.idleTimeoutMs, deadline - Date.now());
      const next = wait > 0 ? await this.next(wait) : 'timeout';
      if (next === 'closed') return void (ex.end = 'link-lost');
      if (next === 'timeout') break;
      if (await this.handle(ex, next)) return;
    }
    ex.end = 'timeout';
    if (quick) return;
    this.log('warn', 'zvt: the terminal went silent, sending abort', { purpose: ex.purpose, ref: ex.ref });
    try {
      await this.line.send(abortCommand());
    } catch {
      return;
    }
    const until = Date.now() + this.abortWaitMs;
    for (;;) {
      const wait = until - Date.now();
      const next = wait > 0 ? await this.next(wait) : 'timeout';
      if (next === 'timeout') return;
      if (next === 'closed') return void (ex.end = 'link-lost');
      if (await this.handle(ex, next)) {
        ex.abortedAfterTimeout = (ex.end as End) === 'abort';
        return;
      }
    }
  }

  /** Acts on one message of the terminal during a command; true when the command has ended. */
  private async handle(ex: Exchange, apdu: Apdu): Promise<boolean> {
    const m = classify(apdu);
    switch (m.kind) {
      case 'ack':
      case 'nack':
        // The answer to an abort we sent; the command itself ends with 06 1E.
        return false;
      case 'intermediate':
        this.tell(() => this.emit('progress', { stage: m.stage, code: m.code, text: m.text }));
        break;
      case 'status':
        ex.status = m.info;
        if (ex.purpose === 'authorisation' && m.info.resultCode === 0 && m.info.receiptNo !== undefined) {
          ex.approval = {
            ref: ex.ref,
            amount: m.info.amount ?? 0,
            receiptNo: m.info.receiptNo,
            ...(m.info.trace !== undefined ? { trace: m.info.trace } : {}),
            ...(m.info.terminalId !== undefined ? { terminalId: m.info.terminalId } : {}),
            ...(m.info.cardName ? { cardName: m.info.cardName } : {}),
          };
          if (ex.hook) {
            try {
              await ex.hook(ex.approval);
            } catch (err) {
              // Not acknowledged: the terminal is left to time out; the caller reverses.
              ex.hookError = (err as Error).message;
              ex.end = 'journal-failed';
              return true;
            }
          }
        }
        break;
      case 'print-line':
        if (m.line.feed > 0) ex.openLines.push(...Array<string>(m.line.feed).fill(''));
        else ex.openLines.push(m.line.text);
        if (m.line.last) {
          ex.receipts.push({ type: 'unspecified', lines: ex.openLines });
          ex.openLines = [];
        }
        break;
      case 'text-block':
        ex.receipts.push({ type: m.block.type, lines: m.block.lines });
        break;
      case 'completion':
        ex.completion = m.info;
        ex.end = 'completion';
        await this.acknowledge();
        return true;
      case 'abort':
        if (m.code !== undefined) ex.code = m.code;
        ex.end = 'abort';
        await this.acknowledge();
        return true;
      case 'other':
        this.log('info', 'zvt: message not used, acknowledged', { control: `${hex(m.cls)} ${hex(m.instr)}` });
        break;
    }
    await this.acknowledge();
    return false;
  }

  private async acknowledge(): Promise<void> {
    await this.line.send(POSITIVE_ACK).catch(() => undefined);
  }

  private next(timeoutMs: number): Promise<Apdu | 'timeout' | 'closed'> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    if (this.lineDown) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve('timeout');
      }, timeoutMs);
      this.waiting = (a) => {
        clearTimeout(timer);
        resolve(a);
      };
    });
  }

  private onApdu(apdu: Apdu): void {
    if (!this.running) {
      // Outside a command the terminal may still report (time-controlled events); it wants its ACK.
      if (apdu.cls === 0x04 || apdu.cls === 0x06) {
        this.log('info', 'zvt: unsolicited message acknowledged', { control: `${hex(apdu.cls)} ${hex(apdu.instr)}` });
        void this.acknowledge();
      }
      return;
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting(apdu);
    else this.inbox.push(apdu);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0').toUpperCase();
}

function resultOf(ex: Exchange): number | undefined {
  return ex.end === 'abort' || ex.end === 'refused' ? (ex.code ?? ex.status?.resultCode) : ex.status?.resultCode;
}

function withCode(code: number | undefined): { resultCode?: number } {
  return code === undefined ? {} : { resultCode: code };
}

const DOUBT_DETAIL: Record<string, string> = {
  'no-ack': 'the terminal did not acknowledge the command',
  timeout: 'the terminal went silent',
  'link-lost': 'the link to the terminal was lost',
};

function authorisationResult(ex: Exchange): AuthorisationResult {
  const code = resultOf(ex);
  const base = { receipts: ex.receipts, ...withCode(code), ...(ex.approval ? { approval: ex.approval } : {}) };
  const unknown = (c: string, detail: string): AuthorisationResult => ({ outcome: 'unknown', code: c, detail, ...base });
  const declined = (c: string, detail: string): AuthorisationResult => ({ outcome: 'declined', code: c, detail, ...base });
  switch (ex.end) {
    case 'not-sent':
      return declined('not-sent', 'the command could not be sent');
    case 'refused':
      return declined('refused', `the terminal refused the command: ${resultText(code ?? 0xff)}`);
    case 'abort':
      if (ex.approval) return unknown('aborted-after-approval', 'the terminal reported an approval, then aborted');
      if (ex.status?.resultCode) return declined('declined', resultText(ex.status.resultCode));
      return declined(ex.abortedAfterTimeout ? 'aborted-after-timeout' : 'aborted', `aborted: ${resultText(code ?? 0x6c)}`);
    case 'completion':
      if (ex.approval) return { outcome: 'approved', code: 'approved', detail: `approved, receipt ${ex.approval.receiptNo}`, ...base };
      if (code !== undefined && code !== 0) return declined('declined', resultText(code));
      return unknown('no-result', 'completed without a usable result');
    case 'journal-failed':
      return unknown('journal-failed', `the approval could not be recorded: ${ex.hookError ?? ''}`);
    default:
      return unknown(ex.end, DOUBT_DETAIL[ex.end] ?? ex.end);
  }
}

function reversalResult(ex: Exchange): ReversalResult {
  const code = resultOf(ex);
  const base = { receipts: ex.receipts, ...withCode(code) };
  if (ex.end === 'completion' || ex.end === 'abort' || ex.end === 'refused') {
    if (code === RESULT_ALREADY_REVERSED) return { outcome: 'reversed', code: 'already-reversed', detail: 'already reversed', ...base };
    if (ex.end === 'completion' && code === 0) return { outcome: 'reversed', code: 'reversed', detail: 'reversed', ...base };
    if (code !== undefined) return { outcome: 'refused', code: ex.end === 'refused' ? 'refused' : 'not-reversed', detail: resultText(code), ...base };
    return { outcome: 'unknown', code: 'no-result', detail: 'ended without a result', ...base };
  }
  return { outcome: 'unknown', code: ex.end, detail: DOUBT_DETAIL[ex.end] ?? ex.end, ...base };
}

function endOfDayResult(ex: Exchange): EndOfDayResult {
  const code = resultOf(ex);
  const base = { receipts: ex.receipts, ...withCode(code) };
  if (ex.end === 'completion' && (code === undefined || code === 0)) {
    return { outcome: 'done', code: 'done', detail: 'end of day done', ...base, ...(ex.status?.amount !== undefined ? { total: ex.status.amount } : {}) };
  }
  if (ex.end === 'completion' || ex.end === 'abort' || ex.end === 'refused') {
    return { outcome: 'refused', code: 'refused', detail: resultText(code ?? 0xff), ...base };
  }
  return { outcome: 'unknown', code: ex.end, detail: DOUBT_DETAIL[ex.end] ?? ex.end, ...base };
}
