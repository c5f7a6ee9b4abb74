import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Transport } from '../../../drivers/transport/types.js';
import { PacedLine, type LinePacing } from '../line-pacing.js';
import { CommandParser, MIN_FRAME, SYNC, frame, type HostFrame } from './wire.js';
import { CNY_NOTES, currencyTable, maskBit, noteByValue, type NoteRecord } from './notes.js';

/** How long the emulated mechanism spends in each transient state. */
export interface Id003Timing {
  acceptingMs: number;
  stackingMs: number;
  stackedMs: number;
  returningMs: number;
  initializeMs: number;
}

export const DEFAULT_TIMING: Id003Timing = {
  acceptingMs: 150,
  stackingMs: 300,
  stackedMs: 150,
  returningMs: 300,
  initializeMs: 300,
};

/**
 * When a frame was read from the line (rx) or went onto it (tx: its first bit, reckoned back from
 * the hand-over of its last byte when paced), in performance.now() milliseconds.
 */
export interface FrameTiming {
  direction: 'tx' | 'rx';
  /** The command (rx) or status (tx) byte. */
  cmd: number;
  length: number;
  at: number;
}

export interface Id003EmulatorOptions {
  transport: Transport;
  timing?: Partial<Id003Timing>;
  /**
   * Off by default: a pty carries a frame at once, so only benchmarks that compare the host's
   * reaction with the wire time of the frames need the bytes paced.
   */
  pacing?: LinePacing;
}

export type Id003EmulatorEvents = {
  /** One human-readable line per thing the device does. */
  report: [string];
  /** Each frame sent or received, with its time, for measuring the host's reaction. */
  frame: [FrameTiming];
};

export const VERSION = 'ID003-SIM CNY V1.00';
export const BOOT_VERSION = 'ID003-SIM BOOT V1.00';

const CMD = {
  status: 0x11,
  reset: 0x40,
  stack1: 0x41,
  stack2: 0x42,
  return: 0x43,
  hold: 0x44,
  ack: 0x50,
  version: 0x88,
  bootVersion: 0x89,
  currency: 0x8a,
} as const;

const ST = {
  idling: 0x11,
  accepting: 0x12,
  escrow: 0x13,
  stacking: 0x14,
  vendValid: 0x15,
  stacked: 0x16,
  rejecting: 0x17,
  returning: 0x18,
  holding: 0x19,
  disabled: 0x1a,
  initialize: 0x1b,
  powerUp: 0x40,
  powerUpBillInAcceptor: 0x41,
  powerUpBillInStacker: 0x42,
  stackerFull: 0x43,
  stackerOpen: 0x44,
  jamInAcceptor: 0x45,
  pause: 0x47,
  cheated: 0x48,
  failure: 0x49,
  invalidCommand: 0x4b,
  ack: 0x50,
} as const;

const REJECT_INHIBITED = 0x79;
const REJECT_DENOMINATION = 0x76;

/** Data length of each setting command; the 0x80–0x85 reads answer with the same bytes. */
const SETTING_LENGTH: ReadonlyMap<number, number> = new Map([
  [0xc0, 2],
  [0xc1, 2],
  [0xc2, 1],
  [0xc3, 1],
  [0xc4, 1],
  [0xc5, 2],
  [0xc6, 2],
  [0xc7, 1],
]);
const INHIBIT = 0xc3;
const DENOMINATION_MASK = 0xc0;
/** A host frame whose tail never arrives is abandoned after this quiet gap. */
const PARTIAL_FRAME_GAP_MS = 50;

type Stage =
  | 'accepting'
  | 'rejecting'
  | 'escrow'
  | 'holding'
  | 'stacking'
  | 'vend-valid'
  | 'stacked'
  | 'returning';

interface NoteInPath {
  value: number;
  /** Undefined for a value the table does not know: it can only be rejected. */
  record: NoteRecord | undefined;
  stage: Stage;
  rejectReason?: number;
}

type Phase = 'power-up' | 'initializing' | 'running';

interface Fault {
  status: number;
  data?: number;
  name: string;
  /** Whether a note in the path survives the fault (a pause only stops the mechanism). */
  keepsNote: boolean;
}

const STAGE_STATUS: Record<Stage, number> = {
  accepting: ST.accepting,
  rejecting: ST.rejecting,
  escrow: ST.escrow,
  holding: ST.holding,
  stacking: ST.stacking,
  'vend-valid': ST.vendValid,
  stacked: ST.stacked,
  returning: ST.returning,
};

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
const hexBytes = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');

