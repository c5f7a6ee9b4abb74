/** Pure SSP framing and decoding: no I/O, no timers, no keys (those are in crypto.ts). */
import { crc16Cms } from '../checksum/crc16.js';
import { Ev, GENERIC_NAMES, Generic, MAX_ADDRESS, MAX_DATA_LENGTH, SEQ_FLAG, STX, UNIT_TYPES } from './constants.js';

/** One checked packet, unstuffed. */
export interface Frame {
  address: number;
  /** The sequence flag (bit 7 of SEQ/ID). */
  seq: boolean;
  data: Buffer;
}

/** STX, SEQ/ID, LENGTH, DATA, CRC low, CRC high; every 0x7F after the STX doubled. */
export function encodeFrame(address: number, seq: boolean, data: Uint8Array): Buffer {
  if (!Number.isInteger(address) || address < 0 || address > MAX_ADDRESS) throw new RangeError(`SSP address out of range: ${address}`);
  if (data.length === 0 || data.length > MAX_DATA_LENGTH) throw new RangeError(`SSP data length out of range: ${data.length}`);
  const body = Buffer.alloc(data.length + 4);
  body[0] = address | (seq ? SEQ_FLAG : 0);
  body[1] = data.length;
  body.set(data, 2);
  const crc = crc16Cms(body, 0, data.length + 2);
  body[data.length + 2] = crc & 0xff;
  body[data.length + 3] = crc >>> 8;
  return Buffer.concat([Buffer.of(STX), stuff(body)]);
}

export function stuff(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  for (const b of bytes) {
    out.push(b);
    if (b === STX) out.push(STX);
  }
  return Buffer.from(out);
}

// ------------------------------------------------------------------------------ splitting

export interface SplitterStats {
  /** Bytes thrown away: noise outside a packet, and the bytes of packets found to be bad. */
  droppedBytes: number;
  badCrc: number;
  /** Packets cut short by a lone STX (a new packet started before this one ended). */
  aborted: number;
  /** Packets announcing LENGTH 0, which no command or reply has. */
  badLength: number;
}

/**
 * Cuts a byte stream into checked packets, undoing the byte stuffing as it goes. A lone STX (one
 * not doubled) inside a packet means the sender started over: the packet so far is dropped and a
 * new one begins. Keeps at most one unfinished packet (≤ 259 unstuffed bytes) between pushes.
 */
export class FrameSplitter {
  readonly stats: SplitterStats = { droppedBytes: 0, badCrc: 0, aborted: 0, badLength: 0 };
  private inPacket = false;
  /** The previous byte was a 0x7F inside a packet: either half of a stuffed pair or a new STX. */
  private escape = false;
  private body: number[] = [];

  /** Bytes held for an unfinished packet. */
  get pending(): number {
    return this.inPacket ? this.body.length + 1 : 0;
  }

  push(bytes: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    for (const b of bytes) {
      const frame = this.take(b);
      if (frame) frames.push(frame);
    }
    return frames;
  }

  /** Drops the unfinished packet (after a reply time-out, its tail is not coming). */
  abandonPending(): void {
    if (!this.inPacket) return;
    this.stats.droppedBytes += this.pending;
    this.reset();
  }

  reset(): void {
    this.inPacket = false;
    this.escape = false;
    this.body = [];
  }

  private take(b: number): Frame | undefined {
    if (!this.inPacket) {
      if (b === STX) this.startPacket();
      else this.stats.droppedBytes++;
      return undefined;
    }
    if (this.escape) {
      this.escape = false;
      if (b !== STX) {
        this.stats.aborted++;
        this.stats.droppedBytes += this.body.length + 1;
        this.startPacket();
        return this.add(b);
      }
    } else if (b === STX) {
      this.escape = true;
      return undefined;
    }
    return this.add(b);
  }

  private startPacket(): void {
    this.inPacket = true;
    this.escape = false;
    this.body = [];
  }

  private add(b: number): Frame | undefined {
    const body = this.body;
    body.push(b);
    if (body.length === 2 && body[1] === 0) {
      this.stats.badLength++;
      this.stats.droppedBytes += 3;
      this.reset();
      return undefined;
    }
    if (body.length < 2 || body.length < body[1]! + 4) return undefined;
    const length = body[1]!;
    this.reset();
    const bytes = Buffer.from(body);
    const crc = crc16Cms(bytes, 0, length + 2);
    if ((crc & 0xff) !== bytes[length + 2] || crc >>> 8 !== bytes[length + 3]) {
      this.stats.badCrc++;
      this.stats.droppedBytes += bytes.length + 1;
      return undefined;
    }
    return { address: bytes[0]! & ~SEQ_FLAG & 0xff, seq: (bytes[0]! & SEQ_FLAG) !== 0, data: bytes.subarray(2, 2 + length) };
  }
}

