import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Transport } from '../../../drivers/transport/types.js';
import { CommandParser, OWN_ADDRESS, SYNC, frame, type HostItem } from './wire.js';
import { CNY_BILLS, billByValue, billTable, identification, typesInMask, type BillRecord } from './bills.js';

/** How long the emulated mechanism spends in each transient state. */
export interface CcnetTiming {
  acceptingMs: number;
  stackingMs: number;
  /** After the host acknowledged BILL STACKED, the stacker returns; the unit reports DEVICE BUSY meanwhile. */
  stackedMs: number;
  returningMs: number;
  initializeMs: number;
  /** A note in escrow is given back by itself when the host neither decides nor sends HOLD in this time. */
  escrowMs: number;
}

export const DEFAULT_TIMING: CcnetTiming = {
  acceptingMs: 150,
  stackingMs: 300,
  stackedMs: 150,
  returningMs: 300,
  initializeMs: 300,
  escrowMs: 10_000,
};

export interface CcnetEmulatorOptions {
  transport: Transport;
  timing?: Partial<CcnetTiming>;
}

export type CcnetEmulatorEvents = {
  /** One human-readable line per thing the device does. */
  report: [string];
};

const CMD = {
  ack: 0x00,
  nak: 0xff,
  reset: 0x30,
  getStatus: 0x31,
  setSecurity: 0x32,
  poll: 0x33,
  enableBillTypes: 0x34,
  stack: 0x35,
  return: 0x36,
  identification: 0x37,
  hold: 0x38,
  getBillTable: 0x41,
} as const;

const ST = {
  powerUp: 0x10,
  powerUpBillInValidator: 0x11,
  powerUpBillInStacker: 0x12,
  initialize: 0x13,
  idling: 0x14,
  accepting: 0x15,
  stacking: 0x17,
  returning: 0x18,
  disabled: 0x19,
  holding: 0x1a,
  busy: 0x1b,
  rejecting: 0x1c,
  illegalCommand: 0x30,
  dropCassetteFull: 0x41,
  cassetteOutOfPosition: 0x42,
  validatorJammed: 0x43,
  cassetteJammed: 0x44,
  cheated: 0x45,
  pause: 0x46,
  failure: 0x47,
  escrow: 0x80,
  billStacked: 0x81,
  billReturned: 0x82,
} as const;

const ACK = 0x00;
const NAK = 0xff;
const REJECT_IDENTIFICATION = 0x65;
const REJECT_INHIBIT = 0x68;
/** A host frame whose tail never arrives is abandoned after this quiet gap. */
const PARTIAL_FRAME_GAP_MS = 50;

/**
 * Where the note is. 'stacked' and 'returned' are the BILL STACKED / BILL RETURNED events, reported
 * on every POLL until the host acknowledges one; 'settling' is the stacker returning afterwards.
 */
type Stage =
  | 'accepting'
  | 'rejecting'
  | 'escrow'
  | 'holding'
  | 'stacking'
  | 'stacked'
  | 'settling'
  | 'returning'
  | 'returned';

interface NoteInPath {
  value: number;
  /** Undefined for a value the table does not know: it can only be rejected. */
  record: BillRecord | undefined;
  stage: Stage;
  rejectReason?: number;
}

type Phase = 'power-up' | 'initializing' | 'running';

interface Fault {
  state: number;
  data?: number;
  name: string;
  /** Whether a note in the path survives the fault (a pause only stops the mechanism). */
  keepsNote: boolean;
}

/** Stages in which the note is already in the cash box. */
const IN_BOX = new Set<Stage>(['stacked', 'settling']);

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
const hexBytes = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join('');

/**
 * A CashCode CCNET bill validator as seen from the serial line, with a CNY bill table and injectable
 * faults. It only answers; the host drives everything by polling, as with the real device.
 */
export class CcnetEmulator extends EventEmitter<CcnetEmulatorEvents> {
  /** Face values (fen) that reached the cash box, in order. */
  readonly stacked: number[] = [];
  /** Face values given back to the customer after a RETURN, an escrow time-out or a reset. */
  readonly returned: number[] = [];
  /** Face values the device refused by itself and gave back. */
  readonly rejected: number[] = [];
  /** Face values that disappeared in a jam, a cheat attempt or a plain power cut. */
  readonly lost: number[] = [];

