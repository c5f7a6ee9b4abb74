/**
 * Pure serial transport of ZVT: each APDU travels as DLE STX <APDU, every DLE doubled> DLE ETX CRC-lo
 * CRC-hi, and the receiver answers a single ACK (06) for a good frame or NAK (15) for a bad one. TCP
 * carries bare APDUs instead.
 */
import { crc16Kermit } from '../checksum/crc16.js';
import { MAX_APDU_DATA } from './codec.js';

export const DLE = 0x10;
export const STX = 0x02;
export const ETX = 0x03;
export const ACK = 0x06;
export const NAK = 0x15;

/** The longest APDU: extended header and 65535 bytes of data. */
const MAX_APDU = MAX_APDU_DATA + 5;

export function frameCrc(apdu: Uint8Array): number {
  const ext = Buffer.from([ETX]);
  return crc16Kermit(ext, 0, ext.length, crc16Kermit(apdu));
}

export function encodeFrame(apdu: Uint8Array): Buffer {
  const body: number[] = [];
  for (const b of apdu) {
    body.push(b);
    if (b === DLE) body.push(DLE);
  }
  const crc = frameCrc(apdu);
  return Buffer.from([DLE, STX, ...body, DLE, ETX, crc & 0xff, crc >>> 8]);
}

export type SerialEvent =
  | { kind: 'frame'; apdu: Buffer }
  /** A frame that must be answered with NAK: bad CRC, a DLE followed by something undefined, or too long. */
  | { kind: 'bad-frame'; reason: 'crc' | 'dle' | 'too-long' }
  | { kind: 'ack' }
  | { kind: 'nak' };

export interface FrameReaderStats {
  /** Bytes outside any frame that were neither ACK nor NAK. */
  noise: number;
  badFrames: number;
}

type State = 'idle' | 'idle-dle' | 'body' | 'body-dle' | 'crc';

/**
 * Byte-by-byte reader of the serial line. Between frames only ACK, NAK and DLE STX mean something;
 * a DLE STX inside a frame starts a new one (the old one was cut off). It never holds more than one
 * frame's bytes.
 */
export class FrameReader {
  readonly stats: FrameReaderStats = { noise: 0, badFrames: 0 };
  private state: State = 'idle';
  private body: number[] = [];
  private crc: number[] = [];

  /** Bytes of the frame under way. */
  get pending(): number {
    return this.state === 'idle' || this.state === 'idle-dle' ? 0 : this.body.length + this.crc.length;
  }

  push(chunk: Uint8Array): SerialEvent[] {
    const events: SerialEvent[] = [];
    for (const b of chunk) {
      const event = this.byte(b);
      if (event) events.push(event);
    }
    return events;
  }

  reset(): void {
    this.state = 'idle';
    this.body = [];
    this.crc = [];
  }

  private bad(reason: 'crc' | 'dle' | 'too-long'): SerialEvent {
    this.stats.badFrames++;
    this.reset();
    return { kind: 'bad-frame', reason };
  }

  private byte(b: number): SerialEvent | undefined {
    switch (this.state) {
      case 'idle':
        if (b === ACK) return { kind: 'ack' };
        if (b === NAK) return { kind: 'nak' };
        if (b === DLE) this.state = 'idle-dle';
        else this.stats.noise++;
        return undefined;
      case 'idle-dle':
        if (b === STX) {
          this.state = 'body';
          this.body = [];
          return undefined;
        }
        // The DLE was noise; the byte after it is read afresh.
        this.stats.noise++;
        this.state = 'idle';
        return this.byte(b);
      case 'body':
        if (b === DLE) this.state = 'body-dle';
        else if (this.body.length >= MAX_APDU) return this.bad('too-long');
        else this.body.push(b);
        return undefined;
      case 'body-dle':
        if (b === DLE) {
          if (this.body.length >= MAX_APDU) return this.bad('too-long');
          this.body.push(DLE);
          this.state = 'body';
          return undefined;
        }
        if (b === ETX) {
          this.state = 'crc';
          this.crc = [];
          return undefined;
        }
        if (b === STX) {
          // A new frame began inside this one: the old one is lost, the new one is read.
          this.stats.badFrames++;
          this.body = [];
          this.state = 'body';
          return { kind: 'bad-frame', reason: 'dle' };
        }
        return this.bad('dle');
      case 'crc': {
        this.crc.push(b);
        if (this.crc.length < 2) return undefined;
        const apdu = Buffer.from(this.body);
        const ok = (this.crc[0]! | (this.crc[1]! << 8)) === frameCrc(apdu);
        this.reset();
        if (!ok) {
          this.stats.badFrames++;
          return { kind: 'bad-frame', reason: 'crc' };
        }
        return { kind: 'frame', apdu };
      }
    }
  }
}