// ------------------------------------------------------------------------------ replies

export type GenericStatus =
  | 'ok'
  | 'unknown-command'
  | 'wrong-parameters'
  | 'out-of-range'
  | 'cannot-process'
  | 'software-error'
  | 'fail'
  | 'key-not-set'
  | 'unknown';

const STATUS_OF: ReadonlyMap<number, GenericStatus> = new Map([
  [Generic.ok, 'ok'],
  [Generic.unknownCommand, 'unknown-command'],
  [Generic.wrongParameters, 'wrong-parameters'],
  [Generic.outOfRange, 'out-of-range'],
  [Generic.cannotProcess, 'cannot-process'],
  [Generic.softwareError, 'software-error'],
  [Generic.fail, 'fail'],
  [Generic.keyNotSet, 'key-not-set'],
]);

export interface Reply {
  /** The generic response byte. */
  code: number;
  status: GenericStatus;
  /** What follows the generic byte. */
  data: Buffer;
}

/** Reads the (plain or decrypted) DATA of a reply. */
export function decodeReply(data: Uint8Array): Reply {
  if (data.length === 0) throw new Error('empty SSP reply');
  const code = data[0]!;
  return { code, status: STATUS_OF.get(code) ?? 'unknown', data: Buffer.from(data.subarray(1)) };
}

export function genericName(code: number): string {
  return GENERIC_NAMES[code] ?? `unknown response 0x${hex(code)}`;
}

// ------------------------------------------------------------------------------ poll events

export type EventKind =
  | 'slave-reset'
  | 'read'
  | 'credit'
  | 'rejecting'
  | 'rejected'
  | 'stacking'
  | 'stacked'
  | 'safe-jam'
  | 'unsafe-jam'
  | 'disabled'
  | 'fraud-attempt'
  | 'stacker-full'
  | 'cleared-from-front'
  | 'cleared-into-cashbox'
  | 'path-open'
  | 'cashbox-removed'
  | 'cashbox-replaced'
  | 'channel-disable'
  | 'initialising'
  | 'payout-value'
  | 'payout-incomplete';

export interface PollEvent {
  code: number;
  kind: EventKind;
  /** The channel byte of read, credit, fraud attempt and the power-up clear events. */
  channel?: number;
  /** The event's data bytes as sent (value events of payout devices keep their raw data here). */
  data: Buffer;
}

/** Events of a validator, with the number of data bytes each carries in every protocol version. */
const FIXED_EVENTS: ReadonlyMap<number, [EventKind, number]> = new Map([
  [Ev.slaveReset, ['slave-reset', 0]],
  [Ev.read, ['read', 1]],
  [Ev.credit, ['credit', 1]],
  [Ev.rejecting, ['rejecting', 0]],
  [Ev.rejected, ['rejected', 0]],
  [Ev.stacking, ['stacking', 0]],
  [Ev.stacked, ['stacked', 0]],
  [Ev.safeJam, ['safe-jam', 0]],
  [Ev.unsafeJam, ['unsafe-jam', 0]],
  [Ev.disabled, ['disabled', 0]],
  [Ev.fraudAttempt, ['fraud-attempt', 1]],
  [Ev.stackerFull, ['stacker-full', 0]],
  [Ev.clearedFromFront, ['cleared-from-front', 1]],
  [Ev.clearedIntoCashbox, ['cleared-into-cashbox', 1]],
  [Ev.pathOpen, ['path-open', 0]],
  [Ev.cashboxRemoved, ['cashbox-removed', 0]],
  [Ev.cashboxReplaced, ['cashbox-replaced', 0]],
  [Ev.channelDisable, ['channel-disable', 0]],
  [Ev.initialising, ['initialising', 0]],
]);

const CHANNEL_EVENTS = new Set<EventKind>(['read', 'credit', 'fraud-attempt', 'cleared-from-front', 'cleared-into-cashbox']);

/**
 * Payout-device events that carry a value. From protocol 6 on: a count, then per currency a uint32
 * value and 3 ASCII currency letters; before 6: one uint32 value. They are parsed only so that the
 * events after them are not lost; a validator does not send them.
 */
const VALUE_EVENTS = new Set([0xda, 0xd2, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xde, 0xdf]);
/** Incomplete payout / float: per currency two uint32 (paid, requested) and 3 letters; before 6, two uint32. */
const INCOMPLETE_EVENTS = new Set([0xdc, 0xdd]);

