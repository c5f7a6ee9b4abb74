/**
 * Device-side CCNET wire format: frames the validator sends and the parser for what the host sends.
 * Deliberately independent of drivers/ccnet so that a mistake on one side cannot hide in the other.
 *
 * Frame: SYNC(0x02) ADR LNG DATA… CRCL CRCH, where LNG counts the whole frame.
 */

export const SYNC = 0x02;
/** The bus address of a bill validator: frames for other addresses belong to other peripherals. */
export const OWN_ADDRESS = 0x03;
/** SYNC + ADR + LNG + one data byte + two CRC bytes. */
export const MIN_FRAME = 6;
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

/** A frame the validator sends: a state, ACK, NAK or an answer with data. */
export function frame(data: Uint8Array | readonly number[]): Uint8Array {
  const length = data.length + MIN_FRAME - 1;
  if (data.length === 0 || length > MAX_FRAME) throw new RangeError(`CCNET frame of ${data.length} data bytes`);
  const out = new Uint8Array(length);
  out[0] = SYNC;
  out[1] = OWN_ADDRESS;
  out[2] = length;
  out.set(data, 3);
  const crc = crc16Kermit(out.subarray(0, length - 2));
  out[length - 2] = crc & 0xff;
  out[length - 1] = crc >>> 8;
  return out;
}

export type HostItem =
  /** A checked frame: the command is its first data byte. */
  | { kind: 'frame'; address: number; cmd: number; data: Uint8Array }
  /** A complete frame for this validator whose CRC did not match: the validator answers NAK. */
  | { kind: 'bad-crc' };

/**
 * Splits the host's byte stream. Bytes before a SYNC are garbage. A frame whose CRC does not match
 * is reported (when it was addressed to us) and dropped; the search restarts one byte after its
 * SYNC, so a real frame hidden inside a corrupted one is still found.
 */
export class CommandParser {
  /** Bytes thrown away while looking for a SYNC (including a SYNC with an impossible LNG). */
  garbageBytes = 0;
  /** Complete frames thrown away because their CRC did not match. */
  badFrames = 0;
  private buffer = new Uint8Array(0);

  push(chunk: Uint8Array): HostItem[] {
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
  abandonPartial(): HostItem[] {
    if (this.buffer.length === 0) return [];
    this.garbageBytes += 1;
    this.buffer = this.buffer.subarray(1);
    return this.drain();
  }

  private drain(): HostItem[] {
    const items: HostItem[] = [];
    for (;;) {
      const start = this.buffer.indexOf(SYNC);
      if (start < 0) {
        this.garbageBytes += this.buffer.length;
        this.buffer = new Uint8Array(0);
        return items;
      }
      this.garbageBytes += start;
      this.buffer = this.buffer.subarray(start);
      if (this.buffer.length < 3) return items;
      const length = this.buffer[2]!;
      if (length < MIN_FRAME) {
        this.garbageBytes += 1;
        this.buffer = this.buffer.subarray(1);
        continue;
      }
      if (this.buffer.length < length) return items;
      const candidate = this.buffer.subarray(0, length);
      const crc = crc16Kermit(candidate.subarray(0, length - 2));
      if ((crc & 0xff) !== candidate[length - 2] || crc >>> 8 !== candidate[length - 1]) {
        this.badFrames += 1;
        if (candidate[1] === OWN_ADDRESS) items.push({ kind: 'bad-crc' });
        this.buffer = this.buffer.subarray(1);
        continue;
      }
      items.push({
        kind: 'frame',
        address: candidate[1]!,
        cmd: candidate[3]!,
        data: Uint8Array.from(candidate.subarray(4, length - 2)),
      });
      this.buffer = this.buffer.subarray(length);
    }
  }
}
