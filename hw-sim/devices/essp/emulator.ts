import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Transport } from '../../../drivers/transport/types.js';
import { CHANNELS, channelByValue, setupReply } from './channels.js';
import { STEX, openPacket, probablyPrime, readU64, sealPacket, slaveKeys, writeU64 } from './crypto.js';
import { HostParser, STX, packet, type HostPacket } from './wire.js';

/** How long the emulated mechanism spends in each transient state. */
export interface EsspTiming {
  /** Reading a note until it is in escrow (or rejected). */
  acceptingMs: number;
  /** From the host's POLL accepting the note to the credit. */
  stackingMs: number;
  /** From the credit to the note in the cash box (stacked). */
  stackedMs: number;
  /** Giving back a rejected or returned note. */
  returningMs: number;
  /** A note in escrow with no command from the host for this long is rejected (the device's 10 s). */
  escrowTimeoutMs: number;
}

export const DEFAULT_TIMING: EsspTiming = {
  acceptingMs: 150,
  stackingMs: 300,
  stackedMs: 150,
  returningMs: 300,
  escrowTimeoutMs: 10_000,
};

export interface EsspEmulatorOptions {
  transport: Transport;
  timing?: Partial<EsspTiming>;
  /** SSP address. Default 0 (a banknote validator). */
  address?: number;
  /** The fixed half of the AES key. Default ITL's 0x0123456701234567. */
  fixedKey?: bigint;
  serialNumber?: number;
}

export type EsspEmulatorEvents = {
  /** One human-readable line per thing the device does. */
  report: [string];
};

export const FIRMWARE_TEXT = 'ESSP-SIM NV200 CNY V4.20';
const DEFAULT_FIXED_KEY = 0x0123456701234567n;
const DEFAULT_SERIAL = 12345678;
const HIGHEST_PROTOCOL = 8;
/** The protocol the device speaks until the host sets one. */
const DEFAULT_PROTOCOL = 6;
/** A host packet whose tail never arrives is abandoned after this quiet gap. */
const PARTIAL_PACKET_GAP_MS = 50;

const C = {
  reset: 0x01,
  setInhibits: 0x02,
  setupRequest: 0x05,
  protocolVersion: 0x06,
  poll: 0x07,
  reject: 0x08,
  disable: 0x09,
  enable: 0x0a,
  serialNumber: 0x0c,
  sync: 0x11,
  lastRejectCode: 0x17,
  hold: 0x18,
  firmware: 0x20,
  setGenerator: 0x4a,
  setModulus: 0x4b,
  keyExchange: 0x4c,
  pollWithAck: 0x56,
  eventAck: 0x57,
} as const;

const OK = 0xf0;
const UNKNOWN = 0xf2;
const WRONG_PARAMETERS = 0xf3;
const OUT_OF_RANGE = 0xf4;
const CANNOT = 0xf5;
const FAIL = 0xf8;
const KEY_NOT_SET = 0xfa;

const E = {
  slaveReset: 0xf1,
  read: 0xef,
  credit: 0xee,
  rejecting: 0xed,
  rejected: 0xec,
  stacking: 0xcc,
  stacked: 0xeb,
  safeJam: 0xea,
  unsafeJam: 0xe9,
  disabled: 0xe8,
  fraud: 0xe6,
  stackerFull: 0xe7,
  clearedFromFront: 0xe1,
  clearedIntoCashbox: 0xe2,
  pathOpen: 0xe0,
  cashboxRemoved: 0xe3,
  cashboxReplaced: 0xe4,
  channelDisable: 0xb5,
} as const;

/**
 * Which commands need encryption: all but the five that set up a session and its key (SYNC, HOST
 * PROTOCOL VERSION, SET GENERATOR, SET MODULUS, REQUEST KEY EXCHANGE). Any other command sent in the
 * clear, or encrypted before a key exists, is answered KEY NOT SET (0xFA) in the clear: this
 * emulates a unit with encryption made mandatory, the way payout units always run.
 */
const PLAIN_ALLOWED: ReadonlySet<number> = new Set([C.sync, C.protocolVersion, C.setGenerator, C.setModulus, C.keyExchange]);

const REJECT = {
  validation: 0x02,
  channelInhibited: 0x06,
  byHost: 0x08,
  disabled: 0x0c,
  escrowTimeout: 0x13,
} as const;