export interface PollParse {
  events: PollEvent[];
  /** Bytes left when an unknown event code (or a truncated event) made the rest unreadable. */
  unparsed: Buffer;
}

/** Splits the data of an OK poll reply (after the 0xF0) into events, oldest first. */
export function parsePollEvents(data: Uint8Array, protocolVersion: number): PollParse {
  const buf = Buffer.from(data);
  const events: PollEvent[] = [];
  let at = 0;
  while (at < buf.length) {
    const code = buf[at]!;
    const length = eventDataLength(buf, at, protocolVersion);
    if (length === undefined || at + 1 + length > buf.length) break;
    const eventData = buf.subarray(at + 1, at + 1 + length);
    const kind = FIXED_EVENTS.get(code)?.[0] ?? (VALUE_EVENTS.has(code) ? 'payout-value' : 'payout-incomplete');
    events.push(CHANNEL_EVENTS.has(kind) ? { code, kind, channel: eventData[0]!, data: eventData } : { code, kind, data: eventData });
    at += 1 + length;
  }
  return { events, unparsed: buf.subarray(at) };
}

function eventDataLength(buf: Buffer, at: number, version: number): number | undefined {
  const code = buf[at]!;
  const fixed = FIXED_EVENTS.get(code);
  if (fixed) return fixed[1];
  const perCurrency = VALUE_EVENTS.has(code) ? 7 : INCOMPLETE_EVENTS.has(code) ? 11 : undefined;
  if (perCurrency === undefined) return undefined;
  if (version < 6) return perCurrency === 7 ? 4 : 8;
  const count = buf[at + 1];
  return count === undefined ? undefined : 1 + count * perCurrency;
}

// ------------------------------------------------------------------------------ setup request

export interface ChannelInfo {
  /** 1-based channel number, as read and credit events report it. */
  channel: number;
  /** Face value in minor units. */
  value: number;
  currency: string;
}

export interface SetupInfo {
  unitType: number;
  unitName: string;
  firmware: string;
  country: string;
  protocolVersion: number;
  channels: ChannelInfo[];
}

/**
 * Reads a validator's SETUP REQUEST reply: unit type, 4 ASCII firmware, 3 ASCII country, value
 * multiplier (3, big-endian), channel count n, n channel values, n security bytes, real value
 * multiplier (3, big-endian), protocol version; from protocol 6 on also n × 3 ASCII currencies and
 * n × uint32 LE channel values. A channel's value in minor units is its value (the 4-byte one when
 * present) times the real value multiplier. [U] GA138 calls the real value multiplier the factor to
 * the minor unit; confirm on a unit before deploying.
 */
export function parseSetup(data: Uint8Array): SetupInfo {
  const b = Buffer.from(data);
  const need = (n: number, what: string) => {
    if (b.length < n) throw new Error(`setup request reply too short for ${what}: ${b.length} bytes`);
  };
  need(12, 'the header');
  const unitType = b[0]!;
  const firmware = b.toString('latin1', 1, 5);
  const country = b.toString('latin1', 5, 8);
  const n = b[11]!;
  need(12 + 2 * n + 4, `${n} channels`);
  const multiplierAt = 12 + 2 * n;
  const realMultiplier = b.readUIntBE(multiplierAt, 3);
  const protocolVersion = b[multiplierAt + 3]!;
  const channels: ChannelInfo[] = [];
  const expandedAt = multiplierAt + 4;
  const expanded = protocolVersion >= 6;
  if (expanded) need(expandedAt + 7 * n, 'the expanded channel data');
  for (let i = 0; i < n; i++) {
    const value = expanded ? b.readUInt32LE(expandedAt + 3 * n + 4 * i) : b[12 + i]!;
    const currency = expanded ? b.toString('latin1', expandedAt + 3 * i, expandedAt + 3 * i + 3) : country;
    channels.push({ channel: i + 1, value: value * realMultiplier, currency });
  }
  return { unitType, unitName: UNIT_TYPES[unitType] ?? `unit type 0x${hex(unitType)}`, firmware, country, protocolVersion, channels };
}

/** SET INHIBITS data: two bytes, bit i set enables channel i + 1 (channels 1–16). */
export function inhibitMask(enabledChannels: Iterable<number>): Buffer {
  let bits = 0;
  for (const ch of enabledChannels) if (ch >= 1 && ch <= 16) bits |= 1 << (ch - 1);
  return Buffer.of(bits & 0xff, bits >>> 8);
}

/** 64-bit little-endian, as SET GENERATOR, SET MODULUS and the key exchange carry their numbers. */
export function uint64le(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
