/**
 * Pure ZVT encoding: APDUs (class, instruction, length, data; a length of 255 or more is FF and two
 * bytes little-endian), BCD numbers, bitmaps (BMP number and value) and the TLV container of BMP 06.
 * Every malformed input throws a ZvtCodecError; nothing else is thrown for bad bytes.
 */
import { BMP_FORMATS, type BmpFormat } from './constants.js';

export class ZvtCodecError extends Error {}

export interface Apdu {
  cls: number;
  instr: number;
  data: Buffer;
}

export const MAX_APDU_DATA = 0xffff;
const EXTENDED = 0xff;

export function encodeApdu(cls: number, instr: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  if (data.length > MAX_APDU_DATA) throw new ZvtCodecError(`APDU data of ${data.length} bytes over ${MAX_APDU_DATA}`);
  const header = data.length < EXTENDED ? Buffer.from([cls, instr, data.length]) : Buffer.from([cls, instr, EXTENDED, data.length & 0xff, data.length >>> 8]);
  return Buffer.concat([header, data]);
}

/** Total size of the APDU starting at `at`, or undefined while its header is incomplete. */
export function apduSize(bytes: Uint8Array, at = 0): number | undefined {
  if (bytes.length - at < 3) return undefined;
  const length = bytes[at + 2]!;
  if (length !== EXTENDED) return 3 + length;
  if (bytes.length - at < 5) return undefined;
  return 5 + (bytes[at + 3]! | (bytes[at + 4]! << 8));
}

/** Exactly one APDU. */
export function decodeApdu(bytes: Uint8Array): Apdu {
  const size = apduSize(bytes);
  if (size === undefined) throw new ZvtCodecError(`APDU header incomplete: ${bytes.length} bytes`);
  if (size !== bytes.length) throw new ZvtCodecError(`APDU length field says ${size} bytes, got ${bytes.length}`);
  const headerLength = bytes[2] === EXTENDED ? 5 : 3;
  return { cls: bytes[0]!, instr: bytes[1]!, data: Buffer.from(bytes.subarray(headerLength)) };
}

/** Cuts the TCP byte stream into APDUs. TCP has no framing of its own: only the length field. */
export class ApduSplitter {
  private buffer: Buffer = Buffer.alloc(0);

  get pending(): number {
    return this.buffer.length;
  }

  push(chunk: Uint8Array): Apdu[] {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    const apdus: Apdu[] = [];
    let at = 0;
    for (;;) {
      const size = apduSize(this.buffer, at);
      if (size === undefined || at + size > this.buffer.length) break;
      apdus.push(decodeApdu(this.buffer.subarray(at, at + size)));
      at += size;
    }
    this.buffer = Buffer.from(this.buffer.subarray(at));
    return apdus;
  }

  reset(): void {
    this.buffer = Buffer.alloc(0);
  }
}

// ------------------------------------------------------------------------------ BCD

/** `value` as packed BCD in `size` bytes, most significant digit first. */
export function encodeBcd(value: number, size: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new ZvtCodecError(`not a BCD number: ${value}`);
  const digits = value.toString();
  if (digits.length > size * 2) throw new ZvtCodecError(`${value} does not fit in ${size} BCD bytes`);
  return Buffer.from(digits.padStart(size * 2, '0'), 'hex');
}

export function decodeBcd(bytes: Uint8Array): number {
  let value = 0;
  for (const b of bytes) {
    const hi = b >>> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) throw new ZvtCodecError(`not BCD: 0x${b.toString(16).padStart(2, '0')}`);
    value = value * 100 + hi * 10 + lo;
  }
  if (!Number.isSafeInteger(value)) throw new ZvtCodecError(`BCD number of ${bytes.length} bytes too large`);
  return value;
}

/** BCD digits as a string, keeping leading zeros (terminal ids). */
export function bcdDigits(bytes: Uint8Array): string {
  for (const b of bytes) if (b >>> 4 > 9 || (b & 0x0f) > 9) throw new ZvtCodecError(`not BCD: 0x${b.toString(16)}`);
  return Buffer.from(bytes).toString('hex');
}

// ------------------------------------------------------------------------------ BMPs

export interface BmpField {
  id: number;
  /** The value without its length prefix; for BMP 06 the TLV objects inside the container. */
  value: Buffer;
}

/** LL or LLL prefix: one F0..F9 byte per decimal digit. */
function readVarLength(bytes: Uint8Array, at: number, digits: 2 | 3, id: number): number {
  if (at + digits > bytes.length) throw new ZvtCodecError(`BMP ${hex(id)}: length prefix cut short`);
  let length = 0;
  for (let i = 0; i < digits; i++) {
    const b = bytes[at + i]!;
    if (b >>> 4 !== 0x0f || (b & 0x0f) > 9) throw new ZvtCodecError(`BMP ${hex(id)}: bad length prefix byte ${hex(b)}`);
    length = length * 10 + (b & 0x0f);
  }
  return length;
}

function varLength(length: number, digits: 2 | 3, id: number): Buffer {
  if (length >= 10 ** digits) throw new ZvtCodecError(`BMP ${hex(id)}: ${length} bytes do not fit an L${'L'.repeat(digits - 1)}VAR`);
  return Buffer.from(length.toString().padStart(digits, '0').split('').map((d) => 0xf0 | Number(d)));
}

function formatOf(id: number): BmpFormat {
  const format = BMP_FORMATS.get(id);
  if (!format) throw new ZvtCodecError(`unknown BMP ${hex(id)}`);
  return format;
}

export interface BmpParse {
  fields: BmpField[];
  /** Set when parsing stopped at a BMP it could not delimit; the fields before it are good. */
  error?: ZvtCodecError;
}

