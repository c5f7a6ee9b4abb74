/**
 * What every request/response driver needs around its own exchange: one command on the line at a
 * time, the errors that say how a command failed, and line noise logged at a bounded rate.
 */
import type { DriverLog } from '../types.js';

/** The device did not answer (or the line is down): the driver goes offline and starts over. */
export class NoAnswerError extends Error {
  /** Writing failed: the port is gone even if it still looks open, so it is closed and reopened. */
  linkBroken = false;
}

/** The device answered that it will not do the command. */
export class RefusedError extends Error {}

/** A failed write: the port is gone even if it still looks open. */
export function writeFailed(err: unknown): NoAnswerError {
  const broken = new NoAnswerError(`write failed: ${(err as Error).message}`);
  broken.linkBroken = true;
  return broken;
}

export function hex(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Jobs run one after the other; a failed job does not stop the ones queued behind it. */
export class CommandQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

const NOISE_LOG_INTERVAL_MS = 5000;

/** Line noise is logged at most every NOISE_LOG_INTERVAL_MS, with the counts since the last report. */
export class NoiseReporter {
  private reported: Record<string, number> | undefined;
  private reportedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly label: string,
    private readonly log: DriverLog,
  ) {}

  /** `stats`: a splitter's counters, all numbers; `droppedBytes` is the one that says there was noise. */
  report(stats: { readonly droppedBytes: number }): void {
    const now = stats as unknown as Record<string, number>;
    const last = this.reported ?? Object.fromEntries(Object.keys(now).map((k) => [k, 0]));
    if (now.droppedBytes === last.droppedBytes) return;
    if (Date.now() - this.reportedAt < NOISE_LOG_INTERVAL_MS) return;
    const fields: Record<string, number> = { dropped: now.droppedBytes! - last.droppedBytes! };
    for (const key of Object.keys(now)) if (key !== 'droppedBytes') fields[key] = now[key]! - last[key]!;
    fields.totalDropped = now.droppedBytes!;
    this.log('warn', `${this.label}: discarded bytes on the line`, fields);
    this.reported = { ...now };
    this.reportedAt = Date.now();
  }
}
