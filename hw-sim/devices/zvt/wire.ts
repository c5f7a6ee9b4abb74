/**
 * The terminal side of ZVT's wire: APDUs, BCD and BMPs as the terminal writes them, and the serial
 * framing (DLE STX … DLE ETX CRC, ACK/NAK). Deliberately independent of drivers/zvt so that a mistake
 * on one side cannot hide in the other.
 */

export interface Message {
  cls: number;
  instr: number;
  data: Buffer;
}

export function apdu(cls: number, instr: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const n = data.length;
  const length = n >= 0xff ? [0xff, n % 256, Math.floor(n / 256)] : [n];
  return Buffer.concat([Buffer.from([cls, instr, ...length]), data]);
}

/** Length of the message at the start of `bytes`, or 0 while its header is incomplete. */
export function messageLength(bytes: Buffer): number {
  if (bytes.length < 3) return 0;
  if (bytes[2] !== 0xff) return 3 + bytes[2]!;
  if (bytes.length < 5) return 0;
  return 5 + bytes.readUInt16LE(3);
}

export function readMessage(bytes: Buffer): Message {
  const header = bytes[2] === 0xff ? 5 : 3;
  return { cls: bytes[0]!, instr: bytes[1]!, data: Buffer.from(bytes.subarray(header)) };
}

/** Digits of `value`, two per byte, left-padded with zeros. */
export function bcd(value: number, bytes: number): Buffer {
  const digits = String(value).padStart(bytes * 2, '0');
  if (digits.length > bytes * 2) throw new RangeError(`${value} too long for ${bytes} BCD bytes`);
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (Number(digits[2 * i]) << 4) | Number(digits[2 * i + 1]);
  return out;
}

/** The number in BCD bytes, or NaN when a nibble is not a digit. */
export function fromBcd(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) {
    if (b >> 4 > 9 || (b & 15) > 9) return NaN;
    n = n * 100 + (b >> 4) * 10 + (b & 15);
  }
  return n;
}

/** LLVAR: the length as two F-prefixed digits, then the bytes. */
export function llvar(bytes: Uint8Array): Buffer {
  const n = bytes.length;
  return Buffer.concat([Buffer.from([0xf0 + Math.floor(n / 10), 0xf0 + (n % 10)]), bytes]);
}

/** A BER length as ZVT's TLV container uses it. */
export function berLength(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  if (n < 256) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 255]);
}

export function tlv(tag: number[], value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(tag), berLength(value.length), value]);
}

/**
 * The fields of the kiosk's commands the terminal looks at: BMP 04 (amount), 49 (currency) and 87
 * (receipt number), each a fixed number of bytes. Other BMPs end the reading.
 */
export function commandFields(data: Buffer): { amount?: number; currency?: number; receipt?: number } {
  const out: { amount?: number; currency?: number; receipt?: number } = {};
  const sizes: Record<number, number> = { 0x04: 6, 0x49: 2, 0x87: 2 };
  let at = 0;
  while (at < data.length) {
    const size = sizes[data[at]!];
    if (size === undefined || at + 1 + size > data.length) break;
    const value = fromBcd(data.subarray(at + 1, at + 1 + size));
    if (data[at] === 0x04) out.amount = value;
    else if (data[at] === 0x49) out.currency = value;
    else out.receipt = value;
    at += 1 + size;
  }
  return out;
}

// ------------------------------------------------------------------------------ serial framing

export const DLE = 0x10;
export const STX = 0x02;
export const ETX = 0x03;
export const ACK = 0x06;
export const NAK = 0x15;

/** CRC-CCITT as ZVT computes it, bit by bit: reflected polynomial 0x8408, start 0. */
export function crc16(bytes: Iterable<number>): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1;
  }
  return crc;
}

export function frame(message: Uint8Array): Buffer {
  const out = [DLE, STX];
  for (const b of message) out.push(...(b === DLE ? [DLE, DLE] : [b]));
  const crc = crc16([...message, ETX]);
  out.push(DLE, ETX, crc & 255, crc >> 8);
  return Buffer.from(out);
}

export type LineEvent = { type: 'message'; bytes: Buffer } | { type: 'corrupt' } | { type: 'ack' } | { type: 'nak' };

/** The terminal's reader of the serial line: frames, and the host's ACK/NAK bytes between them. */
export class FrameParser {
  private inFrame = false;
  private afterDle = false;
  private body: number[] = [];
  private crcBytes: number[] | undefined;

  feed(chunk: Uint8Array): LineEvent[] {
    const events: LineEvent[] = [];
    for (const b of chunk) {
      if (this.crcBytes) {
        this.crcBytes.push(b);
        if (this.crcBytes.length === 2) {
          const good = this.crcBytes[0]! + this.crcBytes[1]! * 256 === crc16([...this.body, ETX]);
          events.push(good ? { type: 'message', bytes: Buffer.from(this.body) } : { type: 'corrupt' });
          this.crcBytes = undefined;
          this.inFrame = false;
        }
        continue;
      }
      if (!this.inFrame) {
        if (this.afterDle && b === STX) {
          this.inFrame = true;
          this.body = [];
        } else if (b === ACK) events.push({ type: 'ack' });
        else if (b === NAK) events.push({ type: 'nak' });
        this.afterDle = b === DLE;
        continue;
      }
      if (this.afterDle) {
        this.afterDle = false;
        if (b === DLE) this.body.push(DLE);
        else if (b === ETX) this.crcBytes = [];
        else if (b === STX) this.body = [];
        else {
          this.inFrame = false;
          events.push({ type: 'corrupt' });
        }
      } else if (b === DLE) this.afterDle = true;
      else if (this.body.length < 70_000) this.body.push(b);
      else {
        this.inFrame = false;
        events.push({ type: 'corrupt' });
      }
    }
    return events;
  }
}
