/** Pure ccTalk framing: `[dest][length][source][header][data…][checksum]`. No I/O, no timers. */
import { simpleChecksum } from '../checksum/crc16.js';
import { frameCrc16 } from './checksum.js';

export type ChecksumMode = 'simple' | 'crc16';

export interface FrameFields {
  dest: number;
  /** Sender address. Not on the wire in CRC-16 mode (its slot carries the CRC's low byte). */
  source: number;
  header: number;
  data?: Uint8Array;
}

export interface Frame {
  dest: number;
  /** Undefined in CRC-16 mode. */
  source: number | undefined;
  header: number;
  data: Buffer;
  /** The whole frame as it was on the wire. */
  bytes: Buffer;
}

/** Frame bytes around the data: dest, length, source, header, checksum. */
export const FRAME_OVERHEAD = 5;
export const MAX_DATA_LENGTH = 255;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export function encodeFrame(fields: FrameFields, mode: ChecksumMode): Buffer {
  const data = fields.data ?? new Uint8Array(0);
  if (data.length > MAX_DATA_LENGTH) throw new FrameError(`ccTalk data too long: ${data.length} bytes (max ${MAX_DATA_LENGTH})`);
  for (const [name, value] of [
    ['dest', fields.dest],
    ['source', fields.source],
    ['header', fields.header],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 255) throw new FrameError(`ccTalk ${name} out of range: ${value}`);
  }
  const frame = Buffer.alloc(FRAME_OVERHEAD + data.length);
  frame[0] = fields.dest;
  frame[1] = data.length;
  frame[2] = fields.source;
  frame[3] = fields.header;
  frame.set(data, 4);
  const last = frame.length - 1;
  if (mode === 'simple') {
    frame[last] = simpleChecksum(frame, 0, last);
  } else {
    const crc = frameCrc16(frame);
    frame[2] = crc & 0xff;
    frame[last] = crc >>> 8;
  }
  return frame;
}

function checksumMatches(frame: Uint8Array, mode: ChecksumMode): boolean {
  const last = frame.length - 1;
  if (mode === 'simple') return simpleChecksum(frame, 0, last) === frame[last];
  const crc = frameCrc16(frame);
  return (crc & 0xff) === frame[2] && crc >>> 8 === frame[last];
}

function toFrame(bytes: Buffer, mode: ChecksumMode): Frame {
  return {
    dest: bytes[0]!,
    source: mode === 'simple' ? bytes[2]! : undefined,
    header: bytes[3]!,
    data: bytes.subarray(4, bytes.length - 1),
    bytes,
  };
}

/** Checks one complete frame; throws a FrameError saying what is wrong with it. */
export function decodeFrame(input: Uint8Array, mode: ChecksumMode): Frame {
  const bytes = Buffer.from(input);
  if (bytes.length < FRAME_OVERHEAD) {
    throw new FrameError(`ccTalk frame too short: ${bytes.length} bytes (${bytes.toString('hex')})`);
  }
  const expected = FRAME_OVERHEAD + bytes[1]!;
  if (bytes.length !== expected) {
    throw new FrameError(
      `ccTalk frame length mismatch: length byte says ${expected} bytes, got ${bytes.length} (${bytes.toString('hex')})`,
    );
  }
  if (!checksumMatches(bytes, mode)) {
    throw new FrameError(`ccTalk frame with a bad ${mode === 'simple' ? 'checksum' : 'CRC-16'}: ${bytes.toString('hex')}`);
  }
  return toFrame(bytes, mode);
}

export interface SplitterStats {
  /** Bytes thrown away: garbage, the first byte of each bad frame, stale partial frames. */
  droppedBytes: number;
  badChecksum: number;
  /** Partial frames given up after an inter-byte gap. */
  abandoned: number;
}

export interface SplitterOptions {
  /** A partial frame older than this (no byte since) is dropped. Default 50 ms. */
  gapMs?: number;
  /** Milliseconds clock, injectable for tests. */
  now?: () => number;
  /**
   * Only frames to this address are looked for (the host: 1). A byte that cannot start one is
   * skipped at once instead of being read as the start of a frame of some random length.
   */
  dest?: number;
}

/**
 * Cuts a byte stream into checked frames. ccTalk has no start byte, so the length byte decides
 * the size of whatever starts at the head of the buffer; when its checksum fails, only its first
 * byte is dropped and the scan resumes at the next byte, so a good frame behind garbage is found.
 * A head whose length points past the end waits for more bytes, but not across an inter-byte gap:
 * the line falls silent after every reply, so by then it is garbage (or a truncated frame).
 */
export class FrameSplitter {
  readonly stats: SplitterStats = { droppedBytes: 0, badChecksum: 0, abandoned: 0 };
  readonly gapMs: number;
  private readonly now: () => number;
  private readonly dest: number | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private lastByteAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly mode: ChecksumMode,
    opts: SplitterOptions = {},
  ) {
    this.gapMs = opts.gapMs ?? 50;
    this.now = opts.now ?? Date.now;
    this.dest = opts.dest;
  }

  /** Bytes held for an unfinished frame. */
  get pending(): number {
    return this.buffer.length;
  }

  push(bytes: Uint8Array): Frame[] {
    const at = this.now();
    const frames = this.buffer.length > 0 && at - this.lastByteAt > this.gapMs ? this.abandonPending() : [];
    this.lastByteAt = at;
    this.buffer = this.buffer.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.buffer, bytes]);
    frames.push(...this.drain());
    return frames;
  }

  /**
   * Gives up on the unfinished frame: frames hidden inside it are still returned, the rest is
   * dropped. The bus calls this from its gap timer; push() calls it when the clock says the gap
   * has passed.
   */
  abandonPending(): Frame[] {
    if (this.buffer.length === 0) return [];
    this.stats.abandoned++;
    const frames: Frame[] = [];
    while (this.buffer.length > 0) {
      this.buffer = this.buffer.subarray(1);
      this.stats.droppedBytes++;
      frames.push(...this.drain());
    }
    return frames;
  }

  reset(): void {
    this.buffer = Buffer.alloc(0);
  }

  private drain(): Frame[] {
    const buf = this.buffer;
    const frames: Frame[] = [];
    let at = 0;
    while (at < buf.length) {
      if (this.dest !== undefined && buf[at] !== this.dest) {
        this.stats.droppedBytes++;
        at++;
        continue;
      }
      if (at + 1 >= buf.length) break;
      const size = FRAME_OVERHEAD + buf[at + 1]!;
      if (at + size > buf.length) break;
      const candidate = buf.subarray(at, at + size);
      if (!checksumMatches(candidate, this.mode)) {
        this.stats.badChecksum++;
        this.stats.droppedBytes++;
        at++;
        continue;
      }
      frames.push(toFrame(Buffer.from(candidate), this.mode));
      at += size;
    }
    this.buffer = Buffer.from(buf.subarray(at));
    return frames;
  }
}
