/**
 * Store-and-forward: drains the journal's outbox to the business server, oldest first, one
 * message at a time. The outbox is the only queue; the forwarder keeps no message of its own, so
 * a restart simply carries on with whatever is still unacknowledged.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { z } from 'zod';
import { paymentPayloadSchema, UplinkError, type BusinessClient } from './business-client.js';

export interface OutboxEntry {
  messageId: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
}

export type SendResult = { ok: true; serverRef?: string } | { ok: false; error: string };

/** The part of the journal the forwarder needs. */
export interface OutboxPort {
  /** Unacknowledged messages, oldest first. */
  outboxPending(limit: number): OutboxEntry[];
  markSent(messageId: string, r: SendResult): void;
}

export interface ForwarderOptions {
  outbox: OutboxPort;
  client: Pick<BusinessClient, 'postPayment'>;
  batchSize?: number;
  /** Pause between looks at an empty outbox. */
  idleMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** In [0, 1); replaceable so tests are deterministic. */
  random?: () => number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

export interface LinkState {
  up: boolean;
  error?: string;
}

export interface SentInfo {
  messageId: string;
  status: 'accepted' | 'duplicate';
  serverRef: string;
}

export interface PoisonInfo {
  messageId: string;
  error: string;
  /** Refusals of this message during this run. */
  rejections: number;
  /** True once the message is left alone for the rest of this run. */
  skipped: boolean;
}

export interface BackoffInfo {
  /** Consecutive failed tries so far. */
  failures: number;
  delayMs: number;
}

export type ForwarderEvents = {
  link: [LinkState];
  sent: [SentInfo];
  poison: [PoisonInfo];
  backoff: [BackoffInfo];
};

/** Refusals after which a message stops holding up the queue until the next run. */
export const MAX_REJECTIONS = 5;

type Outcome = 'sent' | 'retry' | 'skip';

export class Forwarder extends EventEmitter<ForwarderEvents> {
  private readonly outbox: OutboxPort;
  private readonly client: Pick<BusinessClient, 'postPayment'>;
  private readonly batchSize: number;
  private readonly idleMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly random: () => number;
  private readonly log: Pick<Logger, 'info' | 'warn'> | undefined;

  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private failures = 0;
  private linkUp: boolean | undefined;
  private readonly rejections = new Map<string, number>();
  private readonly skipped = new Set<string>();

  constructor(opts: ForwarderOptions) {
    super();
    this.outbox = opts.outbox;
    this.client = opts.client;
    this.batchSize = opts.batchSize ?? 20;
    this.idleMs = opts.idleMs ?? 1000;
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    this.random = opts.random ?? Math.random;
    this.log = opts.log;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${this.batchSize}`);
  }

  /** Link state as last observed; undefined before the first answer or failure. */
  get link(): boolean | undefined {
    return this.linkUp;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Resolves once the loop has ended, after the message in flight (if any) got its answer. */
  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
    this.loop = undefined;
  }

  /** Cuts any idle or back-off wait short, e.g. right after a payment was settled. */
  forwardNow(): void {
    this.poke();
  }

  private poke(): void {
    this.woken = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const pause = await this.drainBatch();
      if (!this.running) break;
      await this.sleep(pause);
    }
  }

  /** Sends one batch; returns how long to wait before the next look. */
  private async drainBatch(): Promise<number> {
    let batch: OutboxEntry[];
    try {
      // Skipped messages stay pending, so ask for enough to fill a batch without them.
      batch = this.outbox
        .outboxPending(this.batchSize + this.skipped.size)
        .filter((e) => !this.skipped.has(e.messageId))
        .slice(0, this.batchSize);
    } catch (err) {
      this.log?.warn({ err }, 'outbox read failed');
      return this.nextBackoff();
    }
    if (batch.length === 0) return this.idleMs;
    for (const entry of batch) {
      if (!this.running) return 0;
      const outcome = await this.forward(entry);
      // Stopping at the first failure keeps the server seeing messages in journal order.
      if (outcome === 'retry') return this.nextBackoff();
    }
    return 0;
  }

  private async forward(entry: OutboxEntry): Promise<Outcome> {
    const payload = entry.kind === 'payment' ? paymentPayloadSchema.safeParse({ ...entry.payload, messageId: entry.messageId }) : undefined;
    if (!payload?.success) {
      // Nothing the server could say would make this message sendable: set it aside at once.
      const error = payload ? `invalid payment payload: ${z.prettifyError(payload.error)}` : `unsupported outbox kind '${entry.kind}'`;
      this.record(entry.messageId, { ok: false, error });
      this.skipped.add(entry.messageId);
      this.emit('poison', { messageId: entry.messageId, error, rejections: 0, skipped: true });
      this.log?.warn({ messageId: entry.messageId, error }, 'outbox message set aside');
      return 'skip';
    }
    try {
      const ack = await this.client.postPayment(payload.data);
      this.setLink(true);
      this.failures = 0;
      this.record(entry.messageId, { ok: true, serverRef: ack.serverRef });
      this.rejections.delete(entry.messageId);
      this.emit('sent', { messageId: entry.messageId, status: ack.status, serverRef: ack.serverRef });
      return 'sent';
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.record(entry.messageId, { ok: false, error });
      if (err instanceof UplinkError && err.kind === 'rejected') {
        // The server answered, so the link is fine; the message is what it refuses.
        this.setLink(true);
        const rejections = (this.rejections.get(entry.messageId) ?? 0) + 1;
        this.rejections.set(entry.messageId, rejections);
        const skipped = rejections >= MAX_REJECTIONS;
        if (skipped) this.skipped.add(entry.messageId);
        this.emit('poison', { messageId: entry.messageId, error, rejections, skipped });
        this.log?.warn({ messageId: entry.messageId, error, rejections, skipped }, 'payment refused by server');
        return skipped ? 'skip' : 'retry';
      }
      if (err instanceof UplinkError) this.setLink(false, error);
      else this.log?.warn({ err, messageId: entry.messageId }, 'payment send failed unexpectedly');
      return 'retry';
    }
  }

  private record(messageId: string, r: SendResult): void {
    try {
      this.outbox.markSent(messageId, r);
    } catch (err) {
      // An ack that did not reach the journal only costs a resend, which the server answers 'duplicate'.
      this.log?.warn({ err, messageId }, 'outbox markSent failed');
    }
  }

  private setLink(up: boolean, error?: string): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    this.emit('link', up ? { up } : { up, error: error ?? 'unknown' });
    this.log?.info({ up, error }, 'business link');
  }

  /** Exponential back-off with full jitter: uniform in [0, min(max, initial · 2^failures)). */
  private nextBackoff(): number {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    const delayMs = Math.floor(this.random() * ceiling);
    this.emit('backoff', { failures: this.failures, delayMs });
    return delayMs;
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || ms <= 0) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
