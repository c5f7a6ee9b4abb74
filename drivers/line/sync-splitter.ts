/**
 * The resyncing splitter of the SYNC-and-length lines (ID-003, CCNET): bytes before a SYNC are
 * garbage; a frame with a bad CRC or an impossible length is dropped by discarding only its SYNC
 * byte, so a good frame hidden inside it is still found. What it keeps between pushes is at most one
 * unfinished frame (< 255 bytes). The codecs give the layout and build their own frame objects.
 */
import { crc16Kermit } from '../checksum/crc16.js';

export interface SplitterStats {
  /** Bytes thrown away: garbage before a SYNC, and the SYNC of each frame found to be bad. */
  droppedBytes: number;
  badCrc: number;
  /** SYNC bytes followed by a length under the shortest frame. */
  badLength: number;
}

export interface SyncFrameLayout<F> {
  sync: number;
  /** Offset of the length byte from the SYNC; the length counts the whole frame, SYNC and CRC included. */
  lengthAt: number;
  minLength: number;
  /** Builds the frame from its checked bytes (a copy the frame may keep). */
  frame(bytes: Buffer): F;
}

/** CRC-16/KERMIT over the frame but its last two bytes, which carry it low byte first. */
export function kermitTrailerMatches(buf: Uint8Array, start: number, length: number): boolean {
  const end = start + length;
  return crc16Kermit(buf, start, end - 2) === (buf[end - 2]! | (buf[end - 1]! << 8));
}

export class SyncFrameSplitter<F> {
  readonly stats: SplitterStats = { droppedBytes: 0, badCrc: 0, badLength: 0 };
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly layout: SyncFrameLayout<F>) {}

  /** Bytes held for an unfinished frame. */
  get pending(): number {
    return this.buffer.length;
  }

  push(bytes: Uint8Array): F[] {
    this.buffer = this.buffer.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.buffer, bytes]);
    return this.drain();
  }

  /**
   * Gives up on the unfinished frame (after a reply time-out, a stray SYNC with a large length would
   * otherwise swallow the next replies): its SYNC counts as garbage and the rest is scanned again.
   */
  abandonPending(): F[] {
    if (this.buffer.length === 0) return [];
    this.buffer = this.buffer.subarray(1);
    this.stats.droppedBytes++;
    return this.drain();
  }

  reset(): void {
    this.buffer = Buffer.alloc(0);
  }

  private drain(): F[] {
    const { sync, lengthAt, minLength } = this.layout;
    const buf = this.buffer;
    const frames: F[] = [];
    let at = 0;
    while (at < buf.length) {
      if (buf[at] !== sync) {
        at++;
        this.stats.droppedBytes++;
        continue;
      }
      if (at + lengthAt >= buf.length) break;
      const length = buf[at + lengthAt]!;
      if (length < minLength) {
        this.stats.badLength++;
        this.stats.droppedBytes++;
        at++;
        continue;
      }
      if (at + length > buf.length) break;
      if (!kermitTrailerMatches(buf, at, length)) {
        this.stats.badCrc++;
        this.stats.droppedBytes++;
        at++;
        continue;
      }
      frames.push(this.layout.frame(Buffer.from(buf.subarray(at, at + length))));
      at += length;
    }
    this.buffer = Buffer.from(buf.subarray(at));
    return frames;
  }
}
