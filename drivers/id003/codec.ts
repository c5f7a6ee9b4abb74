/** Pure ID-003 framing and decoding: no I/O, no timers. */
import { crc16Kermit } from '../checksum/crc16.js';
import { SyncFrameSplitter, kermitTrailerMatches } from '../line/sync-splitter.js';
import {
  ACK,
  COUNTRIES,
  DENOMINATION_MASK_BITS,
  FAILURE_CODES,
  FIRST_ESCROW_CODE,
  MAX_FRAME_LENGTH,
  MIN_FRAME_LENGTH,
  REJECT_REASONS,
  Status,
  SYNC,
  isSettingCommand,
} from './constants.js';

/** One checked frame: the command or status byte and the bytes between it and the CRC. */
export interface Frame {
  cmd: number;
  data: Buffer;
  /** The whole frame as it was on the wire. */
  bytes: Buffer;
}

export function encodeCommand(cmd: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const length = data.length + MIN_FRAME_LENGTH;
  if (length > MAX_FRAME_LENGTH) throw new RangeError(`ID-003 frame too long: ${length} bytes`);
  const frame = Buffer.alloc(length);
  frame[0] = SYNC;
  frame[1] = length;
  frame[2] = cmd;
  frame.set(data, 3);
  const crc = crc16Kermit(frame, 0, length - 2);
  frame[length - 2] = crc & 0xff;
  frame[length - 1] = crc >>> 8;
  return frame;
}

/** Checks one complete frame; throws on a wrong SYNC, length or CRC. */
export function parseFrame(bytes: Uint8Array): Frame {
  const buf = Buffer.from(bytes);
  if (buf.length < MIN_FRAME_LENGTH || buf[0] !== SYNC || buf[1] !== buf.length) {
    throw new Error(`not an ID-003 frame: ${buf.toString('hex')}`);
  }
  if (!kermitTrailerMatches(buf, 0, buf.length)) throw new Error(`ID-003 frame with a bad CRC: ${buf.toString('hex')}`);
  return { cmd: buf[2]!, data: buf.subarray(3, buf.length - 2), bytes: buf };
}

// ------------------------------------------------------------------------------ replies

export type PlainStatusKind =
  | 'idling'
  | 'accepting'
  | 'stacking'
  | 'vend-valid'
  | 'stacked'
  | 'returning'
  | 'holding'
  | 'disabled'
  | 'initialize'
  | 'power-up'
  | 'power-up-bill-in-acceptor'
  | 'power-up-bill-in-stacker'
  | 'stacker-full'
  | 'stacker-open'
  | 'jam-acceptor'
  | 'jam-stacker'
  | 'pause'
  | 'cheated'
  | 'communication-error'
  | 'invalid-command';

const PLAIN_STATUSES: ReadonlyMap<number, PlainStatusKind> = new Map([
  [Status.idling, 'idling'],
  [Status.accepting, 'accepting'],
  [Status.stacking, 'stacking'],
  [Status.vendValid, 'vend-valid'],
  [Status.stacked, 'stacked'],
  [Status.returning, 'returning'],
  [Status.holding, 'holding'],
  [Status.disabled, 'disabled'],
  [Status.initialize, 'initialize'],
  [Status.powerUp, 'power-up'],
  [Status.powerUpBillInAcceptor, 'power-up-bill-in-acceptor'],
  [Status.powerUpBillInStacker, 'power-up-bill-in-stacker'],
  [Status.stackerFull, 'stacker-full'],
  [Status.stackerOpen, 'stacker-open'],
  [Status.jamAcceptor, 'jam-acceptor'],
  [Status.jamStacker, 'jam-stacker'],
  [Status.pause, 'pause'],
  [Status.cheated, 'cheated'],
  [Status.communicationError, 'communication-error'],
  [Status.invalidCommand, 'invalid-command'],
]);

export type DeviceStatusReply =
  | { kind: PlainStatusKind }
  | { kind: 'escrow'; code: number }
  | { kind: 'rejecting'; code: number; reason: string }
  | { kind: 'failure'; code: number; text: string };

export type Reply =
  | DeviceStatusReply
  | { kind: 'ack' }
  | { kind: 'echo'; cmd: number; data: Buffer }
  | { kind: 'version'; text: string }
  | { kind: 'currency'; records: CurrencyRecord[] }
  | { kind: 'unknown'; cmd: number; data: Buffer };

export type ReplyKind = Reply['kind'];