function defaultSettings(): Map<number, Uint8Array> {
  const settings = new Map<number, Uint8Array>();
  for (const [cmd, length] of SETTING_LENGTH) settings.set(cmd, new Uint8Array(length));
  settings.set(INHIBIT, Uint8Array.of(1));
  return settings;
}

/**
 * A JCM ID-003 bill validator as seen from the serial line, with a CNY note table and injectable
 * faults. It only answers; the host drives everything by polling, as with the real device.
 */
export class Id003Emulator extends EventEmitter<Id003EmulatorEvents> {
  /** Face values (fen) that reached the cash box, in order. */
  readonly stacked: number[] = [];
  /** Face values given back to the customer after a Return (or a reset with the note in escrow). */
  readonly returned: number[] = [];
  /** Face values the device refused by itself and gave back. */
  readonly rejected: number[] = [];
  /** Face values that disappeared in a jam, a cheat attempt or a plain power cut. */
  readonly lost: number[] = [];

  private readonly transport: Transport;
  private readonly timing: Id003Timing;
  private readonly paced: PacedLine | undefined;
  private parser = new CommandParser();
  private phase: Phase = 'power-up';
  private powerUpStatus: number = ST.powerUp;
  /** The note that was in the path when the power went (reported as 0x41 / 0x42). */
  private recovered: NoteInPath | undefined;
  private settings = defaultSettings();
  private note: NoteInPath | undefined;
  /** A note the customer holds at the slot while the device is busy. */
  private waiting: number | undefined;
  private fault: Fault | undefined;
  private muted = false;
  private garbageArmed = false;
  private readonly box = new Map<number, number>();
  private stageTimer: NodeJS.Timeout | undefined;
  /** Ends the initialisation after a reset; apart from stageTimer, which a fault clears. */
  private initTimer: NodeJS.Timeout | undefined;
  private partialTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onClose = (): void => this.report('serial line closed');
  private readonly onError = (err: Error): void => this.report(`serial line error: ${err.message}`);

  constructor(options: Id003EmulatorOptions) {
    super();
    this.transport = options.transport;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.paced = options.pacing && new PacedLine((bytes) => this.transport.write(bytes), options.pacing);
  }

  async start(): Promise<void> {
    if (!this.transport.isOpen) await this.transport.open();
    this.transport.on('data', this.onData);
    this.transport.on('close', this.onClose);
    this.transport.on('error', this.onError);
    this.report(`power up (${hex(this.powerUpStatus)}), waiting for reset`);
  }

