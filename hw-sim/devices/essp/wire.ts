/**
 * Device-side SSP wire format: the packets the validator sends and the parser for what the host
 * sends. Deliberately independent of drivers/essp so that a mistake on one side cannot hide in the
 * other.
 *
 * Packet: STX(0x7F) SEQ/ID LENGTH DATA… CRCL CRCH, LENGTH counting DATA only; the CRC (CRC-16,
 * polynomial 0x8005, seed 0xFFFF) covers SEQ/ID through DATA; after it is computed every 0x7F
 * following the STX is sent twice.
 */

export const STX = 0x7f;

/** CRC-16/CMS one bit at a time (the driver uses a table, so the two cannot share a wrong one). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/**
 * A packet as the device sends it; `seqId` is the SEQ/ID byte of the command it answers.
 * `badCrc` spoils the CRC (before stuffing, so the packet is still well formed): line-noise tests.
 */
export function packet(seqId: number, data: Uint8Array | readonly number[], badCrc = false): Uint8Array {
  if (data.length === 0 || data.length > 0xff) throw new RangeError(`SSP data length out of range: ${data.length}`);
  const body = [seqId, data.length, ...data];
  const crc = crc16(Uint8Array.from(body)) ^ (badCrc ? 0x5a5a : 0);
  body.push(crc & 0xff, crc >>> 8);
  const out = [STX];
  for (const b of body) {
    out.push(b);
    if (b === STX) out.push(STX);
  }
  return Uint8Array.from(out);
}

export interface HostPacket {
  /** The SEQ/ID byte as received: bit 7 the sequence flag, bits 6..0 the address. */
  seqId: number;
  data: Uint8Array;
}

/**
 * Splits the host's byte stream into checked packets. Bytes outside a packet are garbage. Inside a
 * packet, 0x7F 0x7F is one data byte 0x7F and a lone 0x7F is the STX of a new packet: the one so far
 * is discarded, as a slave must do.
 */
export class HostParser {
  /** Bytes thrown away outside packets and in discarded packets. */
  garbageBytes = 0;
  /** Complete packets whose CRC did not match. */
  badFrames = 0;
  /** Packets abandoned for a lone STX in the middle, or for a time-out of their tail. */
  abandoned = 0;
  private state: 'idle' | 'body' | 'seen7f' = 'idle';
  private body: number[] = [];

  /** True while a packet has started and its tail has not arrived. */
  get pending(): boolean {
    return this.state !== 'idle';
  }

  push(chunk: Uint8Array): HostPacket[] {
    const out: HostPacket[] = [];
    for (const byte of chunk) {
      const p = this.byte(byte);
      if (p) out.push(p);
    }
    return out;
  }

  /** The rest of a started packet never came: forget it. */
  abandonPartial(): void {
    if (this.state === 'idle') return;
    this.abandoned++;
    this.garbageBytes += 1 + this.body.length;
    this.state = 'idle';
    this.body = [];
  }

  private byte(byte: number): HostPacket | undefined {
    switch (this.state) {
      case 'idle':
        if (byte === STX) {
          this.state = 'body';
          this.body = [];
        } else {
          this.garbageBytes++;
        }
        return undefined;
      case 'seen7f':
        if (byte !== STX) {
          // The 0x7F before this byte was a new STX: the packet so far is dropped.
          this.abandoned++;
          this.garbageBytes += 1 + this.body.length;
          this.body = [];
        }
        this.state = 'body';
        return this.append(byte);
      case 'body':
        if (byte === STX) {
          this.state = 'seen7f';
          return undefined;
        }
        return this.append(byte);
    }
  }

  private append(byte: number): HostPacket | undefined {
    this.body.push(byte);
    const length = this.body[1];
    if (length === undefined) return undefined;
    if (length === 0) {
      this.garbageBytes += 3;
      this.state = 'idle';
      this.body = [];
      return undefined;
    }
    if (this.body.length < length + 4) return undefined;
    const body = Uint8Array.from(this.body);
    this.state = 'idle';
    this.body = [];
    const crc = crc16(body.subarray(0, length + 2));
    if (body[length + 2] !== (crc & 0xff) || body[length + 3] !== crc >>> 8) {
      this.badFrames++;
      this.garbageBytes += 1 + body.length;
      return undefined;
    }
    return { seqId: body[0]!, data: body.slice(2, 2 + length) };
  }
}