  private readonly transport: Transport;
  private readonly timing: CcnetTiming;
  private parser = new CommandParser();
  private phase: Phase = 'power-up';
  private powerUpState: number = ST.powerUp;
  /** The note that was in the path when the power went (reported as 0x11 / 0x12). */
  private recovered: NoteInPath | undefined;
  private enabled = new Uint8Array(3);
  private escrowMask = new Uint8Array(3);
  private security = new Uint8Array(3);
  private note: NoteInPath | undefined;
  /** A note the customer holds at the slot while the device is busy. */
  private waiting: number | undefined;
  private fault: Fault | undefined;
  private muted = false;
  private garbageArmed = false;
  private nakArmed = false;
  /** What a NAK from the host gets again; also tells whether an ACK acknowledges an event. */
  private lastReply: Uint8Array | undefined;
  private readonly box = new Map<number, number>();
  private stageTimer: NodeJS.Timeout | undefined;
  private partialTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onClose = (): void => this.report('serial line closed');
  private readonly onError = (err: Error): void => this.report(`serial line error: ${err.message}`);

  constructor(options: CcnetEmulatorOptions) {
    super();
    this.transport = options.transport;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
  }

  async start(): Promise<void> {
    if (!this.transport.isOpen) await this.transport.open();
    this.transport.on('data', this.onData);
    this.transport.on('close', this.onClose);
    this.transport.on('error', this.onError);
    this.report(`power up (${hex(this.powerUpState)}), waiting for reset`);
  }

  async stop(): Promise<void> {
    this.clearStageTimer();
    clearTimeout(this.partialTimer);
    this.transport.off('data', this.onData);
    this.transport.off('close', this.onClose);
    this.transport.off('error', this.onError);
    await this.writing;
    await this.transport.close();
  }

  // ------------------------------------------------------------------ counters and state

  /** Notes in the cash box: face value (fen) → count. */
  cashbox(): Record<number, number> {
    return Object.fromEntries(this.box);
  }

  cashboxTotal(): number {
    let total = 0;
    for (const [value, count] of this.box) total += value * count;
    return total;
  }

  /** The state byte a POLL would get now. */
  currentState(): number {
    return this.stateBytes()[0]!;
  }

  /** Parser counters, for checking that noise from the host was survived. */
  lineErrors(): { garbageBytes: number; badFrames: number } {
    return { garbageBytes: this.parser.garbageBytes, badFrames: this.parser.badFrames };
  }

  describe(): string {
    const note = this.note ? `${this.note.stage} ${this.note.value} fen` : 'none';
    const box = CNY_BILLS.filter((b) => this.box.has(b.value))
      .map((b) => `${b.value}x${this.box.get(b.value)}`)
      .join(', ');
    return (
      `state ${this.phase}, poll ${hex(this.currentState())}, enabled ${hexBytes(this.enabled)}, ` +
      `escrow ${hexBytes(this.escrowMask)}, note in path: ${note}, ` +
      `fault: ${this.fault?.name ?? 'none'}${this.muted ? ', silent' : ''}; ` +
      `cash box: ${box || 'empty'} (total ${this.cashboxTotal()} fen)`
    );
  }

  // ------------------------------------------------------------------ the customer and the technician