type Stage = 'reading' | 'escrow' | 'stacking' | 'credited' | 'rejecting';

interface NoteInPath {
  value: number;
  /** Undefined for a value the dataset does not know: it can only be rejected. */
  channel: number | undefined;
  stage: Stage;
  /** Its Read event with the channel has gone out in a poll reply: the next poll accepts it. */
  announced: boolean;
  held: boolean;
  /** The credit event: not yet given, waiting in the queue or for its EVENT ACK, or done with. */
  credit: 'none' | 'pending' | 'done';
  /** The stacker has finished moving it (stackedMs after the credit). */
  inBox: boolean;
}

interface Fault {
  event: number;
  name: string;
}

/**
 * An event waiting for the next poll. `sent` runs when it first goes out; `settle` once the host
 * has it for good (with POLL WITH ACK: once acknowledged).
 */
interface QueuedEvent {
  bytes: number[];
  needsAck: boolean;
  sent?: () => void;
  settle?: () => void;
}

const ACK_CODES = new Set<number>([E.credit, E.clearedFromFront, E.clearedIntoCashbox]);

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
const hexBytes = (b: Iterable<number>): string => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');

/**
 * An ITL NV200-style validator speaking eSSP on a serial line, with the CNY dataset, mandatory
 * encryption, the sequence flag rule, POLL WITH ACK, HOLD with the escrow time-out, and injectable
 * faults. It only answers; the host drives everything by polling, as with the real device.
 */
export class EsspEmulator extends EventEmitter<EsspEmulatorEvents> {
  /** Face values (fen) that reached the cash box, in order. */
  readonly stacked: number[] = [];
  /** Face values given back after the host's REJECT, or cleared from the front at power-up. */
  readonly returned: number[] = [];
  /** Face values the device refused by itself and gave back. */
  readonly rejected: number[] = [];
  /** Face values that disappeared in a jam, a fraud attempt or a plain power cut. */
  readonly lost: number[] = [];

  private readonly transport: Transport;
  private readonly timing: EsspTiming;
  private readonly address: number;
  private readonly fixedKey: bigint;
  private readonly serialNumber: number;
  private parser = new HostParser();

  private protocolVersion = DEFAULT_PROTOCOL;
  private generator: bigint | undefined;
  private modulus: bigint | undefined;
  private key: Buffer | undefined;
  /** eCOUNT the next encrypted command must carry. */
  private count = 0;
  /** Sequence flag of the last command executed; undefined after power-up. */
  private lastSeq: number | undefined;
  private lastReply: Uint8Array | undefined;

  private enabled = false;
  private inhibits = 0;
  private lastRejectCode = 0;
  private queue: QueuedEvent[] = [];
  /** The reply POLL WITH ACK repeats until EVENT ACK. */
  private unacked: { events: QueuedEvent[]; bytes: number[] } | undefined;
  private note: NoteInPath | undefined;
  private waiting: number | undefined;
  private fault: Fault | undefined;
  private muted = false;
  private garbageArmed = false;
  private readonly box = new Map<number, number>();
  private stageTimer: NodeJS.Timeout | undefined;
  private escrowTimer: NodeJS.Timeout | undefined;
  private partialTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onClose = (): void => this.report('serial line closed');
  private readonly onError = (err: Error): void => this.report(`serial line error: ${err.message}`);

  constructor(options: EsspEmulatorOptions) {
    super();
    this.transport = options.transport;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.address = options.address ?? 0;
    this.fixedKey = options.fixedKey ?? DEFAULT_FIXED_KEY;
    this.serialNumber = options.serialNumber ?? DEFAULT_SERIAL;
    this.queue.push({ bytes: [E.slaveReset], needsAck: false });
  }

  async start(): Promise<void> {
    if (!this.transport.isOpen) await this.transport.open();
    this.transport.on('data', this.onData);
    this.transport.on('close', this.onClose);
    this.transport.on('error', this.onError);
    this.report(`power up: slave reset reported at the next poll; ${this.restingName()}`);
  }

