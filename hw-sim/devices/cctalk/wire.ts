/**
 * Device-side ccTalk wire format: the replies a peripheral sends and the parser for what the host
 * sends. Deliberately independent of drivers/cctalk so that a mistake on one side cannot hide in the
 * other.
 *
 * Frame: [dest][data length N][source][header][data 1..N][check], 5 + N bytes. With the 8-bit
 * checksum the whole frame sums to 0 mod 256. With CRC-16 the source slot carries the CRC's low
 * byte and the check slot its high byte, the CRC covering dest, length, header and data.
 */

export const HOST_ADDRESS = 1;
export const BROADCAST_ADDRESS = 0;
export const HEADER_ACK = 0;
export const HEADER_NAK = 5;
/** dest + length + source + header + check. */
export const FRAME_OVERHEAD = 5;

export type CheckMode = 'checksum8' | 'crc16';

/** The byte that makes the sum of `bytes` plus itself a multiple of 256. */
export function checksum8(bytes: Uint8Array | readonly number[]): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

/**
 * CRC-16/XMODEM (poly 0x1021, init 0, not reflected), shifting each data bit in from the top one
 * at a time. Bit-serial on purpose, so it cannot share a wrong table with a table-driven host.
 */
export function crc16Xmodem(bytes: Uint8Array | readonly number[]): number {
  let crc = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const feedback = ((crc >>> 15) ^ (byte >>> bit)) & 1;
      crc = (crc << 1) & 0xffff;
      if (feedback) crc ^= 0x1021;
    }
  }
  return crc;
}

export interface CctalkFrame {
  dest: number;
  /** The sender's address; with CRC-16 the slot holds the CRC instead and this is undefined. */
  source: number | undefined;
  header: number;
  data: Uint8Array;
}

/** Any frame, in either check mode. */
export function encodeFrame(
  dest: number,
  source: number,
  header: number,
  data: Uint8Array | readonly number[],
  mode: CheckMode,
): Uint8Array {
  if (data.length > 0xff) throw new RangeError(`ccTalk frame carries at most 255 data bytes, got ${data.length}`);
  const out = new Uint8Array(data.length + FRAME_OVERHEAD);
  out[0] = dest;
  out[1] = data.length;
  out[3] = header;
  out.set(data, 4);
  const last = out.length - 1;
  if (mode === 'checksum8') {
    out[2] = source;
    out[last] = checksum8(out.subarray(0, last));
  } else {
    const crc = crc16Xmodem([dest, data.length, header, ...data]);
    out[2] = crc & 0xff;
    out[last] = crc >>> 8;
  }
  return out;
}

/** A peripheral's reply to the host: header 0 (ACK) with data, or 5 (NAK). */
export function encodeReply(
  source: number,
  header: number,
  data: Uint8Array | readonly number[],
  mode: CheckMode = 'checksum8',
): Uint8Array {
  return encodeFrame(HOST_ADDRESS, source, header, data, mode);
}

function checks(candidate: Uint8Array, mode: CheckMode): boolean {
  if (mode === 'checksum8') return checksum8(candidate) === 0;
  const last = candidate.length - 1;
  const crc = crc16Xmodem([candidate[0]!, candidate[1]!, ...candidate.subarray(3, last)]);
  return candidate[2] === (crc & 0xff) && candidate[last] === crc >>> 8;
}

/**
 * Splits the bytes the host sends into frames. ccTalk has no start byte, so after a frame whose
 * check fails the search moves on one byte at a time. With the 8-bit checksum a frame from the
 * host must carry source 1, which lets the parser skip noise instead of waiting for a frame length
 * read out of it; with CRC-16 that slot is part of the CRC and cannot help. A started frame whose
 * rest never comes is thrown away by discardPartial() (the bus calls it after a quiet gap, as a
 * real device times out between bytes).
 */
export class HostFrameParser {
  /** Frames with a wrong checksum or CRC: a real device stays silent on them. */
  badChecks = 0;
  /** Bytes skipped while looking for the start of a frame, including abandoned partial frames. */
  skippedBytes = 0;
  private buffer = new Uint8Array(0);

  constructor(private readonly mode: CheckMode = 'checksum8') {}

  push(chunk: Uint8Array): CctalkFrame[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    return this.drain();
  }

  /** True while the start of a frame waits for the rest of its bytes. */
  get pending(): boolean {
    return this.buffer.length > 0;
  }

  discardPartial(): void {
    this.skippedBytes += this.buffer.length;
    this.buffer = new Uint8Array(0);
  }

  private drain(): CctalkFrame[] {
    const frames: CctalkFrame[] = [];
    while (this.buffer.length >= 3) {
      if (this.mode === 'checksum8' && this.buffer[2] !== HOST_ADDRESS) {
        this.skip();
        continue;
      }
      const length = this.buffer[1]! + FRAME_OVERHEAD;
      if (this.buffer.length < length) break;
      const candidate = this.buffer.subarray(0, length);
      if (!checks(candidate, this.mode)) {
        this.badChecks += 1;
        this.skip();
        continue;
      }
      frames.push({
        dest: candidate[0]!,
        source: this.mode === 'checksum8' ? candidate[2]! : undefined,
        header: candidate[3]!,
        data: Uint8Array.from(candidate.subarray(4, length - 1)),
      });
      this.buffer = this.buffer.subarray(length);
    }
    return frames;
  }

  private skip(): void {
    this.skippedBytes += 1;
    this.buffer = this.buffer.subarray(1);
  }
}
