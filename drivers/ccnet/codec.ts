/** Pure CCNET framing and decoding: no I/O, no timers. */
import { crc16Kermit } from '../checksum/crc16.js';
import { SyncFrameSplitter, kermitTrailerMatches } from '../line/sync-splitter.js';
import {
  ACK,
  ASSET_NUMBER_LENGTH,
  BILL_TABLE_ENTRY,
  BILL_TYPES,
  COUNTRIES,
  FAILURE_CODES,
  MAX_FRAME_LENGTH,
  MIN_FRAME_LENGTH,
  NAK,
  PART_NUMBER_LENGTH,
  REJECT_REASONS,
  SERIAL_NUMBER_LENGTH,
  State,
  SYNC,
  VALIDATOR_ADDRESS,
} from './constants.js';

/**
 * One checked frame. `data` is everything between LNG and the CRC: the command and its data in a
 * host frame, the state (or ACK, NAK, a data answer) in a validator frame.
 */
export interface Frame {
  address: number;
  data: Buffer;
  /** The whole frame as it was on the wire. */
  bytes: Buffer;
}

/** SYNC, ADR, LNG and the two CRC bytes. */
const FRAME_OVERHEAD = 5;

export function encodeFrame(data: Uint8Array, address: number = VALIDATOR_ADDRESS): Buffer {
  if (data.length === 0) throw new RangeError('CCNET frame without data');
  const length = data.length + FRAME_OVERHEAD;
  if (length > MAX_FRAME_LENGTH) throw new RangeError(`CCNET frame too long: ${length} bytes`);
  const frame = Buffer.alloc(length);
  frame[0] = SYNC;
  frame[1] = address;
  frame[2] = length;
  frame.set(data, 3);
  const crc = crc16Kermit(frame, 0, length - 2);
  frame[length - 2] = crc & 0xff;
  frame[length - 1] = crc >>> 8;
  return frame;
}

/** A host command to the bill validator. */
export function encodeCommand(cmd: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  return encodeFrame(Buffer.concat([Buffer.of(cmd), data]));
}

/** Checks one complete frame; throws on a wrong SYNC, length or CRC. */
export function parseFrame(bytes: Uint8Array): Frame {
  const buf = Buffer.from(bytes);
  if (buf.length < MIN_FRAME_LENGTH || buf[0] !== SYNC || buf[2] !== buf.length) {
    throw new Error(`not a CCNET frame: ${buf.toString('hex')}`);
  }
  if (!kermitTrailerMatches(buf, 0, buf.length)) throw new Error(`CCNET frame with a bad CRC: ${buf.toString('hex')}`);
  return { address: buf[1]!, data: buf.subarray(3, buf.length - 2), bytes: buf };
}

// ------------------------------------------------------------------------------ replies

export type PlainStateKind =
  | 'power-up'
  | 'power-up-bill-in-validator'
  | 'power-up-bill-in-stacker'
  | 'initialize'
  | 'idling'
  | 'accepting'
  | 'stacking'
  | 'returning'
  | 'disabled'
  | 'holding'
  | 'busy'
  | 'illegal-command'
  | 'stacker-full'
  | 'stacker-open'
  | 'jam-acceptor'
  | 'jam-stacker'
  | 'cheated'
  | 'pause';

const PLAIN_STATES: ReadonlyMap<number, PlainStateKind> = new Map([
  [State.powerUp, 'power-up'],
  [State.powerUpBillInValidator, 'power-up-bill-in-validator'],
  [State.powerUpBillInStacker, 'power-up-bill-in-stacker'],
  [State.initialize, 'initialize'],
  [State.idling, 'idling'],
  [State.accepting, 'accepting'],
  [State.stacking, 'stacking'],
  [State.returning, 'returning'],
  [State.disabled, 'disabled'],
  [State.holding, 'holding'],
  [State.busy, 'busy'],
  [State.illegalCommand, 'illegal-command'],
  [State.dropCassetteFull, 'stacker-full'],
  [State.cassetteOutOfPosition, 'stacker-open'],
  [State.validatorJammed, 'jam-acceptor'],
  [State.cassetteJammed, 'jam-stacker'],
  [State.cheated, 'cheated'],
  [State.pause, 'pause'],
]);

/** States that carry the bill type as their second byte. */
const BILL_EVENTS: ReadonlyMap<number, 'escrow' | 'stacked' | 'returned'> = new Map([
  [State.escrow, 'escrow'],
  [State.billStacked, 'stacked'],
  [State.billReturned, 'returned'],
] as const);

export type PollState =
  | { kind: PlainStateKind }
  | { kind: 'escrow' | 'stacked' | 'returned'; billType: number }
  | { kind: 'rejecting'; code: number; reason: string }
  | { kind: 'failure'; code: number; text: string };

export type Reply = PollState | { kind: 'ack' } | { kind: 'nak' } | { kind: 'unknown'; data: Buffer };

export type ReplyKind = Reply['kind'];

export function isPollState(reply: Reply): reply is PollState {
  return reply.kind !== 'ack' && reply.kind !== 'nak' && reply.kind !== 'unknown';
}

export function rejectReasonText(code: number): string {
  return REJECT_REASONS[code] ?? `unknown reject reason 0x${hex(code)}`;
}

export function failureText(code: number): string {
  return FAILURE_CODES[code] ?? `unknown failure 0x${hex(code)}`;
}

/**
 * Decodes what the validator sent in answer to POLL or to a command. A state that lacks its
 * second byte, and anything not in the tables, decodes as 'unknown'. Data answers (identification,
 * bill table) are read by their own functions: their first byte means nothing here.
 */
