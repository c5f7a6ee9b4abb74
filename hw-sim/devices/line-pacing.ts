/** A UART's speed, for sending bytes no faster than a real line would carry them. */
export interface LinePacing {
  baudRate: number;
  /** Bits on the line per byte: start, data, parity and stop bits (8E1 is 11). */
  bitsPerByte: number;
}

/** Milliseconds one byte takes on the line. */
export function byteMs(pacing: LinePacing): number {
  return (pacing.bitsPerByte * 1000) / pacing.baudRate;
}

/** Timers are coarser than a byte at 9600 baud: sleep until close, then watch the clock. */
const SPIN_MS = 2;

async function untilClock(due: number): Promise<void> {
  for (let left = due - performance.now(); left > SPIN_MS; left = due - performance.now()) {
    await new Promise((r) => setTimeout(r, left - SPIN_MS));
  }
  while (performance.now() < due);
}

/**
 * Hands bytes to a pty one at a time, each when a UART would have sent its stop bit, counted from
 * the frame's first bit (at once, or when the line is free). Timers alone are late by a
 * millisecond or so, most of a byte at 9600 baud, so the last stretch before each byte is waited
 * out on the clock: meant for benchmarks, not for a process with other work to do.
 */
export class PacedLine {
  /** performance.now() at which the last byte was handed over. */
  private freeAt = 0;
  private readonly byteMs: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (bytes: Uint8Array) => Promise<void>,
    pacing: LinePacing,
  ) {
    this.byteMs = byteMs(pacing);
  }

  /**
   * Sends the bytes after those already queued. `onSent` is told, as soon as the last byte has been
   * handed over, when the frame's first bit went out: reckoned back from that hand-over, so a late
   * wake-up of this process is not counted against whoever answers the frame. Resolves once all
   * bytes are written.
   */
  send(bytes: Uint8Array, onSent?: (firstBitAt: number) => void): Promise<void> {
    const job = this.queue.then(() => this.sendNow(bytes, onSent));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async sendNow(bytes: Uint8Array, onSent?: (firstBitAt: number) => void): Promise<void> {
    const start = Math.max(performance.now(), this.freeAt);
    let previous = start;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < bytes.length; i++) {
      // On time, but never closer to the byte before than the line allows, even after a late one.
      await untilClock(Math.max(start + (i + 1) * this.byteMs, previous + this.byteMs));
      const written = this.write(bytes.subarray(i, i + 1));
      previous = performance.now();
      // Awaited below; handled now so a failure is not reported as unhandled meanwhile.
      written.catch(() => undefined);
      writes.push(written);
    }
    this.freeAt = previous;
    onSent?.(previous - bytes.length * this.byteMs);
    await Promise.all(writes);
  }
}