  async stop(): Promise<void> {
    this.clearTimers();
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

  /** Parser counters, for checking that noise from the host was survived. */
  lineErrors(): { garbageBytes: number; badFrames: number; abandoned: number } {
    return { garbageBytes: this.parser.garbageBytes, badFrames: this.parser.badFrames, abandoned: this.parser.abandoned };
  }

  /** Whether a key has been negotiated since the last power-up. */
  encrypted(): boolean {
    return this.key !== undefined;
  }

  describe(): string {
    const channels = CHANNELS.filter((c) => this.channelEnabled(c.channel)).map((c) => c.value);
    const note = this.note ? `${this.note.stage} ${this.note.value} fen` : 'none';
    const box = CHANNELS.filter((c) => this.box.has(c.value))
      .map((c) => `${c.value}x${this.box.get(c.value)}`)
      .join(', ');
    return (
      `${this.enabled ? 'enabled' : 'disabled'}, protocol ${this.protocolVersion}, ` +
      `encryption ${this.key ? `on (eCOUNT ${this.count})` : 'off'}, channels enabled: ${channels.join(', ') || 'none'}, ` +
      `note in path: ${note}, fault: ${this.fault?.name ?? 'none'}${this.muted ? ', silent' : ''}; ` +
      `cash box: ${box || 'empty'} (total ${this.cashboxTotal()} fen)`
    );
  }

  // ------------------------------------------------------------------ the customer and the technician

  /**
   * A customer pushes a note of this face value (fen) into the bezel. While another note is in
   * the path the customer waits with the note at the slot; it goes in as soon as the path is free.
   */
  insert(value: number): void {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`insert needs a positive whole amount in fen, got ${value}`);
    if (this.fault) throw new Error(`cannot insert: device reports ${this.fault.name}`);
    if (this.note || this.unacked) {
      if (this.waiting !== undefined) throw new Error(`cannot insert: a ${this.waiting} fen note is already waiting at the slot`);
      this.waiting = value;
      this.report(`validator busy: the customer holds a ${value} fen note at the slot`);
      return;
    }
    this.feed(value);
  }

  jam(): void {
    this.setFault({ event: E.unsafeJam, name: 'unsafe jam' });
  }

  safeJam(): void {
    this.setFault({ event: E.safeJam, name: 'safe jam' });
  }

  stackerFull(): void {
    this.setFault({ event: E.stackerFull, name: 'stacker full' });
  }

  /** The cash box is taken out; clear() puts it back (cash box replaced). */
  stackerOpen(): void {
    this.setFault({ event: E.cashboxRemoved, name: 'cash box removed' });
  }

  pathOpen(): void {
    this.setFault({ event: E.pathOpen, name: 'note path open' });
  }

  /** A fraud attempt (a note on a string): reported once; the note in the path is lost. */
  fraud(): void {
    const note = this.note;
    this.clearTimers();
    this.enqueue([E.fraud, note?.channel ?? 0]);
    if (note) this.loseNote(note, 'fraud attempt');
    else this.report(`fraud attempt (${hex(E.fraud)})`);
  }

  /** The technician fixed whatever was wrong: faults and silence end. */
  clear(): void {
    if (this.fault?.event === E.cashboxRemoved) this.enqueue([E.cashboxReplaced]);
    this.fault = undefined;
    this.muted = false;
    this.report(`cleared: ${this.restingName()}`);
    this.offerWaiting();
  }

  /** Stop answering the host at all, as a dead or unplugged device would, until clear(). */
  silent(): void {
    this.muted = true;
    this.report('silent: no more replies until clear');
  }

  /** Precede the next reply with line noise and one packet with a broken CRC. */
  garbage(): void {
    this.garbageArmed = true;
    this.report('garbage: the next reply comes after noise and a bad-CRC packet');
  }

  /** Power cut and back: keys, settings, faults and any note in the path are gone. */
  powerCycle(): void {
    const note = this.note;
    this.powerOff();
    if (note) {
      this.lost.push(note.value);
      this.report(`power cut: ${note.value} fen note lost in the path`);
    }
    this.powerOn([], '');
  }

  /**
   * Power cut with a note in the path: at power-up the device clears it, to the front (0xE1) when it
   * had not been accepted, into the cash box (0xE2) once it had, and reports where with its channel.
   */
  powerCycleWithBill(): void {
    const note = this.note;
    if (!note) throw new Error('power-cycle-with-bill: no note in the path (insert one first)');
    this.powerOff();
    const intoBox = note.stage === 'stacking' || note.stage === 'credited';
    if (intoBox) this.intoBox(note.value);
    else this.returned.push(note.value);
    const event = intoBox ? E.clearedIntoCashbox : E.clearedFromFront;
    const where = intoBox ? 'cleared into the cash box' : 'cleared from the front';
    this.powerOn([[event, note.channel ?? 0]], ` with the ${note.value} fen note ${where} (${hex(event)})`);
  }