export function decodeReply(input: Frame | Uint8Array): Reply {
  const data = input instanceof Uint8Array ? Buffer.from(input) : input.data;
  const first = data[0];
  const second = data[1];
  if (data.length === 1 && first === ACK) return { kind: 'ack' };
  if (data.length === 1 && first === NAK) return { kind: 'nak' };
  if (first === undefined) return { kind: 'unknown', data: Buffer.from(data) };
  const plain = PLAIN_STATES.get(first);
  if (plain) return { kind: plain };
  const event = BILL_EVENTS.get(first);
  if (event && second !== undefined) return { kind: event, billType: second };
  if (first === State.rejecting && second !== undefined) {
    return { kind: 'rejecting', code: second, reason: rejectReasonText(second) };
  }
  if (first === State.failure && second !== undefined) return { kind: 'failure', code: second, text: failureText(second) };
  return { kind: 'unknown', data: Buffer.from(data) };
}

// ------------------------------------------------------------------------------ bill table

export interface BillTableEntry {
  /** Position in the table (0–23): the bill type of the escrow and stacked states. */
  billType: number;
  /** The denomination's leading digits as the table gives them. */
  digits: number;
  /** Three-letter country code as sent, e.g. 'CHN'. */
  country: string;
  /** Power of ten; negative when bit 7 of the fifth byte is set. */
  exponent: number;
  /** ISO 4217 code, or undefined when the country is not in our table. */
  currency: string | undefined;
  /** Face value in minor units; undefined when it is not a whole number of them. */
  value: number | undefined;
}

/**
 * Reads the GET BILL TABLE answer: 24 entries of [digits][country × 3 ASCII][power of ten]; face
 * value = digits × 10^power, the power negative when its bit 7 is set. Entries with digits 0 are
 * unused bill types. A short answer gives the entries it holds.
 */
export function parseBillTable(data: Uint8Array): BillTableEntry[] {
  const entries: BillTableEntry[] = [];
  for (let billType = 0; billType < BILL_TYPES; billType++) {
    const at = billType * BILL_TABLE_ENTRY;
    if (at + BILL_TABLE_ENTRY > data.length) break;
    const digits = data[at]!;
    if (digits === 0) continue;
    const country = Buffer.from(data.subarray(at + 1, at + 4)).toString('latin1');
    const power = data[at + 4]!;
    const exponent = power & 0x80 ? -(power & 0x7f) : power;
    const known = COUNTRIES[country];
    entries.push({
      billType,
      digits,
      country,
      exponent,
      currency: known?.currency,
      value: known ? minorUnits(digits, exponent + known.minorDigits) : undefined,
    });
  }
  return entries;
}

function minorUnits(digits: number, exponent: number): number | undefined {
  let value = digits;
  for (let i = 0; i < exponent && Number.isSafeInteger(value); i++) value *= 10;
  for (let i = 0; i > exponent; i--) {
    if (value % 10 !== 0) return undefined;
    value /= 10;
  }
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A 24-bit bill type mask as ENABLE BILL TYPES carries it: most significant byte first, bit n = type n. */
export function billTypeMask(types: Iterable<number>): Buffer {
  let bits = 0;
  for (const t of types) if (Number.isInteger(t) && t >= 0 && t < BILL_TYPES) bits |= 1 << t;
  return Buffer.from([(bits >>> 16) & 0xff, (bits >>> 8) & 0xff, bits & 0xff]);
}

/** ENABLE BILL TYPES data: the types accepted, then the types held in escrow. */
export function enableBillTypesData(enabled: Iterable<number>, escrow: Iterable<number>): Buffer {
  return Buffer.concat([billTypeMask(enabled), billTypeMask(escrow)]);
}

// ------------------------------------------------------------------------------ identification

export interface Identification {
  partNumber: string;
  serialNumber: string;
  assetNumber: Buffer;
}

export const IDENTIFICATION_LENGTH = PART_NUMBER_LENGTH + SERIAL_NUMBER_LENGTH + ASSET_NUMBER_LENGTH;

/** Reads the IDENTIFICATION answer; longer answers (extended identification) keep their first fields. */
export function parseIdentification(data: Uint8Array): Identification {
  if (data.length < IDENTIFICATION_LENGTH) {
    throw new Error(`CCNET identification too short: ${data.length} bytes, ${IDENTIFICATION_LENGTH} expected`);
  }
  const buf = Buffer.from(data);
  const text = (from: number, length: number) =>
    buf
      .subarray(from, from + length)
      .toString('latin1')
      .replace(/[\0\s]+$/, '')
      .trim();
  return {
    partNumber: text(0, PART_NUMBER_LENGTH),
    serialNumber: text(PART_NUMBER_LENGTH, SERIAL_NUMBER_LENGTH),
    assetNumber: buf.subarray(PART_NUMBER_LENGTH + SERIAL_NUMBER_LENGTH, IDENTIFICATION_LENGTH),
  };
}

// ------------------------------------------------------------------------------ splitting

export type { SplitterStats } from '../line/sync-splitter.js';

/** Cuts a byte stream into checked frames, resyncing on the next SYNC after a bad one. */
export class FrameSplitter extends SyncFrameSplitter<Frame> {
  constructor() {
    super({ sync: SYNC, lengthAt: 2, minLength: MIN_FRAME_LENGTH, frame: (bytes) => ({ address: bytes[1]!, data: bytes.subarray(3, bytes.length - 2), bytes }) });
  }
}

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