  async stop(): Promise<void> {
    this.clearStageTimer();
    clearTimeout(this.initTimer);
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

  /** The status byte a status request would get now. */
  currentStatus(): number {
    return this.statusFrameParts()[0];
  }

  /** Parser counters, for checking that noise from the host was survived. */
  lineErrors(): { garbageBytes: number; badFrames: number } {
    return { garbageBytes: this.parser.garbageBytes, badFrames: this.parser.badFrames };
  }

  describe(): string {
    const status = this.currentStatus();
    const inhibit = this.inhibited() ? 'inhibited' : 'accepting enabled';
    const mask = hexBytes(this.settings.get(DENOMINATION_MASK)!);
    const note = this.note ? `${this.note.stage} ${this.note.value} fen` : 'none';
    const box = CNY_NOTES.filter((n) => this.box.has(n.value))
      .map((n) => `${n.value}x${this.box.get(n.value)}`)
      .join(', ');
    return (
      `state ${this.phase}, status ${hex(status)}, ${inhibit}, mask ${mask}, note in path: ${note}, ` +
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
    this.note = { value, record: noteByValue(value), stage: 'accepting' };
    this.report(`accepting ${value} fen`);
    this.armStage();
  }

  jam(): void {
    this.setFault({ status: ST.jamInAcceptor, name: 'jam in acceptor', keepsNote: false });
  }

  stackerFull(): void {
    this.setFault({ status: ST.stackerFull, name: 'stacker full', keepsNote: false });
  }

  stackerOpen(): void {
    this.setFault({ status: ST.stackerOpen, name: 'stacker open', keepsNote: false });
  }

  failure(code: number): void {
    if (!Number.isInteger(code) || code < 0 || code > 0xff) {
      throw new Error(`failure code must be one byte, got ${code}`);
    }
    this.setFault({ status: ST.failure, data: code, name: `failure ${hex(code)}`, keepsNote: false });
  }

  cheated(): void {
    this.setFault({ status: ST.cheated, name: 'cheated', keepsNote: false });
  }

  pause(): void {
    this.setFault({ status: ST.pause, name: 'pause', keepsNote: true });
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

  /** Power cut and back: settings, faults and any note in the path are gone. */
  powerCycle(): void {
    if (this.phase === 'power-up' && this.recovered) {
      // The note never moved: the device finds it again where it was.
      const [status, recovered] = [this.powerUpStatus, this.recovered];
      this.powerOff();
      this.powerOn(status, recovered);
      return;
    }
    const note = this.note;
    this.powerOff();
    if (note && note.stage !== 'stacked') {
      this.lost.push(note.value);
      this.report(`power cut: ${note.value} fen note lost in the path`);
    }
    this.powerOn(ST.powerUp, undefined);
  }

  /** Power cut with the power-recovery function: the device remembers where the note was. */
  powerCycleWithBill(): void {
    const note = this.note;
    if (!note || note.stage === 'stacked') {
      throw new Error('power-cycle-with-bill: no note in the path (insert one first)');
    }
    this.powerOff();
    const inStacker = note.stage === 'stacking' || note.stage === 'vend-valid';
    this.powerOn(inStacker ? ST.powerUpBillInStacker : ST.powerUpBillInAcceptor, note);
  }

  // ------------------------------------------------------------------ the line

  private receive(chunk: Buffer): void {
    const at = performance.now();
    clearTimeout(this.partialTimer);
    this.answerAll(this.parser.push(chunk), at);
    this.watchPartial();
  }

  private watchPartial(): void {
    if (!this.parser.pending) return;
    this.partialTimer = setTimeout(() => {
      this.answerAll(this.parser.abandonPartial(), performance.now());
      this.watchPartial();
    }, PARTIAL_FRAME_GAP_MS);
  }

  private answerAll(frames: HostFrame[], at: number): void {
    for (const f of frames) {
      this.emit('frame', { direction: 'rx', cmd: f.cmd, length: f.data.length + MIN_FRAME, at });
      if (this.muted) continue;
      const reply = this.answer(f);
      if (!reply) continue;
      if (this.garbageArmed) {
        this.garbageArmed = false;
        this.send(this.noise());
      }
      this.send(reply);
    }
  }

  /** Random bytes without a SYNC in them, then a well-formed status frame whose CRC is wrong. */
  private noise(): Uint8Array {
    const junk = Array.from(randomBytes(4 + (randomBytes(1)[0]! % 5)), (b) => (b === SYNC ? 0x00 : b));
    const broken = frame(ST.idling);
    broken[broken.length - 1]! ^= 0xff;
    return Uint8Array.from([...junk, ...broken]);
  }

  private send(bytes: Uint8Array): void {
    this.writing = this.writing
      .then(() => (this.paced ? this.paced.send(bytes, (at) => this.emitSent(bytes, at)) : this.writeNow(bytes)))
      .catch((err: Error) => this.report(`write failed: ${err.message}`));
  }

  private writeNow(bytes: Uint8Array): Promise<void> {
    this.emitSent(bytes, performance.now());
    return this.transport.write(bytes);
  }

  private emitSent(bytes: Uint8Array, at: number): void {
    // Injected noise is not a frame.
    if (bytes[0] !== SYNC || bytes.length < MIN_FRAME) return;
    this.emit('frame', { direction: 'tx', cmd: bytes[2]!, length: bytes.length, at });
  }

  private answer({ cmd, data }: HostFrame): Uint8Array | undefined {
    const noData = data.length === 0;
    switch (cmd) {
      case CMD.status:
        if (!noData) return this.invalid(cmd);
        this.offerWaiting();
        return this.statusFrame();
      case CMD.ack:
        this.hostAck();
        return undefined;
      case CMD.reset:
        return noData ? this.reset() : this.invalid(cmd);
      case CMD.stack1:
      case CMD.stack2:
        return noData ? this.stack(cmd) : this.invalid(cmd);
      case CMD.return:
        return noData ? this.returnNote() : this.invalid(cmd);
      case CMD.hold:
        return noData ? this.hold() : this.invalid(cmd);
      case CMD.version:
        return noData ? frame(cmd, Buffer.from(VERSION, 'ascii')) : this.invalid(cmd);
      case CMD.bootVersion:
        return noData ? frame(cmd, Buffer.from(BOOT_VERSION, 'ascii')) : this.invalid(cmd);
      case CMD.currency:
        return noData ? frame(cmd, currencyTable()) : this.invalid(cmd);
    }
    if (SETTING_LENGTH.has(cmd)) return this.applySetting(cmd, data);
    if (cmd >= 0x80 && cmd <= 0x85 && noData) return frame(cmd, this.settings.get(cmd + 0x40)!);
    return this.invalid(cmd);
  }

  private invalid(cmd: number): Uint8Array {
    this.report(`invalid command ${hex(cmd)} in this state: answered ${hex(ST.invalidCommand)}`);
    return frame(ST.invalidCommand);
  }

  private statusFrameParts(): [number, number?] {
    if (this.phase === 'power-up') return [this.powerUpStatus];
    if (this.phase === 'initializing') return [ST.initialize];
    if (this.fault) return this.fault.data === undefined ? [this.fault.status] : [this.fault.status, this.fault.data];
    const note = this.note;
    if (note) {
      const status = STAGE_STATUS[note.stage];
      if (note.stage === 'escrow') return [status, note.record!.code];
      if (note.stage === 'rejecting') return [status, note.rejectReason!];
      return [status];
    }
    return [this.inhibited() ? ST.disabled : ST.idling];
  }

  private statusFrame(): Uint8Array {
    const [status, data] = this.statusFrameParts();
    return frame(status, data === undefined ? [] : [data]);
  }

  // ------------------------------------------------------------------ host commands

  private reset(): Uint8Array {
    this.report('host: reset');
    this.clearStageTimer();
    const pending = this.phase === 'power-up' ? this.recovered : this.note;
    this.recovered = undefined;
    this.note = undefined;
    if (pending) this.settleOnReset(pending);
    this.settings.set(INHIBIT, Uint8Array.of(1));
    this.phase = 'initializing';
    this.report('initializing');
    // Its own timer: a fault that strikes while initialising (setFault clears the note's stage
    // timer) must not leave the device initialising for ever.
    clearTimeout(this.initTimer);
    this.initTimer = setTimeout(() => {
      this.initTimer = undefined;
      this.phase = 'running';
      this.report(`initialized: ${this.restingName()}`);
    }, this.timing.initializeMs);
    return frame(ST.ack);
  }

  /** Reset finishes what the mechanism was doing: a note short of the stacker comes back out. */
  private settleOnReset(note: NoteInPath): void {
    switch (note.stage) {
      case 'stacking':
      case 'vend-valid':
        this.intoBox(note.value);
        this.report(`stacked ${note.value} fen (reset completed the stack, no VEND VALID)`);
        return;
      case 'stacked':
        return;
      default:
        this.returned.push(note.value);
        this.report(`returned ${note.value} fen (reset)`);
    }
  }

  private noteAwaitingDecision(): NoteInPath | undefined {
    if (this.phase !== 'running' || this.fault) return undefined;
    const note = this.note;
    return note && (note.stage === 'escrow' || note.stage === 'holding') ? note : undefined;
  }

  private stack(cmd: number): Uint8Array {
    const note = this.noteAwaitingDecision();
    if (!note) return this.invalid(cmd);
    this.report(`host: stack-${cmd === CMD.stack1 ? 1 : 2}`);
    this.enterStage(note, 'stacking');
    this.report(`stacking ${note.value} fen`);
    return frame(ST.ack);
  }

  private returnNote(): Uint8Array {
    const note = this.noteAwaitingDecision();
    if (!note) return this.invalid(CMD.return);
    this.report('host: return');
    this.enterStage(note, 'returning');
    this.report(`returning ${note.value} fen`);
    return frame(ST.ack);
  }

  private hold(): Uint8Array {
    const note = this.noteAwaitingDecision();
    if (!note) return this.invalid(CMD.hold);
    this.report('host: hold');
    this.enterStage(note, 'holding');
    this.report(`holding ${note.value} fen`);
    return frame(ST.ack);
  }

  /** The host's ACK has no reply on the wire; it only matters while VEND VALID is pending. */
  private hostAck(): void {
    const note = this.note;
    if (!note || note.stage !== 'vend-valid' || this.fault) {
      this.report('host: ACK with no VEND VALID pending (ignored)');
      return;
    }
    this.report('vend valid acknowledged');
    this.intoBox(note.value);
    this.report(`stacked ${note.value} fen`);
    this.enterStage(note, 'stacked');
  }

  private applySetting(cmd: number, data: Uint8Array): Uint8Array {
    if (data.length !== SETTING_LENGTH.get(cmd)) return this.invalid(cmd);
    if (cmd === INHIBIT && data[0]! > 1) return this.invalid(cmd);
    this.settings.set(cmd, Uint8Array.from(data));
    if (cmd === INHIBIT) {
      this.report(data[0] === 0 ? 'host: inhibit off (accepting enabled)' : 'host: inhibit on (disabled)');
    } else if (cmd === DENOMINATION_MASK) {
      const disabled = CNY_NOTES.filter((n) => this.disabledNote(n)).map((n) => n.value);
      this.report(`host: denomination mask ${hexBytes(data)} (disabled: ${disabled.join(', ') || 'none'})`);
    } else {
      this.report(`host: setting ${hex(cmd)} = ${hexBytes(data)}`);
    }
    return frame(cmd, data);
  }

  // ------------------------------------------------------------------ the mechanism

  private inhibited(): boolean {
    return this.settings.get(INHIBIT)![0] !== 0;
  }

  private disabledNote(note: NoteRecord): boolean {
    const mask = this.settings.get(DENOMINATION_MASK)!;
    return ((mask[0]! | (mask[1]! << 8)) & maskBit(note)) !== 0;
  }

  private restingName(): string {
    if (this.fault) return this.fault.name;
    return this.inhibited() ? 'disabled (inhibited)' : 'idling';
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
      case 'stacking':
        return this.timing.stackingMs;
      case 'stacked':
        return this.timing.stackedMs;
      case 'rejecting':
      case 'returning':
        return this.timing.returningMs;
      default:
        return undefined;
    }
  }

  private advance(note: NoteInPath): void {
    switch (note.stage) {
      case 'accepting':
        this.validate(note);
        return;
      case 'stacking':
        this.enterStage(note, 'vend-valid');
        this.report(`vend valid ${note.value} fen (repeated until the host ACKs)`);
        return;
      case 'stacked':
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
        this.finish();
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
      reason = REJECT_DENOMINATION;
      why = 'unknown denomination';
    } else if (this.inhibited()) {
      reason = REJECT_INHIBITED;
      why = 'inhibited';
    } else if (this.disabledNote(record)) {
      reason = REJECT_INHIBITED;
      why = 'denomination disabled';
    }
    if (reason !== undefined) {
      note.rejectReason = reason;
      this.enterStage(note, 'rejecting');
      this.report(`rejected: ${why} (${note.value} fen, reason ${hex(reason)})`);
      return;
    }
    this.enterStage(note, 'escrow');
    this.report(`escrow ${note.value} fen (code ${hex(record!.code)})`);
  }

  private finish(): void {
    this.note = undefined;
    this.report(this.restingName());
  }

  private setFault(fault: Fault): void {
    this.clearStageTimer();
    this.fault = fault;
    const note = this.note;
    if (note && !fault.keepsNote && note.stage !== 'stacked') {
      this.note = undefined;
      this.lost.push(note.value);
      this.report(`${fault.name} (${hex(fault.status)}): ${note.value} fen note lost in the path`);
      return;
    }
    if (note && note.stage === 'stacked') this.note = undefined;
    this.report(`${fault.name} (${hex(fault.status)})`);
  }

  private powerOff(): void {
    this.clearStageTimer();
    clearTimeout(this.initTimer);
    this.initTimer = undefined;
    clearTimeout(this.partialTimer);
    this.parser = new CommandParser();
    this.settings = defaultSettings();
    this.note = undefined;
    this.fault = undefined;
    this.muted = false;
    this.garbageArmed = false;
  }

  private powerOn(status: number, recovered: NoteInPath | undefined): void {
    this.phase = 'power-up';
    this.powerUpStatus = status;
    this.recovered = recovered;
    const place = status === ST.powerUpBillInStacker ? 'in the stacker' : 'in the acceptor';
    const where = recovered ? ` with the ${recovered.value} fen note ${place}` : '';
    this.report(`power up${where} (${hex(status)}), waiting for reset`);
  }

  private clearStageTimer(): void {
    clearTimeout(this.stageTimer);
    this.stageTimer = undefined;
  }

  private report(line: string): void {
    this.emit('report', line);
  }
}