  // ------------------------------------------------------------------ the line

  private receive(chunk: Buffer): void {
    clearTimeout(this.partialTimer);
    for (const p of this.parser.push(chunk)) this.answer(p);
    if (this.parser.pending) {
      this.partialTimer = setTimeout(() => this.parser.abandonPartial(), PARTIAL_PACKET_GAP_MS);
    }
  }

  private answer({ seqId, data }: HostPacket): void {
    if ((seqId & 0x7f) !== this.address || this.muted) return;
    const seq = seqId & 0x80;
    const plainSync = data.length === 1 && data[0] === C.sync;
    if (!plainSync && seq === this.lastSeq && this.lastReply) {
      this.report(`repeated sequence flag (${seq ? 1 : 0}): last reply sent again, command not executed`);
      this.send(this.lastReply);
      return;
    }
    let command: Uint8Array = data;
    let encrypted = false;
    if (data[0] === STEX) {
      if (!this.key) {
        this.reply(seqId, seq, [KEY_NOT_SET], 'an encrypted command before any key was negotiated');
        return;
      }
      const opened = openPacket(this.key, data);
      if (!opened.ok) {
        this.report(`discarded: packet ${opened.why}`);
        return;
      }
      if (opened.count !== this.count) {
        this.report(`discarded: packet with eCOUNT ${opened.count}, expected ${this.count}`);
        return;
      }
      this.count = (this.count + 1) >>> 0;
      command = opened.data;
      encrypted = true;
    } else if (!PLAIN_ALLOWED.has(data[0]!)) {
      this.reply(seqId, seq, [KEY_NOT_SET], `command ${hex(data[0]!)} must be encrypted`);
      return;
    }
    if (command[0] !== C.poll && command[0] !== C.pollWithAck) this.restartEscrowTimer();
    const { reply, after } = this.execute(command);
    const wire = encrypted ? sealPacket(this.key!, this.count, reply) : reply;
    this.reply(seqId, plainSync ? 0x80 : seq, wire);
    after?.();
  }

  /**
   * Sends a reply and remembers it for a repeated sequence flag. After SYNC the flag counts as set,
   * so the host's next command, with the flag clear, is a new one.
   */
  private reply(seqId: number, seq: number, data: Uint8Array | readonly number[], keyNotSetWhy?: string): void {
    if (keyNotSetWhy) this.report(`answered KEY NOT SET (${hex(KEY_NOT_SET)}): ${keyNotSetWhy}`);
    const bytes = packet(seqId, data);
    this.lastSeq = seq;
    this.lastReply = bytes;
    if (this.garbageArmed) {
      this.garbageArmed = false;
      this.send(this.noise(seqId));
    }
    this.send(bytes);
  }

  /** Random bytes without an STX in them, then a well-formed packet whose CRC is wrong. */
  private noise(seqId: number): Uint8Array {
    const junk = Array.from(randomBytes(4 + (randomBytes(1)[0]! % 5)), (b) => (b === STX ? 0x00 : b));
    return Uint8Array.from([...junk, ...packet(seqId, [OK], true)]);
  }

  private send(bytes: Uint8Array): void {
    this.writing = this.writing
      .then(() => this.transport.write(bytes))
      .catch((err: Error) => this.report(`write failed: ${err.message}`));
  }

  // ------------------------------------------------------------------ host commands