/**
 * Reads a sequence of BMPs. Without `lenient` the first problem throws; with it, parsing stops there
 * and the fields read so far come back with the error (a terminal may add BMPs of a newer revision).
 */
export function parseBmps(bytes: Uint8Array, lenient = false): BmpParse {
  const fields: BmpField[] = [];
  let at = 0;
  try {
    while (at < bytes.length) {
      const id = bytes[at]!;
      const format = formatOf(id);
      at++;
      let start = at;
      let length: number;
      if (format === 'tlv') {
        const l = readTlvLength(bytes, at);
        start = at + l.size;
        length = l.length;
      } else if ('fixed' in format) {
        length = format.fixed;
      } else {
        length = readVarLength(bytes, at, format.var, id);
        start = at + format.var;
      }
      if (start + length > bytes.length) throw new ZvtCodecError(`BMP ${hex(id)}: ${length} bytes announced, ${bytes.length - start} left`);
      fields.push({ id, value: Buffer.from(bytes.subarray(start, start + length)) });
      at = start + length;
    }
  } catch (err) {
    if (!(err instanceof ZvtCodecError) || !lenient) throw err;
    return { fields, error: err };
  }
  return { fields };
}

export function encodeBmp(id: number, value: Uint8Array): Buffer {
  const format = formatOf(id);
  if (format === 'tlv') return Buffer.concat([Buffer.from([id]), tlvLength(value.length), value]);
  if ('fixed' in format) {
    if (value.length !== format.fixed) throw new ZvtCodecError(`BMP ${hex(id)} takes ${format.fixed} bytes, got ${value.length}`);
    return Buffer.concat([Buffer.from([id]), value]);
  }
  return Buffer.concat([Buffer.from([id]), varLength(value.length, format.var, id), value]);
}

export function encodeBmps(fields: readonly BmpField[]): Buffer {
  return Buffer.concat(fields.map((f) => encodeBmp(f.id, f.value)));
}

// ------------------------------------------------------------------------------ TLV (BER-like)

export interface TlvObject {
  /** The tag bytes read big-endian: 0x07, 0x1F07 … */
  tag: number;
  value: Buffer;
  /** The objects inside a constructed tag (bit 6 of its first byte set). */
  children?: TlvObject[];
}

const MAX_TAG_BYTES = 3;
const MAX_DEPTH = 8;

/** 0..127 in one byte; 81 xx; 82 xx xx (big-endian). */
export function tlvLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length <= 0xff) return Buffer.from([0x81, length]);
  if (length <= 0xffff) return Buffer.from([0x82, length >>> 8, length & 0xff]);
  throw new ZvtCodecError(`TLV length ${length} over 65535`);
}

function readTlvLength(bytes: Uint8Array, at: number): { length: number; size: number } {
  if (at >= bytes.length) throw new ZvtCodecError('TLV length missing');
  const first = bytes[at]!;
  if (first < 0x80) return { length: first, size: 1 };
  if (first === 0x81 && at + 2 <= bytes.length) return { length: bytes[at + 1]!, size: 2 };
  if (first === 0x82 && at + 3 <= bytes.length) return { length: (bytes[at + 1]! << 8) | bytes[at + 2]!, size: 3 };
  throw new ZvtCodecError(`bad TLV length byte ${hex(first)}`);
}

function readTag(bytes: Uint8Array, at: number): { tag: number; size: number; constructed: boolean } {
  const first = bytes[at]!;
  let tag = first;
  let size = 1;
  if ((first & 0x1f) === 0x1f) {
    for (;;) {
      if (at + size >= bytes.length) throw new ZvtCodecError('TLV tag cut short');
      if (size >= MAX_TAG_BYTES) throw new ZvtCodecError(`TLV tag longer than ${MAX_TAG_BYTES} bytes`);
      const b = bytes[at + size]!;
      tag = tag * 256 + b;
      size++;
      if ((b & 0x80) === 0) break;
    }
  }
  return { tag, size, constructed: (first & 0x20) !== 0 };
}

export function parseTlv(bytes: Uint8Array, depth = 0): TlvObject[] {
  if (depth > MAX_DEPTH) throw new ZvtCodecError(`TLV nested deeper than ${MAX_DEPTH}`);
  const objects: TlvObject[] = [];
  let at = 0;
  while (at < bytes.length) {
    const { tag, size, constructed } = readTag(bytes, at);
    at += size;
    const { length, size: lengthSize } = readTlvLength(bytes, at);
    at += lengthSize;
    if (at + length > bytes.length) throw new ZvtCodecError(`TLV ${hex(tag)}: ${length} bytes announced, ${bytes.length - at} left`);
    const value = Buffer.from(bytes.subarray(at, at + length));
    objects.push(constructed ? { tag, value, children: parseTlv(value, depth + 1) } : { tag, value });
    at += length;
  }
  return objects;
}

function tagBytes(tag: number): Buffer {
  const out: number[] = [];
  let t = tag;
  do {
    out.unshift(t & 0xff);
    t = Math.floor(t / 256);
  } while (t > 0);
  return Buffer.from(out);
}

export function encodeTlv(objects: readonly { tag: number; value: Uint8Array }[]): Buffer {
  return Buffer.concat(objects.flatMap((o) => [tagBytes(o.tag), tlvLength(o.value.length), o.value]));
}

/** Every object with `tag`, at any depth, in order. */
export function findTlv(objects: readonly TlvObject[], tag: number): TlvObject[] {
  return objects.flatMap((o) => [...(o.tag === tag ? [o] : []), ...findTlv(o.children ?? [], tag)]);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}
