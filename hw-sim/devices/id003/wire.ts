/**
 * Device-side ID-003 wire format: frames the acceptor sends and the parser for what the host sends.
 * Deliberately independent of drivers/id003 so that a mistake on one side cannot hide in the other.
 *
 * Frame: SYNC(0xFC) LNG CMD DATA… CRCL CRCH, where LNG counts the whole frame.
 */

export const SYNC = 0xfc;
/** SYNC + LNG + CMD + two CRC bytes. */
export const MIN_FRAME = 5;
const MAX_FRAME = 0xff;

/**
 * CRC-16/KERMIT, one bit at a time (the reflected 0x1021 polynomial is 0x8408).
 * Bitwise on purpose: the host driver is table-driven, so the two cannot share a wrong table.
 */
export function crc16Kermit(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
    }
  }
  return crc;
}

/** A frame the acceptor sends: a status, an ACK, an echo or an answer with data. */
export function frame(cmd: number, data: Uint8Array | readonly number[] = []): Uint8Array {
  const length = data.length + MIN_FRAME;
  if (length > MAX_FRAME) throw new RangeError(`ID-003 frame too long: ${length} bytes`);
  const out = new Uint8Array(length);
  out[0] = SYNC;
  out[1] = length;
  out[2] = cmd;
  out.set(data, 3);
  const crc = crc16Kermit(out.subarray(0, length - 2));
  out[length - 2] = crc & 0xff;
  out[length - 1] = crc >>> 8;
  return out;
}

export interface HostFrame {
  cmd: number;
  data: Uint8Array;
}

/**
 * Splits the host's byte stream into command frames. Bytes before a SYNC and frames whose CRC
 * does not match are dropped and counted; after a bad frame the search restarts one byte after its
 * SYNC, so a real frame hidden inside a corrupted one is still found.
 */
export class CommandParser {
  /** Bytes thrown away while looking for a SYNC (including a SYNC with an impossible LNG). */
  garbageBytes = 0;
  /** Complete frames thrown away because their CRC did not match. */
  badFrames = 0;
  private buffer = new Uint8Array(0);

  push(chunk: Uint8Array): HostFrame[] {
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

  /**
   * The rest of a started frame never came (the host gave up, or the SYNC was noise): give up on
   * that SYNC and look again in what followed it.
   */
  abandonPartial(): HostFrame[] {
    if (this.buffer.length === 0) return [];
    this.garbageBytes += 1;
    this.buffer = this.buffer.subarray(1);
    return this.drain();
  }

  private drain(): HostFrame[] {
    const frames: HostFrame[] = [];
    for (;;) {
      const start = this.buffer.indexOf(SYNC);
      if (start < 0) {
        this.garbageBytes += this.buffer.length;
        this.buffer = new Uint8Array(0);
        return frames;
      }
      this.garbageBytes += start;
      this.buffer = this.buffer.subarray(start);
      if (this.buffer.length < 2) return frames;
      const length = this.buffer[1]!;
      if (length < MIN_FRAME) {
        this.garbageBytes += 1;
        this.buffer = this.buffer.subarray(1);
        continue;
      }
      if (this.buffer.length < length) return frames;
      const candidate = this.buffer.subarray(0, length);
      const crc = crc16Kermit(candidate.subarray(0, length - 2));
      if ((crc & 0xff) !== candidate[length - 2] || crc >>> 8 !== candidate[length - 1]) {
        this.badFrames += 1;
        this.buffer = this.buffer.subarray(1);
        continue;
      }
      frames.push({ cmd: candidate[2]!, data: Uint8Array.from(candidate.subarray(3, length - 2)) });
      this.buffer = this.buffer.subarray(length);
    }
  }
}