  private execute(command: Uint8Array): { reply: number[]; after?: () => void } {
    const code = command[0]!;
    const args = [...command.subarray(1)];
    const none = (run: () => number[]): { reply: number[] } => ({ reply: args.length === 0 ? run() : [WRONG_PARAMETERS] });
    switch (code) {
      case C.sync:
        return none(() => {
          this.report('host: sync');
          return [OK];
        });
      case C.protocolVersion:
        return { reply: this.setProtocol(args) };
      case C.setGenerator:
      case C.setModulus:
        return { reply: this.setPrime(code, args) };
      case C.keyExchange:
        return this.keyExchange(args);
      case C.setupRequest:
        return none(() => [OK, ...setupReply(this.protocolVersion)]);
      case C.serialNumber:
        return none(() => [OK, ...[24, 16, 8, 0].map((s) => (this.serialNumber >>> s) & 0xff)]);
      case C.firmware:
        return none(() => [OK, ...Buffer.from(FIRMWARE_TEXT, 'ascii')]);
      case C.setInhibits:
        return { reply: this.setInhibits(args) };
      case C.enable:
      case C.disable:
        return none(() => this.setEnabled(code === C.enable));
      case C.poll:
      case C.pollWithAck:
        return none(() => this.poll(code === C.pollWithAck));
      case C.eventAck:
        return none(() => this.eventAck());
      case C.hold:
        return none(() => this.hold());
      case C.reject:
        return none(() => this.hostReject());
      case C.lastRejectCode:
        return none(() => [OK, this.lastRejectCode]);
      case C.reset:
        return { reply: [OK], after: () => this.resetCommand() };
      default:
        this.report(`unknown command ${hex(code)}: answered ${hex(UNKNOWN)}`);
        return { reply: [UNKNOWN] };
    }
  }

  private setProtocol(args: number[]): number[] {
    if (args.length !== 1) return [WRONG_PARAMETERS];
    const version = args[0]!;
    if (version < 1 || version > HIGHEST_PROTOCOL) {
      this.report(`host: protocol version ${version} not supported: answered FAIL`);
      return [FAIL];
    }
    this.protocolVersion = version;
    this.report(`host: protocol version ${version}`);
    return [OK];
  }

  private setPrime(code: number, args: number[]): number[] {
    if (args.length !== 8) return [WRONG_PARAMETERS];
    const n = readU64(Uint8Array.from(args));
    const what = code === C.setGenerator ? 'generator' : 'modulus';
    if (!probablyPrime(n)) {
      this.report(`host: ${what} ${n} is not prime: answered ${hex(OUT_OF_RANGE)}`);
      return [OUT_OF_RANGE];
    }
    if (code === C.setGenerator) this.generator = n;
    else this.modulus = n;
    return [OK];
  }

  private keyExchange(args: number[]): { reply: number[]; after?: () => void } {
    if (args.length !== 8) return { reply: [WRONG_PARAMETERS] };
    if (this.generator === undefined || this.modulus === undefined) {
      this.report('host: key exchange before generator and modulus: answered cannot process');
      return { reply: [CANNOT] };
    }
    const { slaveIntermediate, aesKey } = slaveKeys(this.generator, this.modulus, readU64(Uint8Array.from(args)), this.fixedKey);
    // The reply still goes out under the old key (if any); the new one applies from the next command.
    return {
      reply: [OK, ...writeU64(slaveIntermediate)],
      after: () => {
        this.key = aesKey;
        this.count = 0;
        this.report('host: key exchange done, encryption on (eCOUNT 0)');
      },
    };
  }

  private setInhibits(args: number[]): number[] {
    if (args.length < 1 || args.length > 3) return [WRONG_PARAMETERS];
    this.inhibits = (args[0] ?? 0) | ((args[1] ?? 0) << 8);
    const enabled = CHANNELS.filter((c) => this.channelEnabled(c.channel)).map((c) => c.value);
    this.report(`host: channel inhibits ${hexBytes(args)} (enabled: ${enabled.join(', ') || 'none'})`);
    return [OK];
  }

  private setEnabled(on: boolean): number[] {
    if (this.enabled !== on) this.report(on ? 'host: enable (accepting enabled)' : 'host: disable (disabled)');
    this.enabled = on;
    return [OK];
  }

  private poll(withAck: boolean): number[] {
    // A poll after the host has seen the note in escrow is its "accept"; what follows comes with the next poll.
    const note = this.note;
    const accept = note?.stage === 'escrow' && note.announced && !this.fault;
    let bytes: number[];
    if (this.unacked) {
      bytes = this.unacked.bytes;
    } else {
      const events = this.queue;
      this.queue = [];
      bytes = [...events.flatMap((e) => e.bytes), ...this.movementEvent(events), ...this.conditionEvents()];
      for (const e of events) e.sent?.();
      if (withAck && events.some((e) => e.needsAck)) {
        this.unacked = { events, bytes };
      } else {
        for (const e of events) e.settle?.();
      }
    }
    if (note && accept) {
      this.clearEscrowTimer();
      note.stage = 'stacking';
      this.enqueue([E.stacking]);
      this.report(`stacking ${note.value} fen`);
      this.armStage(this.timing.stackingMs, () => this.credit(note));
    }
    return [OK, ...bytes];
  }