  /**
   * A customer pushes a note of this face value (fen) into the bezel. While the validator is busy
   * (initialising, or another note still in the path) the customer waits with the note at the slot
   * and it goes in as soon as the device is free, as a person would do.
   */
  insert(value: number): void {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`insert needs a positive whole amount in fen, got ${value}`);
    }
    if (this.fault) throw new Error(`cannot insert: device reports ${this.fault.name}`);
    if (this.phase !== 'running' && this.phase !== 'initializing') throw new Error(`cannot insert: device is in ${this.phase}`);
    if (this.phase === 'initializing' || this.note) {
      if (this.waiting !== undefined) throw new Error(`cannot insert: a ${this.waiting} fen note is already waiting at the slot`);
      this.waiting = value;
      this.report(`validator busy: the customer holds a ${value} fen note at the slot`);
      return;
    }
    this.feed(value);
  }

  /** Called whenever the device may have become free: a waiting note goes in. */
  private offerWaiting(): void {
    if (this.waiting === undefined || this.phase !== 'running' || this.note || this.fault) return;
    const value = this.waiting;
    this.waiting = undefined;
    this.feed(value);
  }

  private feed(value: number): void {
    this.note = { value, record: billByValue(value), stage: 'accepting' };
    this.report(`accepting ${value} fen`);
    this.armStage();
  }

  jam(): void {
    this.setFault({ state: ST.validatorJammed, name: 'validator jammed', keepsNote: false });
  }

  jamStacker(): void {
    this.setFault({ state: ST.cassetteJammed, name: 'cassette jammed', keepsNote: false });
  }

  stackerFull(): void {
    this.setFault({ state: ST.dropCassetteFull, name: 'drop cassette full', keepsNote: false });
  }

  stackerOpen(): void {
    this.setFault({ state: ST.cassetteOutOfPosition, name: 'cassette out of position', keepsNote: false });
  }

  failure(code: number): void {
    if (!Number.isInteger(code) || code < 0 || code > 0xff) {
      throw new Error(`failure code must be one byte, got ${code}`);
    }
    this.setFault({ state: ST.failure, data: code, name: `failure ${hex(code)}`, keepsNote: false });
  }

  cheated(): void {
    this.setFault({ state: ST.cheated, name: 'cheated', keepsNote: false });
  }

  pause(): void {
    this.setFault({ state: ST.pause, name: 'pause', keepsNote: true });
  }

  /** The technician fixed whatever was wrong: faults and silence end, a paused note moves on. */
  clear(): void {
    this.fault = undefined;
    this.muted = false;
    if (this.note) {
      this.report(`cleared: ${this.note.value} fen note continues (${this.note.stage})`);
      this.armStage();
    } else {
      this.report(`cleared: ${this.restingName()}`);
    }
  }

  /** Stop answering the host at all, as a dead or unplugged device would, until clear(). */
  silent(): void {
    this.muted = true;
    this.report('silent: no more replies until clear');
  }

  /** Precede the next reply with line noise and one frame with a broken CRC. */
  garbage(): void {
    this.garbageArmed = true;
    this.report('garbage: the next reply comes after noise and a bad-CRC frame');
  }

  /** Answer the next host command with NAK, as if its CRC had been wrong, so that the host sends it again. */
  nakNext(): void {
    this.nakArmed = true;
    this.report('nak-next: the next host command is answered with NAK');
  }

  /** Power cut and back: settings, faults and any note in the path are gone. */
  powerCycle(): void {
    if (this.phase === 'power-up' && this.recovered) {
      // The note never moved: the device finds it again where it was.
      const [state, recovered] = [this.powerUpState, this.recovered];
      this.powerOff();
      this.powerOn(state, recovered);
      return;
    }
    const note = this.note;
    this.powerOff();
    if (note && !IN_BOX.has(note.stage) && note.stage !== 'returned') {
      this.lost.push(note.value);
      this.report(`power cut: ${note.value} fen note lost in the path`);
    }
    this.powerOn(ST.powerUp, undefined);
  }

  /** Power cut with power recovery: the device remembers where the note was. */
  powerCycleWithBill(): void {
    const note = this.note;
    if (!note || note.stage === 'settling' || note.stage === 'returned') {
      throw new Error('power-cycle-with-bill: no note in the path (insert one first)');
    }
    this.powerOff();
    const inStacker = note.stage === 'stacking' || note.stage === 'stacked';
    this.powerOn(inStacker ? ST.powerUpBillInStacker : ST.powerUpBillInValidator, note);
  }

  // ------------------------------------------------------------------ the line

  private receive(chunk: Buffer): void {
    clearTimeout(this.partialTimer);
    this.handle(this.parser.push(chunk));
    this.watchPartial();
  }

  private watchPartial(): void {
    if (!this.parser.pending) return;
    this.partialTimer = setTimeout(() => {
      this.handle(this.parser.abandonPartial());
      this.watchPartial();
    }, PARTIAL_FRAME_GAP_MS);
  }

  /** Answers each frame for us; a bad CRC gets NAK, unless a good frame came with it (then it was noise). */
  private handle(items: HostItem[]): void {
    if (this.muted) return;
    let good = false;
    let bad = false;
    for (const item of items) {
      if (item.kind === 'bad-crc') {
        bad = true;
        continue;
      }
      if (item.address !== OWN_ADDRESS) continue;
      good = true;
      const reply = this.answer(item.cmd, item.data);
      if (reply) this.reply(reply);
    }
    if (bad && !good) {
      this.report('host frame with a bad CRC: answered NAK');
      this.send(frame([NAK]));
    }
  }

  private reply(bytes: Uint8Array): void {
    if (this.garbageArmed) {
      this.garbageArmed = false;
      this.send(this.noise());
    }
    if (!(bytes.length === 6 && (bytes[3] === NAK || bytes[3] === ACK))) this.lastReply = bytes;
    this.send(bytes);
  }

  /** Random bytes without a SYNC in them, then a well-formed state frame whose CRC is wrong. */
  private noise(): Uint8Array {
    const junk = Array.from(randomBytes(4 + (randomBytes(1)[0]! % 5)), (b) => (b === SYNC ? 0x00 : b));
    const broken = frame([ST.idling]);
    broken[broken.length - 1]! ^= 0xff;
    return Uint8Array.from([...junk, ...broken]);
  }

  private send(bytes: Uint8Array): void {
    this.writing = this.writing
      .then(() => this.transport.write(bytes))
      .catch((err: Error) => this.report(`write failed: ${err.message}`));
  }

  private answer(cmd: number, data: Uint8Array): Uint8Array | undefined {
    if (this.nakArmed && cmd !== CMD.ack && cmd !== CMD.nak) {
      this.nakArmed = false;
      this.report(`nak-next: answered NAK to command ${hex(cmd)}`);
      return frame([NAK]);
    }
    const noData = data.length === 0;
    switch (cmd) {
      case CMD.ack:
        this.hostAck();
        return undefined;
      case CMD.nak:
        if (this.lastReply) this.report('host NAK: last reply sent again');
        return this.lastReply;
      case CMD.poll:
        if (!noData) return this.illegal(cmd);
        this.offerWaiting();
        return frame(this.stateBytes());
      case CMD.reset:
        return noData ? this.reset() : this.illegal(cmd);
      case CMD.getStatus:
        return noData ? frame([...this.enabled, ...this.security]) : this.illegal(cmd);
      case CMD.setSecurity:
        if (data.length !== 3) return this.illegal(cmd);
        this.security = Uint8Array.from(data);
        this.report(`host: security ${hexBytes(data)}`);
        return frame([ACK]);
      case CMD.enableBillTypes:
        return this.enableBillTypes(data);
      case CMD.stack:
        return noData ? this.stack() : this.illegal(cmd);
      case CMD.return:
        return noData ? this.returnNote() : this.illegal(cmd);
      case CMD.hold:
        return noData ? this.hold() : this.illegal(cmd);
      case CMD.identification:
        return noData ? frame(identification()) : this.illegal(cmd);
      case CMD.getBillTable:
        return noData ? frame(billTable()) : this.illegal(cmd);
      default:
        return this.illegal(cmd);
    }
  }

  private illegal(cmd: number): Uint8Array {
    this.report(`illegal command ${hex(cmd)} in this state: answered ${hex(ST.illegalCommand)}`);
    return frame([ST.illegalCommand]);
  }

  private stateBytes(): number[] {
    if (this.phase === 'power-up') return [this.powerUpState];
    if (this.phase === 'initializing') return [ST.initialize];
    if (this.fault) return this.fault.data === undefined ? [this.fault.state] : [this.fault.state, this.fault.data];
    const note = this.note;
    if (!note) return [this.anyEnabled() ? ST.idling : ST.disabled];
    switch (note.stage) {
      case 'accepting':
        return [ST.accepting];
      case 'rejecting':
        return [ST.rejecting, note.rejectReason!];
      case 'escrow':
        return [ST.escrow, note.record!.billType];
      case 'holding':
        return [ST.holding];
      case 'stacking':
        return [ST.stacking];
      case 'stacked':
        return [ST.billStacked, note.record!.billType];
      case 'settling':
        return [ST.busy];
      case 'returning':
        return [ST.returning];
      case 'returned':
        return [ST.billReturned, note.record!.billType];
    }
  }

  // ------------------------------------------------------------------ host commands

  private reset(): Uint8Array {
    this.report('host: reset');
    this.clearStageTimer();
    const pending = this.phase === 'power-up' ? this.recovered : this.note;
    this.recovered = undefined;
    this.note = undefined;
    if (pending) this.settleOnReset(pending);
    this.enabled = new Uint8Array(3);
    this.escrowMask = new Uint8Array(3);
    this.phase = 'initializing';
    this.report('initializing');
    this.stageTimer = setTimeout(() => {
      this.stageTimer = undefined;
      this.phase = 'running';
      this.report(`initialized: ${this.restingName()}`);
    }, this.timing.initializeMs);
    return frame([ACK]);
  }

  /** Reset finishes what the mechanism was doing: a note short of the stacker comes back out. */
  private settleOnReset(note: NoteInPath): void {
    switch (note.stage) {
      case 'stacking':
        this.intoBox(note.value);
        this.report(`stacked ${note.value} fen (reset completed the stack, no bill stacked event)`);
        return;
      case 'stacked':
        this.report(`reset: the bill stacked event for ${note.value} fen was never acknowledged; it stays in the box`);
        return;
      case 'settling':
      case 'returned':
        return;
      default:
        this.returned.push(note.value);
        this.report(`returned ${note.value} fen (reset)`);
    }
  }

  private enableBillTypes(data: Uint8Array): Uint8Array {
    if (data.length !== 6 || this.phase === 'power-up') return this.illegal(CMD.enableBillTypes);
    this.enabled = Uint8Array.from(data.subarray(0, 3));
    this.escrowMask = Uint8Array.from(data.subarray(3, 6));
    if (!this.anyEnabled()) {
      this.report('host: enable bill types: none (disabled)');
    } else {
      const values = (mask: Uint8Array) => CNY_BILLS.filter((b) => typesInMask(mask).has(b.billType)).map((b) => b.value);
      this.report(
        `host: enable bill types ${hexBytes(this.enabled)} (${values(this.enabled).join(', ') || 'none in the table'}), ` +
          `escrow ${hexBytes(this.escrowMask)} (${values(this.escrowMask).join(', ') || 'none'})`,
      );
    }
    return frame([ACK]);
  }

  private noteAwaitingDecision(): NoteInPath | undefined {
    if (this.phase !== 'running' || this.fault) return undefined;
    const note = this.note;
    return note && (note.stage === 'escrow' || note.stage === 'holding') ? note : undefined;
  }

  private stack(): Uint8Array {
    const note = this.noteAwaitingDecision();
    if (!note) return this.illegal(CMD.stack);
    this.report('host: stack');
    this.enterStage(note, 'stacking');
    this.report(`stacking ${note.value} fen`);
    return frame([ACK]);
  }

  private returnNote(): Uint8Array {
    const note = this.noteAwaitingDecision();
    if (!note) return this.illegal(CMD.return);
    this.report('host: return');
    this.enterStage(note, 'returning');
    this.report(`returning ${note.value} fen`);
    return frame([ACK]);
  }

  private hold(): Uint8Array {
    const note = this.noteAwaitingDecision();
    if (!note) return this.illegal(CMD.hold);
    this.report('host: hold');
    this.enterStage(note, 'holding');
    this.report(`holding ${note.value} fen (escrow time restarted)`);
    return frame([ACK]);
  }

  /** The host's ACK has no reply on the wire; it ends a BILL STACKED or BILL RETURNED event it acknowledges. */
  private hostAck(): void {
    const note = this.note;
    const event = this.lastReply?.[3];
    if (!note || this.fault) return;
    if (note.stage === 'stacked' && event === ST.billStacked) {
      this.report('bill stacked acknowledged');
      this.report(`stacked ${note.value} fen`);
      this.enterStage(note, 'settling');
    } else if (note.stage === 'returned' && event === ST.billReturned) {
      this.finish();
    }
  }

  // ------------------------------------------------------------------ the mechanism

  private anyEnabled(): boolean {
    return this.enabled.some((b) => b !== 0);
  }

  private restingName(): string {
    if (this.fault) return this.fault.name;
    return this.anyEnabled() ? 'idling' : 'disabled (no bill type enabled)';
  }

  private intoBox(value: number): void {
    this.box.set(value, (this.box.get(value) ?? 0) + 1);
    this.stacked.push(value);
  }

  private enterStage(note: NoteInPath, stage: Stage): void {
    note.stage = stage;
    this.armStage();
  }

  /** Starts the timer that moves the current note on, for stages that end by themselves. */
  private armStage(): void {
    this.clearStageTimer();
    const note = this.note;
    if (!note || this.fault) return;
    const delay = this.stageDuration(note.stage);
    if (delay === undefined) return;
    this.stageTimer = setTimeout(() => {
      this.stageTimer = undefined;
      this.advance(note);
    }, delay);
  }

  private stageDuration(stage: Stage): number | undefined {
    switch (stage) {
      case 'accepting':
        return this.timing.acceptingMs;
      case 'escrow':
      case 'holding':
        return this.timing.escrowMs;
      case 'stacking':
        return this.timing.stackingMs;
      case 'settling':
        return this.timing.stackedMs;
      case 'rejecting':
      case 'returning':
        return this.timing.returningMs;
      case 'stacked':
      case 'returned':
        return undefined;
    }
  }

  private advance(note: NoteInPath): void {
    switch (note.stage) {
      case 'accepting':
        this.validate(note);
        return;
      case 'escrow':
      case 'holding':
        this.report(`escrow time-out: no decision from the host within ${this.timing.escrowMs} ms`);
        this.enterStage(note, 'returning');
        this.report(`returning ${note.value} fen`);
        return;
      case 'stacking':
        this.intoBox(note.value);
        this.enterStage(note, 'stacked');
        this.report(`in the cash box: ${note.value} fen (bill stacked, 0x81 repeated until the host ACKs)`);
        return;
      case 'settling':
        this.finish();
        return;
      case 'rejecting':
        this.rejected.push(note.value);
        this.report(`gave back rejected ${note.value} fen`);
        this.finish();
        return;
      case 'returning':
        this.returned.push(note.value);
        this.report(`returned ${note.value} fen`);
        this.enterStage(note, 'returned');
        return;
      default:
        return;
    }
  }

  private validate(note: NoteInPath): void {
    const record = note.record;
    let reason: number | undefined;
    let why = '';
    if (!record) {
      reason = REJECT_IDENTIFICATION;
      why = 'unknown denomination';
    } else if (!this.anyEnabled()) {
      reason = REJECT_INHIBIT;
      why = 'disabled';
    } else if (!typesInMask(this.enabled).has(record.billType)) {
      reason = REJECT_INHIBIT;
      why = 'bill type not enabled';
    }
    if (reason !== undefined) {
      note.rejectReason = reason;
      this.enterStage(note, 'rejecting');
      this.report(`rejected: ${why} (${note.value} fen, reason ${hex(reason)})`);
      return;
    }
    if (typesInMask(this.escrowMask).has(record!.billType)) {
      this.enterStage(note, 'escrow');
      this.report(`escrow ${note.value} fen (bill type ${record!.billType})`);
      return;
    }
    this.enterStage(note, 'stacking');
    this.report(`stacking ${note.value} fen (escrow not enabled for bill type ${record!.billType})`);
  }

  private finish(): void {
    this.note = undefined;
    this.report(this.restingName());
  }

  private setFault(fault: Fault): void {
    this.clearStageTimer();
    this.fault = fault;
    const note = this.note;
    if (note && IN_BOX.has(note.stage)) {
      this.note = undefined;
      if (note.stage === 'stacked') this.report(`${fault.name}: the unacknowledged bill stacked event for ${note.value} fen is dropped`);
    } else if (note && note.stage === 'returned') {
      this.note = undefined;
    } else if (note && !fault.keepsNote) {
      this.note = undefined;
      this.lost.push(note.value);
      this.report(`${fault.name} (${hex(fault.state)}): ${note.value} fen note lost in the path`);
      return;
    }
    this.report(`${fault.name} (${hex(fault.state)})`);
  }

  private powerOff(): void {
    this.clearStageTimer();
    clearTimeout(this.partialTimer);
    this.parser = new CommandParser();
    this.enabled = new Uint8Array(3);
    this.escrowMask = new Uint8Array(3);
    this.note = undefined;
    this.fault = undefined;
    this.muted = false;
    this.garbageArmed = false;
    this.nakArmed = false;
    this.lastReply = undefined;
  }

  private powerOn(state: number, recovered: NoteInPath | undefined): void {
    this.phase = 'power-up';
    this.powerUpState = state;
    this.recovered = recovered;
    const place = state === ST.powerUpBillInStacker ? 'in the stacker' : 'in the validator';
    const where = recovered ? ` with the ${recovered.value} fen note ${place}` : '';
    this.report(`power up${where} (${hex(state)}), waiting for reset`);
  }

  private clearStageTimer(): void {
    clearTimeout(this.stageTimer);
    this.stageTimer = undefined;
  }

  private report(line: string): void {
    this.emit('report', line);
  }
}
