/**
 * A few lines of ccTalk device side for the driver tests: it cuts what the host writes into
 * frames, optionally echoes the bytes back as a single-wire bus does, and lets a handler per
 * address answer. Frames are built here with their own checksum code, so the codec under test is
 * not used to check itself.
 */
import type { MemoryTransport } from '../../drivers/transport/memory.js';

export const sum8 = (bytes: readonly number[]): number => (256 - (bytes.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;

/** A simple-checksum frame. */
export function frame(dest: number, source: number, header: number, data: readonly number[] = []): Buffer {
  const body = [dest, data.length, source, header, ...data];
  return Buffer.from([...body, sum8(body)]);
}

/** What a handler answers: ACK with data, NAK, BUSY, nothing, or raw bytes. */
export type Answer = number[] | 'nak' | 'busy' | 'silent' | { raw: Buffer };
export type Handler = (header: number, data: Buffer) => Answer;

export interface Received {
  dest: number;
  header: number;
  data: string;
}

export class FakeLine {
  readonly received: Received[] = [];
  readonly handlers = new Map<number, Handler>();
  /** Echo the host's bytes back before answering. */
  echo: boolean;
  /** Answer after this many ms instead of at once; a request arriving meanwhile is an overlap. */
  replyDelayMs = 0;
  overlaps = 0;
  private busy = false;
  private buffer = Buffer.alloc(0);

  constructor(
    private readonly end: MemoryTransport,
    opts: { echo?: boolean } = {},
  ) {
    this.echo = opts.echo ?? false;
    end.on('data', (chunk) => this.receive(chunk));
  }

  count(dest: number, header: number): number {
    return this.received.filter((r) => r.dest === dest && r.header === header).length;
  }

  send(bytes: Buffer): void {
    void this.end.write(bytes);
  }

  private receive(chunk: Buffer): void {
    if (this.echo) this.send(chunk);
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 5 && this.buffer.length >= 5 + this.buffer[1]!) {
      const size = 5 + this.buffer[1]!;
      const bytes = this.buffer.subarray(0, size);
      this.buffer = this.buffer.subarray(size);
      if (sum8([...bytes.subarray(0, size - 1)]) !== bytes[size - 1]) throw new Error(`fake line: bad checksum from host ${bytes.toString('hex')}`);
      this.onFrame(bytes[0]!, bytes[3]!, Buffer.from(bytes.subarray(4, size - 1)));
    }
  }

  private onFrame(dest: number, header: number, data: Buffer): void {
    this.received.push({ dest, header, data: data.toString('hex') });
    if (this.busy) this.overlaps++;
    const handler = this.handlers.get(dest);
    if (!handler) return;
    const answer = handler(header, data);
    if (answer === 'silent') return;
    const bytes =
      answer === 'nak' ? frame(1, dest, 5) : answer === 'busy' ? frame(1, dest, 6) : Array.isArray(answer) ? frame(1, dest, 0, answer) : answer.raw;
    if (this.replyDelayMs === 0) {
      this.send(bytes);
      return;
    }
    this.busy = true;
    setTimeout(() => {
      this.busy = false;
      this.send(bytes);
    }, this.replyDelayMs);
  }
}
