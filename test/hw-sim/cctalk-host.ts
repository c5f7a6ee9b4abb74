/**
 * A minimal ccTalk host for the emulator tests, written from protocols.md only: its own checksum,
 * its own frame builder and reply splitter, no import from drivers/cctalk or from the emulator's
 * wire module. It strips the single-wire echo when told the line has one.
 */
import type { Transport } from '../../drivers/transport/types.js';

/** 8-bit ccTalk checksum: whatever brings the frame's byte sum back to a multiple of 256. */
export function hostChecksum(bytes: readonly number[]): number {
  const sum = bytes.reduce((a, b) => a + b, 0);
  return (256 - (sum % 256)) % 256;
}

/** A host command frame: [dest][N][1][header][data][checksum]. */
export function command(dest: number, header: number, data: readonly number[] = []): number[] {
  const body = [dest, data.length, 1, header, ...data];
  return [...body, hostChecksum(body)];
}

export interface Reply {
  dest: number;
  source: number;
  header: number;
  data: number[];
  raw: number[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class CctalkTestHost {
  private bytes: number[] = [];
  private waiter: (() => void) | undefined;

  constructor(
    private readonly line: Transport,
    private readonly echo: boolean,
  ) {
    line.on('data', (chunk) => {
      this.bytes.push(...chunk);
      this.waiter?.();
    });
  }

  /** Sends a frame and returns the one reply frame to it, after the echo. */
  async request(frame: readonly number[], limitMs = 3000): Promise<Reply> {
    await this.sendFrame(frame, limitMs);
    await this.waitFor(() => this.bytes.length >= 2 && this.bytes.length >= this.bytes[1]! + 5, 'a reply', limitMs);
    const raw = this.bytes.splice(0, this.bytes[1]! + 5);
    if (hostChecksum(raw.slice(0, -1)) !== raw.at(-1)) throw new Error(`reply with a bad checksum: ${hex(raw)}`);
    if (this.bytes.length > 0) throw new Error(`unexpected bytes after the reply: ${hex(this.bytes)}`);
    return { dest: raw[0]!, source: raw[2]!, header: raw[3]!, data: raw.slice(4, -1), raw };
  }

  /** Sends a frame and expects no answer within `quietMs` (only the echo, when the line has one). */
  async expectSilence(frame: readonly number[], quietMs = 150): Promise<void> {
    await this.sendFrame(frame, 3000);
    await sleep(quietMs);
    if (this.bytes.length > 0) throw new Error(`expected silence, got ${hex(this.bytes)}`);
  }

  /** Sends a frame and returns the next `count` raw bytes after the echo (address poll answers). */
  async rawReply(frame: readonly number[], count: number, limitMs = 3000): Promise<number[]> {
    await this.sendFrame(frame, limitMs);
    await this.waitFor(() => this.bytes.length >= count, `${count} raw bytes`, limitMs);
    return this.bytes.splice(0, count);
  }

  /** Sends any bytes; with echo on, checks they come back unchanged and drops them. */
  async sendFrame(frame: readonly number[], limitMs = 3000): Promise<void> {
    this.bytes.length = 0;
    await this.line.write(Uint8Array.from(frame));
    if (!this.echo) return;
    await this.waitFor(() => this.bytes.length >= frame.length, 'the echo', limitMs);
    const echoed = this.bytes.splice(0, frame.length);
    if (hex(echoed) !== hex(frame)) throw new Error(`echo ${hex(echoed)} differs from what was sent: ${hex(frame)}`);
  }

  private async waitFor(ready: () => boolean, what: string, limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${limitMs} ms (have ${hex(this.bytes)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }
}

export function hex(bytes: readonly number[]): string {
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
}

export const text = (data: readonly number[]): string => String.fromCharCode(...data);
