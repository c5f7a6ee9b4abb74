/**
 * An emulated ZVT payment terminal. It answers registration, status enquiry, authorisation, reversal,
 * end of day and abort as a terminal does (acknowledge, intermediate statuses, status information,
 * receipt lines or text blocks when the kiosk registered to print them, completion or abort), and
 * keeps a record of what it approved and reversed. The operator picks the next outcome.
 */
import { EventEmitter } from 'node:events';
import type { TerminalLine } from './lines.js';
import { apdu, bcd, commandFields, fromBcd, llvar, tlv, type Message } from './wire.js';

export const OUTCOMES = ['approve', 'decline', 'timeout', 'silent-after-pin', 'garbage', 'drop-after-approval'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface ZvtEmulatorOptions {
  line: TerminalLine;
  /** Six digits. Default 000000. */
  password?: string;
  /** Eight digits. Default 52523535. */
  terminalId?: string;
  /** Pause before each message the terminal sends (the card, the PIN, the host). Default 20 ms. */
  stepMs?: number;
  /** How long the terminal waits for the kiosk's acknowledgement. Default 5000 ms. */
  ackTimeoutMs?: number;
}

interface Booking {
  receipt: number;
  trace: number;
  amount: number;
  reversed: 'no' | 'by-kiosk' | 'auto';
}

const ACK = apdu(0x80, 0x00);
const nack = (code: number): Buffer => apdu(0x84, code);
const RESULT = { ok: 0x00, declined: 0x05, aborted: 0x6c, notRegistered: 0x6b, notPossible: 0x83, alreadyReversed: 0xb4, reversalImpossible: 0xb5 };
/** Registration config bits the terminal honours. */
const PRINTS_PAYMENT = 0x02;
const PRINTS_ADMIN = 0x04;
const TEXT_BLOCKS = 0x80;

/** The kiosk gave up on this exchange or the line went; the script stops quietly. */
class Gone extends Error {}

export class ZvtEmulator extends EventEmitter<{ report: [string] }> {
  private readonly line: TerminalLine;
  private readonly password: string;
  private readonly terminalId: string;
  private readonly stepMs: number;
  private readonly ackTimeoutMs: number;

  private next: Outcome = 'approve';
  private registered = false;
  private config = 0;
  private currency = 156;
  private readonly bookings: Booking[] = [];
  private nextReceipt = 1;
  private nextTrace = 1;
  /** Bookings before this index were closed by an end of day. */
  private dayStart = 0;
  private queue: Promise<void> = Promise.resolve();
  /**
   * Lines printed on every receipt after the amount, as by a terminal that prints more than it
   * should (a full card number, say): for the tests of the kiosk's masking.
   */
  receiptExtra: string[] = [];
  private ackWaiter: ((ok: boolean) => void) | undefined;
  /** The authorisation that can still be aborted (before the host was asked). */
  private abortable: { requested: boolean } | undefined;
  /** An exchange the terminal abandoned (time-out fault): aborts for it get no answer. */
  private hung = false;

  constructor(opts: ZvtEmulatorOptions) {
    super();
    this.line = opts.line;
    this.password = opts.password ?? '000000';
    this.terminalId = opts.terminalId ?? '52523535';
    this.stepMs = opts.stepMs ?? 20;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
    this.line.on('message', (m) => this.onMessage(m));
    this.line.on('note', (n) => this.report(n));
    this.line.on('connected', () => this.report(`kiosk connected (${this.line.description})`));
    this.line.on('disconnected', () => {
      this.report('kiosk disconnected');
      this.ackWaiter?.(false);
    });
  }

  async start(): Promise<void> {
    await this.line.start();
    this.report(`terminal ${this.terminalId} ready on ${this.line.description}`);
  }

  async stop(): Promise<void> {
    this.ackWaiter?.(false);
    await this.line.stop();
  }

  /** The outcome of the next authorisation ('timeout' also applies to a reversal or end of day). */
  choose(outcome: Outcome): void {
    this.next = outcome;
    this.report(`next outcome: ${outcome}`);
  }

  describe(): string {
    const list = this.bookings.map((b) => `#${b.receipt} ${b.amount} fen${b.reversed === 'no' ? '' : ` reversed${b.reversed === 'auto' ? ' (auto)' : ''}`}`);
    const approved = this.bookings.reduce((n, b) => n + b.amount, 0);
    const reversed = this.bookings.filter((b) => b.reversed !== 'no').reduce((n, b) => n + b.amount, 0);
    return [
      `next outcome ${this.next}`,
      `registered ${this.registered ? `yes (config 0x${this.config.toString(16).padStart(2, '0')})` : 'no'}`,
      `approved ${approved} fen, reversed ${reversed} fen, net ${approved - reversed} fen`,
      `bookings: ${list.length > 0 ? list.join(', ') : 'none'}`,
    ].join('; ');
  }

  private report(line: string): void {
    this.emit('report', line);
  }

  private onMessage(m: Message): void {
    if (m.cls === 0x80 && m.instr === 0x00) {
      const waiter = this.ackWaiter;
      this.ackWaiter = undefined;
      waiter?.(true);
      return;
    }
    if (m.cls === 0x06 && m.instr === 0xb0) {
      this.onAbort();
      return;
    }
    this.queue = this.queue.then(() =>
      this.command(m).catch((err: Error) => {
        if (!(err instanceof Gone)) this.report(`error: ${err.message}`);
      }),
    );
  }

  private onAbort(): void {
    if (this.abortable) {
      this.abortable.requested = true;
      this.report('abort requested by the kiosk');
      void this.line.send(ACK);
    } else if (this.hung) {
      this.report('abort ignored: not answering');
    } else {
      void this.line.send(ACK);
    }
  }

  private async command(m: Message): Promise<void> {
    const ctrl = (m.cls << 8) | m.instr;
    switch (ctrl) {
      case 0x0600:
        return this.registration(m.data);
      case 0x0501:
        return this.statusEnquiry(m.data);
      case 0x0601:
        return this.authorisation(m.data);
      case 0x0630:
        return this.reversal(m.data);
      case 0x0650:
        return this.endOfDay(m.data);
      default:
        this.report(`command ${hex(m.cls)} ${hex(m.instr)} not supported`);
        await this.line.send(nack(RESULT.notPossible));
    }
  }

  // ---------------------------------------------------------------------------- helpers

  private passwordOk(data: Buffer): boolean {
    return data.length >= 3 && data.subarray(0, 3).toString('hex') === this.password;
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.stepMs));
  }

  /** Sends a message that the kiosk must acknowledge; throws Gone when it does not. */
  private async say(message: Buffer): Promise<void> {
    await this.pause();
    const acked = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.ackWaiter = undefined;
        resolve(false);
      }, this.ackTimeoutMs);
      this.ackWaiter = (ok) => {
        clearTimeout(timer);
        resolve(ok);
      };
    });
    if (!(await this.line.send(message))) {
      this.ackWaiter = undefined;
      throw new Gone();
    }
    if (!(await acked)) throw new Gone();
  }

  /** Takes the one-shot outcome, leaving approve for the command after. */
  private take(): Outcome {
    const outcome = this.next;
    this.next = 'approve';
    return outcome;
  }

  private hang(what: string): void {
    this.hung = true;
    this.report(`${what}: not answering (timeout)`);
  }

  private clock(): Buffer {
    const d = new Date();
    const two = (n: number): string => String(n).padStart(2, '0');
    return Buffer.concat([
      Buffer.from([0x0c]),
      Buffer.from(two(d.getHours()) + two(d.getMinutes()) + two(d.getSeconds()), 'hex'),
      Buffer.from([0x0d]),
      Buffer.from(two(d.getMonth() + 1) + two(d.getDate()), 'hex'),
    ]);
  }

  private statusInformation(result: number, fields: Buffer[]): Buffer {
    return apdu(0x04, 0x0f, Buffer.concat([Buffer.from([0x27, result]), ...fields]));
  }

  private completion(): Buffer {
    return apdu(0x06, 0x0f, Buffer.concat([Buffer.from([0x19, 0x00, 0x29]), Buffer.from(this.terminalId, 'hex'), Buffer.from([0x49]), bcd(this.currency, 2)]));
  }

  /** The receipt, as 06 D1 lines or one 06 D3 text block, when the kiosk registered to print it. */
  private async printReceipt(kind: 'customer' | 'administration', lines: string[]): Promise<void> {
    if (!(this.config & (kind === 'customer' ? PRINTS_PAYMENT : PRINTS_ADMIN))) return;
    if (this.config & TEXT_BLOCKS) {
      const texts = Buffer.concat(lines.map((l) => tlv([0x07], Buffer.from(l, 'latin1'))));
      const container = Buffer.concat([tlv([0x1f, 0x07], Buffer.from([kind === 'customer' ? 2 : 3])), tlv([0x25], texts)]);
      await this.say(apdu(0x06, 0xd3, tlv([0x06], container)));
      return;
    }
    for (const [i, l] of lines.entries()) {
      const attribute = i === lines.length - 1 ? 0x81 : 0x00;
      await this.say(apdu(0x06, 0xd1, Buffer.concat([Buffer.from([attribute]), Buffer.from(l, 'latin1')])));
    }
  }

  private receiptLines(title: string, amount: number, receipt: number, trace: number, verdict: string): string[] {
    const money = `CNY ${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}`;
    return [
      'ZVT TERMINAL EMULATOR',
      `TID ${this.terminalId}`,
      title,
      `TRACE ${String(trace).padStart(6, '0')}  RECEIPT ${String(receipt).padStart(4, '0')}`,
      `AMOUNT ${money}`,
      ...this.receiptExtra,
      verdict,
    ];
  }

  // ---------------------------------------------------------------------------- commands

  private async registration(data: Buffer): Promise<void> {
    if (!this.passwordOk(data) || data.length < 4) {
      this.report('registration refused: wrong password');
      await this.line.send(nack(RESULT.notPossible));
      return;
    }
    this.hung = false;
    this.config = data[3]!;
    if (data.length >= 6) this.currency = fromBcd(data.subarray(4, 6));
    await this.line.send(ACK);
    this.registered = true;
    this.report(`registered (config 0x${this.config.toString(16).padStart(2, '0')}, currency ${this.currency})`);
    await this.say(this.completion());
  }

  private async statusEnquiry(data: Buffer): Promise<void> {
    if (!this.passwordOk(data)) {
      await this.line.send(nack(RESULT.notPossible));
      return;
    }
    await this.line.send(ACK);
    await this.say(this.completion());
  }

  private async authorisation(data: Buffer): Promise<void> {
    const { amount } = commandFields(data);
    if (!this.registered) {
      await this.line.send(nack(RESULT.notRegistered));
      return;
    }
    if (amount === undefined || Number.isNaN(amount) || amount <= 0) {
      this.report('authorisation without an amount refused');
      await this.line.send(nack(RESULT.notPossible));
      return;
    }
    this.hung = false;
    const outcome = this.take();
    await this.line.send(ACK);
    if (outcome === 'timeout') return this.hang(`authorisation ${amount} fen`);
    const abort = { requested: false };
    this.abortable = abort;
    try {
      if (outcome === 'garbage') {
        this.report('sending noise');
        await this.line.sendNoise();
      }
      for (const status of [0x0a, 0x01]) {
        await this.say(apdu(0x04, 0xff, Buffer.from([status])));
        if (abort.requested) return this.aborted(amount);
      }
      if (outcome === 'silent-after-pin') return this.hang(`authorisation ${amount} fen after the PIN`);
      await this.say(apdu(0x04, 0xff, Buffer.from([0x04])));
      if (abort.requested) return this.aborted(amount);
    } finally {
      this.abortable = undefined;
    }
    const trace = this.nextTrace++;
    if (outcome === 'decline') return this.declined(amount, trace);
    const receipt = this.nextReceipt++;
    const booking: Booking = { receipt, trace, amount, reversed: 'no' };
    this.bookings.push(booking);
    const info = this.statusInformation(RESULT.ok, [
      Buffer.concat([Buffer.from([0x04]), bcd(amount, 6)]),
      Buffer.concat([Buffer.from([0x0b]), bcd(trace, 3)]),
      this.clock(),
      Buffer.concat([Buffer.from([0x87]), bcd(receipt, 2)]),
      Buffer.concat([Buffer.from([0x29]), Buffer.from(this.terminalId, 'hex')]),
      Buffer.from([0x8a, 0x0a]),
      Buffer.concat([Buffer.from([0x8b]), llvar(Buffer.from('VISA'))]),
    ]);
    try {
      await this.say(info);
    } catch (err) {
      // A terminal whose approval is not acknowledged reverses it by itself.
      booking.reversed = 'auto';
      this.report(`authorisation ${amount} fen: approval not acknowledged, receipt ${receipt} reversed automatically`);
      throw err;
    }
    this.report(`authorisation ${amount} fen approved, receipt ${receipt}, trace ${trace}`);
    if (outcome === 'drop-after-approval') {
      this.report('dropping the link before the completion');
      this.line.drop();
      return;
    }
    await this.printReceipt('customer', this.receiptLines('SALE', amount, receipt, trace, 'APPROVED'));
    await this.say(this.completion());
  }

  private async aborted(amount: number): Promise<void> {
    this.report(`authorisation ${amount} fen aborted`);
    await this.say(apdu(0x06, 0x1e, Buffer.from([RESULT.aborted])));
  }

  private async declined(amount: number, trace: number): Promise<void> {
    await this.say(this.statusInformation(RESULT.declined, [Buffer.concat([Buffer.from([0x04]), bcd(amount, 6)]), Buffer.concat([Buffer.from([0x0b]), bcd(trace, 3)])]));
    this.report(`authorisation ${amount} fen declined`);
    await this.printReceipt('customer', this.receiptLines('SALE', amount, 0, trace, 'DECLINED'));
    await this.say(apdu(0x06, 0x1e, Buffer.from([RESULT.declined])));
  }

  private async reversal(data: Buffer): Promise<void> {
    if (!this.passwordOk(data)) {
      await this.line.send(nack(RESULT.notPossible));
      return;
    }
    const { receipt } = commandFields(data.subarray(3));
    if (this.next === 'timeout') {
      this.take();
      await this.line.send(ACK);
      return this.hang(`reversal of receipt ${receipt}`);
    }
    this.hung = false;
    await this.line.send(ACK);
    const booking = this.bookings.find((b) => b.receipt === receipt);
    if (!booking) {
      this.report(`reversal of receipt ${receipt}: no such booking`);
      await this.say(apdu(0x06, 0x1e, Buffer.from([RESULT.reversalImpossible])));
      return;
    }
    if (booking.reversed !== 'no') {
      this.report(`reversal of receipt ${receipt}: already reversed`);
      await this.say(this.statusInformation(RESULT.alreadyReversed, []));
      await this.say(apdu(0x06, 0x1e, Buffer.from([RESULT.alreadyReversed])));
      return;
    }
    booking.reversed = 'by-kiosk';
    const trace = this.nextTrace++;
    const own = this.nextReceipt++;
    this.report(`reversal of receipt ${receipt} (${booking.amount} fen) done`);
    await this.say(
      this.statusInformation(RESULT.ok, [
        Buffer.concat([Buffer.from([0x04]), bcd(booking.amount, 6)]),
        Buffer.concat([Buffer.from([0x0b]), bcd(trace, 3)]),
        Buffer.concat([Buffer.from([0x87]), bcd(own, 2)]),
      ]),
    );
    await this.printReceipt('customer', this.receiptLines('REVERSAL', booking.amount, own, trace, 'REVERSED'));
    await this.say(this.completion());
  }

  private async endOfDay(data: Buffer): Promise<void> {
    if (!this.passwordOk(data)) {
      await this.line.send(nack(RESULT.notPossible));
      return;
    }
    if (this.next === 'timeout') {
      this.take();
      await this.line.send(ACK);
      return this.hang('end of day');
    }
    this.hung = false;
    await this.line.send(ACK);
    const open = this.bookings.slice(this.dayStart).filter((b) => b.reversed === 'no');
    this.dayStart = this.bookings.length;
    const total = open.reduce((n, b) => n + b.amount, 0);
    this.report(`end of day: ${open.length} bookings, ${total} fen`);
    await this.say(this.statusInformation(RESULT.ok, [Buffer.concat([Buffer.from([0x04]), bcd(total, 6)])]));
    await this.printReceipt('administration', ['ZVT TERMINAL EMULATOR', `TID ${this.terminalId}`, 'END OF DAY', `BOOKINGS ${open.length}`, `TOTAL ${total}`]);
    await this.say(this.completion());
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0').toUpperCase();
}