  private eventAck(): number[] {
    const pending = this.unacked;
    if (!pending) return [CANNOT];
    this.unacked = undefined;
    this.report('host: event ack');
    for (const e of pending.events) e.settle?.();
    this.offerWaiting();
    return [OK];
  }

  private hold(): number[] {
    const note = this.note;
    if (note?.stage !== 'escrow' || this.fault) return [CANNOT];
    if (!note.held) {
      note.held = true;
      this.report(`holding ${note.value} fen (host HOLD)`);
    }
    return [OK];
  }

  private hostReject(): number[] {
    const note = this.note;
    if (note?.stage !== 'escrow' || this.fault) return [CANNOT];
    this.clearEscrowTimer();
    this.report('host: reject');
    this.report(`returning ${note.value} fen`);
    this.startRejecting(note, REJECT.byHost, true);
    return [OK];
  }

  private resetCommand(): void {
    this.report('host: reset');
    this.powerCycle();
  }

  // ------------------------------------------------------------------ the mechanism

  private channelEnabled(channel: number): boolean {
    return (this.inhibits & (1 << (channel - 1))) !== 0;
  }

  /**
   * A note movement in progress (reading, stacking, rejecting) is in every poll reply while it
   * lasts, as on the device, so a host that restarts in the middle of one still sees it.
   */
  private movementEvent(queued: readonly { bytes: number[] }[]): number[] {
    const stage = this.note?.stage;
    const event = stage === 'reading' ? [E.read, 0] : stage === 'stacking' ? [E.stacking] : stage === 'rejecting' ? [E.rejecting] : undefined;
    if (!event || queued.some((e) => e.bytes[0] === event[0] && e.bytes[1] === event[1])) return [];
    return event;
  }

  /** Events that describe a lasting condition; they are in every poll reply while it lasts. */
  private conditionEvents(): number[] {
    if (this.fault) return [this.fault.event];
    if (!this.enabled) return [E.disabled];
    if (!CHANNELS.some((c) => this.channelEnabled(c.channel))) return [E.channelDisable];
    return [];
  }

  private enqueue(bytes: number[], hooks: { sent?: () => void; settle?: () => void } = {}): void {
    this.queue.push({ bytes, needsAck: ACK_CODES.has(bytes[0]!), ...hooks });
  }

  private restingName(): string {
    if (this.fault) return this.fault.name;
    return this.enabled ? 'idling' : 'disabled';
  }

  private offerWaiting(): void {
    if (this.waiting === undefined || this.note || this.fault || this.unacked) return;
    const value = this.waiting;
    this.waiting = undefined;
    this.feed(value);
  }

  private feed(value: number): void {
    const channel = channelByValue(value)?.channel;
    const note: NoteInPath = {
      value,
      channel,
      stage: 'reading',
      announced: false,
      held: false,
      credit: 'none',
      inBox: false,
    };
    this.note = note;
    this.enqueue([E.read, 0]);
    this.report(`accepting ${value} fen`);
    this.armStage(this.timing.acceptingMs, () => this.validate(note));
  }

  private validate(note: NoteInPath): void {
    let code: number | undefined;
    let why = '';
    if (note.channel === undefined) {
      code = REJECT.validation;
      why = 'unknown denomination';
    } else if (!this.enabled) {
      code = REJECT.disabled;
      why = 'disabled';
    } else if (!this.channelEnabled(note.channel)) {
      code = REJECT.channelInhibited;
      why = 'channel inhibited';
    }
    if (code !== undefined) {
      this.report(`rejected: ${why} (${note.value} fen, reject code ${hex(code)})`);
      this.startRejecting(note, code, false);
      return;
    }
    note.stage = 'escrow';
    this.enqueue([E.read, note.channel!], { sent: () => (note.announced = true) });
    this.report(`escrow ${note.value} fen (channel ${note.channel})`);
    this.restartEscrowTimer();
  }