/** True for the replies a status request can get (everything but ack/echo/version/currency/unknown). */
export function isStatusReply(reply: Reply): reply is DeviceStatusReply {
  return !['ack', 'echo', 'version', 'currency', 'unknown'].includes(reply.kind);
}

export function rejectReasonText(code: number): string {
  return REJECT_REASONS[code] ?? `unknown reject reason 0x${hex(code)}`;
}

export function failureText(code: number): string {
  return FAILURE_CODES[code] ?? `unknown failure 0x${hex(code)}`;
}

/** Decodes a frame the acceptor sent. A status that lacks its data byte decodes as 'unknown'. */
export function decodeStatus(input: Frame | Uint8Array): Reply {
  const frame = input instanceof Uint8Array ? parseFrame(input) : input;
  const { cmd, data } = frame;
  const plain = PLAIN_STATUSES.get(cmd);
  if (plain) return { kind: plain };
  const first = data[0];
  switch (cmd) {
    case Status.escrow:
      if (first !== undefined) return { kind: 'escrow', code: first };
      break;
    case Status.rejecting:
      if (first !== undefined) return { kind: 'rejecting', code: first, reason: rejectReasonText(first) };
      break;
    case Status.failure:
      if (first !== undefined) return { kind: 'failure', code: first, text: failureText(first) };
      break;
    case ACK:
      return { kind: 'ack' };
    case 0x88:
      return { kind: 'version', text: data.toString('latin1').replace(/[\0\s]+$/, '').trim() };
    case 0x8a:
      return { kind: 'currency', records: parseCurrencyTable(data) };
    default:
      if (isSettingCommand(cmd)) return { kind: 'echo', cmd, data: Buffer.from(data) };
  }
  return { kind: 'unknown', cmd, data: Buffer.from(data) };
}

// ------------------------------------------------------------------------------ denominations

export interface CurrencyRecord {
  /** Escrow code (0x61…). */
  code: number;
  /** Vendor country code. */
  country: number;
  /** ISO 4217 code, or undefined when the country code is not in our table. */
  currency: string | undefined;
  base: number;
  exp: number;
  /** Face value in minor units (fen for CNY): base × 10^(exp + minor digits). */
  value: number;
}

const RECORD_SIZE = 4;
/** Assumed for a country we do not know; such records carry currency undefined. */
const DEFAULT_MINOR_DIGITS = 2;

/**
 * Reads the 0x8A reply: 4-byte records [code][country][base][exponent]. Records with base 0 are
 * unused slots; a trailing partial record (some units append a boot version) is ignored, and so is
 * a record whose value would not be a safe integer.
 */
export function parseCurrencyTable(data: Uint8Array): CurrencyRecord[] {
  const records: CurrencyRecord[] = [];
  for (let at = 0; at + RECORD_SIZE <= data.length; at += RECORD_SIZE) {
    const code = data[at]!;
    const country = data[at + 1]!;
    const base = data[at + 2]!;
    const exp = data[at + 3]!;
    if (base === 0) continue;
    const known = COUNTRIES[country];
    let value = base;
    for (let i = 0; i < exp + (known?.minorDigits ?? DEFAULT_MINOR_DIGITS) && Number.isSafeInteger(value); i++) {
      value *= 10;
    }
    if (!Number.isSafeInteger(value)) continue;
    records.push({ code, country, currency: known?.currency, base, exp, value });
  }
  return records;
}

/** The 0xC0 data: bit i stands for escrow code 0x61 + i, and a set bit disables that note. */
export function denominationMask(disabledCodes: Iterable<number>): Buffer {
  let bits = 0;
  for (const code of disabledCodes) {
    const bit = code - FIRST_ESCROW_CODE;
    if (bit >= 0 && bit < DENOMINATION_MASK_BITS) bits |= 1 << bit;
  }
  return Buffer.from([bits & 0xff, bits >>> 8]);
}

// ------------------------------------------------------------------------------ splitting

export type { SplitterStats } from '../line/sync-splitter.js';

/** Cuts a byte stream into checked frames, resyncing on the next SYNC after a bad one. */
export class FrameSplitter extends SyncFrameSplitter<Frame> {
  constructor() {
    super({ sync: SYNC, lengthAt: 1, minLength: MIN_FRAME_LENGTH, frame: (bytes) => ({ cmd: bytes[2]!, data: bytes.subarray(3, bytes.length - 2), bytes }) });
  }
}

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
