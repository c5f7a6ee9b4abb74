/**
 * A minimal ID-003 host for the emulator tests, written from protocols.md only: its own CRC (the
 * nibble form, unlike the emulator's bitwise one), its own frame splitter, no import from drivers/id003
 * or from the emulator's wire module.
 */
import type { Transport } from '../../drivers/transport/types.js';

/** CRC-16/KERMIT four bits at a time: 0x1081 is the reflected polynomial's nibble multiplier. */
export function hostCrc(bytes: readonly number[]): number {
  let crc = 0;
  for (const b of bytes) {
    crc = (crc >>> 4) ^ (((crc ^ b) & 0x0f) * 0x1081);
    crc = (crc >>> 4) ^ (((crc ^ (b >>> 4)) & 0x0f) * 0x1081);
  }
  return crc & 0xffff;
}

/** A host command frame built from its command byte and data, for commands with no vector in the spec. */
export function command(cmd: number, data: readonly number[] = []): number[] {
  const body = [0xfc, data.length + 5, cmd, ...data];
  const crc = hostCrc(body);
  return [...body, crc & 0xff, crc >>> 8];
}

// Vectors quoted in protocols.md section 1.
export const STATUS = [0xfc, 0x05, 0x11, 0x27, 0x56];
export const RESET = [0xfc, 0x05, 0x40, 0x2b, 0x15];
export const ACK = [0xfc, 0x05, 0x50, 0xaa, 0x05];
export const STACK1 = [0xfc, 0x05, 0x41, 0xa2, 0x04];
export const STACK2 = [0xfc, 0x05, 0x42, 0x39, 0x36];
export const RETURN = [0xfc, 0x05, 0x43, 0xb0, 0x27];
export const HOLD = [0xfc, 0x05, 0x44, 0x0f, 0x53];
export const INHIBIT_OFF = [0xfc, 0x06, 0xc3, 0x00, 0x04, 0xd6];
export const INHIBIT_ON = [0xfc, 0x06, 0xc3, 0x01, 0x8d, 0xc7];
export const ENABLE_ALL = [0xfc, 0x07, 0xc0, 0x00, 0x00, 0x2d, 0xb5];
export const VERSION = [0xfc, 0x05, 0x88, 0x6f, 0x5f];
export const CURRENCY = [0xfc, 0x05, 0x8a, 0x7d, 0x7c];
export const COMM_MODE_1 = [0xfc, 0x06, 0xc2, 0x01, 0x55, 0xde];

export interface Reply {
  cmd: number;
  data: number[];
  raw: number[];
}

export class TestHost {
  /** Complete frames dropped for a bad CRC. */
  badFrames = 0;
  /** Bytes skipped while looking for SYNC. */
  skipped = 0;
  private bytes: number[] = [];
  private readonly replies: Reply[] = [];
  private waiter: (() => void) | undefined;

  constructor(private readonly line: Transport) {
    line.on('data', (chunk) => {
      this.bytes.push(...chunk);
      this.split();
      this.waiter?.();
    });
  }

  /** Sends bytes without waiting for anything (the ACK after VEND VALID has no reply). */
  async send(...frames: number[][]): Promise<void> {
    await this.line.write(Uint8Array.from(frames.flat()));
  }

  /** Sends the frames in one write and returns the next `count` replies. */
  async exchange(frames: number[][], count = frames.length): Promise<Reply[]> {
    this.replies.length = 0;
    await this.send(...frames);
    return this.next(count);
  }

  async request(frame: number[]): Promise<Reply> {
    const [reply] = await this.exchange([frame], 1);
    return reply!;
  }

  /** Waits for `count` replies; rejects after `limitMs` (a hang, not a timing check). */
  next(count: number, limitMs = 3000): Promise<Reply[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no reply: got ${this.replies.length} of ${count}`));
      }, limitMs);
      const check = (): void => {
        if (this.replies.length < count) return;
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(this.replies.splice(0, count));
      };
      this.waiter = check;
      check();
    });
  }

  /** True if nothing at all arrives within `ms` after sending `frame`. */
  async unanswered(frame: number[], ms: number): Promise<boolean> {
    this.replies.length = 0;
    await this.send(frame);
    await new Promise((r) => setTimeout(r, ms));
    return this.replies.length === 0 && this.bytes.length === 0;
  }

  /**
   * Polls every couple of milliseconds until `done` holds for a reply; returns every status seen,
   * the last one included. The limit only turns a hang into a failure.
   */
  async pollUntil(done: (r: Reply) => boolean, limitMs = 5000): Promise<Reply[]> {
    const seen: Reply[] = [];
    const deadline = Date.now() + limitMs;
    for (;;) {
      const r = await this.request(STATUS);
      seen.push(r);
      if (done(r)) return seen;
      if (Date.now() > deadline) {
        throw new Error(`condition not reached; last statuses ${seen.slice(-5).map((x) => x.cmd.toString(16))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  private split(): void {
    for (;;) {
      const start = this.bytes.indexOf(0xfc);
      if (start < 0) {
        this.skipped += this.bytes.length;
        this.bytes = [];
        return;
      }
      this.skipped += start;
      this.bytes = this.bytes.slice(start);
      if (this.bytes.length < 2) return;
      const length = this.bytes[1]!;
      if (length < 5) {
        this.skipped += 1;
        this.bytes = this.bytes.slice(1);
        continue;
      }
      if (this.bytes.length < length) return;
      const raw = this.bytes.slice(0, length);
      const crc = hostCrc(raw.slice(0, -2));
      if (raw[length - 2] !== (crc & 0xff) || raw[length - 1] !== crc >>> 8) {
        this.badFrames += 1;
        this.bytes = this.bytes.slice(1);
        continue;
      }
      this.bytes = this.bytes.slice(length);
      this.replies.push({ cmd: raw[2]!, data: raw.slice(3, -2), raw });
    }
  }
}
