/**
 * A minimal CCNET host for the emulator tests, written from protocols.md only: its own CRC (the
 * nibble form, unlike the emulator's bitwise one), its own frame splitter, no import from
 * drivers/ccnet or from the emulator's wire module.
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

/** A frame to `address` (3 = bill validator) built from its data, for commands with no vector in the spec. */
export function command(cmd: number, data: readonly number[] = [], address = 0x03): number[] {
  const body = [0x02, address, data.length + 6, cmd, ...data];
  const crc = hostCrc(body);
  return [...body, crc & 0xff, crc >>> 8];
}

// Vectors quoted in protocols.md section 4.
export const POLL = [0x02, 0x03, 0x06, 0x33, 0xda, 0x81];
export const ACK = [0x02, 0x03, 0x06, 0x00, 0xc2, 0x82];
export const NAK = [0x02, 0x03, 0x06, 0xff, 0xba, 0x8d];
export const RESET = [0x02, 0x03, 0x06, 0x30, 0x41, 0xb3];
export const STACK = [0x02, 0x03, 0x06, 0x35, 0xec, 0xe4];
export const RETURN = [0x02, 0x03, 0x06, 0x36, 0x77, 0xd6];
export const HOLD = [0x02, 0x03, 0x06, 0x38, 0x09, 0x3f];
export const IDENTIFICATION = [0x02, 0x03, 0x06, 0x37, 0xfe, 0xc7];
export const GET_BILL_TABLE = [0x02, 0x03, 0x06, 0x41, 0x4f, 0xd1];
/** All 24 bill types enabled, escrow mask zero: notes go straight to the cash box. */
export const ENABLE_ALL_NO_ESCROW = [0x02, 0x03, 0x0c, 0x34, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0xb5, 0xc1];
/** The published idling reply. */
export const IDLING_REPLY = [0x02, 0x03, 0x06, 0x14, 0x67, 0xd4];

export interface Reply {
  address: number;
  /** The state or the answer's data: everything between LNG and the CRC. */
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

  /** Sends bytes without waiting for anything (the host's ACK has no reply). */
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

  /** A POLL whose reply is acknowledged, as the protocol asks of the host. */
  async poll(): Promise<Reply> {
    const reply = await this.request(POLL);
    await this.send(ACK);
    return reply;
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
   * Polls every couple of milliseconds until `done` holds for a reply, acknowledging each reply
   * unless `ack` is false; returns every state seen, the last one included. The limit only turns a
   * hang into a failure.
   */
  async pollUntil(done: (r: Reply) => boolean, limitMs = 5000, ack = true): Promise<Reply[]> {
    const seen: Reply[] = [];
    const deadline = Date.now() + limitMs;
    for (;;) {
      const r = ack ? await this.poll() : await this.request(POLL);
      seen.push(r);
      if (done(r)) return seen;
      if (Date.now() > deadline) {
        throw new Error(`condition not reached; last states ${seen.slice(-5).map((x) => x.data[0]!.toString(16))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  private split(): void {
    for (;;) {
      const start = this.bytes.indexOf(0x02);
      if (start < 0) {
        this.skipped += this.bytes.length;
        this.bytes = [];
        return;
      }
      this.skipped += start;
      this.bytes = this.bytes.slice(start);
      if (this.bytes.length < 3) return;
      const length = this.bytes[2]!;
      if (length < 6) {
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
      this.replies.push({ address: raw[1]!, data: raw.slice(3, -2), raw });
    }
  }
}