  private startRejecting(note: NoteInPath, code: number, byHost: boolean): void {
    note.stage = 'rejecting';
    this.lastRejectCode = code;
    this.enqueue([E.rejecting]);
    this.armStage(this.timing.returningMs, () => {
      this.enqueue([E.rejected]);
      if (byHost) {
        this.returned.push(note.value);
        this.report(`returned ${note.value} fen`);
      } else {
        this.rejected.push(note.value);
        this.report(`gave back rejected ${note.value} fen`);
      }
      this.finish();
    });
  }

  private credit(note: NoteInPath): void {
    note.stage = 'credited';
    note.credit = 'pending';
    this.enqueue([E.credit, note.channel!], {
      settle: () => {
        note.credit = 'done';
        this.maybeStacked(note);
      },
    });
    this.report(`credit ${note.value} fen (repeated until EVENT ACK when polled with ACK)`);
    this.armStage(this.timing.stackedMs, () => {
      note.inBox = true;
      this.maybeStacked(note);
    });
  }

  /** The note is reported stacked once it is in the box and its credit was taken (and acknowledged). */
  private maybeStacked(note: NoteInPath): void {
    if (this.note !== note || !note.inBox || note.credit !== 'done') return;
    this.intoBox(note.value);
    this.enqueue([E.stacked]);
    this.report(`stacked ${note.value} fen`);
    this.finish();
  }

  private finish(): void {
    this.note = undefined;
    this.report(this.restingName());
    this.offerWaiting();
  }

  private intoBox(value: number): void {
    this.box.set(value, (this.box.get(value) ?? 0) + 1);
    this.stacked.push(value);
  }

  private restartEscrowTimer(): void {
    const note = this.note;
    if (note?.stage !== 'escrow' || this.fault) return;
    this.clearEscrowTimer();
    this.escrowTimer = setTimeout(() => {
      this.escrowTimer = undefined;
      if (this.note !== note || note.stage !== 'escrow') return;
      this.report(`escrow time-out: rejecting ${note.value} fen (reject code ${hex(REJECT.escrowTimeout)})`);
      this.startRejecting(note, REJECT.escrowTimeout, false);
    }, this.timing.escrowTimeoutMs);
  }

  private setFault(fault: Fault): void {
    this.clearTimers();
    this.fault = fault;
    const note = this.note;
    if (note) this.loseNote(note, `${fault.name} (${hex(fault.event)})`);
    else this.report(`${fault.name} (${hex(fault.event)})`);
  }

  /** A note past its credit is in the box for good; any other is lost to the customer and the count. */
  private loseNote(note: NoteInPath, why: string): void {
    this.note = undefined;
    if (note.stage === 'credited') {
      this.intoBox(note.value);
      this.report(`${why}: ${note.value} fen note already credited, kept in the cash box`);
      return;
    }
    this.lost.push(note.value);
    this.report(`${why}: ${note.value} fen note lost in the path`);
  }

  private powerOff(): void {
    this.clearTimers();
    clearTimeout(this.partialTimer);
    this.parser = new HostParser();
    this.protocolVersion = DEFAULT_PROTOCOL;
    this.generator = undefined;
    this.modulus = undefined;
    this.key = undefined;
    this.count = 0;
    this.lastSeq = undefined;
    this.lastReply = undefined;
    this.enabled = false;
    this.inhibits = 0;
    this.queue = [];
    this.unacked = undefined;
    this.note = undefined;
    this.fault = undefined;
    this.muted = false;
    this.garbageArmed = false;
  }

  private powerOn(extra: number[][], where: string): void {
    this.enqueue([E.slaveReset]);
    for (const event of extra) this.enqueue(event);
    this.report(`power up${where}: keys and settings cleared, slave reset reported at the next poll; ${this.restingName()}`);
  }

  private armStage(ms: number, then: () => void): void {
    clearTimeout(this.stageTimer);
    this.stageTimer = setTimeout(() => {
      this.stageTimer = undefined;
      then();
    }, ms);
  }

  private clearEscrowTimer(): void {
    clearTimeout(this.escrowTimer);
    this.escrowTimer = undefined;
  }

  private clearTimers(): void {
    clearTimeout(this.stageTimer);
    this.stageTimer = undefined;
    this.clearEscrowTimer();
  }

  private report(line: string): void {
    this.emit('report', line);
  }
}
