/**
 * Store-and-forward: drains the journal's outbox to the business side, oldest first, in batches.
 * The outbox is the only queue: the forwarder reads at most one batch at a time (memory stays flat
 * however long the backlog) and keeps no message of its own, so a restart simply carries on with
 * whatever is still unacknowledged. Each message is re-sent with the same id until acknowledged.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { BusinessAdapter, DeliveryAck, OutboxMessage } from './adapter.js';
import { UplinkError } from './errors.js';
import type { AlarmSink } from '../alarms/sink.js';
import { isOutboxKind, OUTBOX_KINDS } from './messages.js';

export interface OutboxEntry {
  messageId: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  /** The journal found the row is not what it chained when it was queued (see journal/bindings.ts). */
  tampered?: string;
}

export type SendResult = { ok: true; serverRef?: string } | { ok: false; error: string };

export interface Delivery {
  messageId: string;
  result: SendResult;
}

/** The part of the journal the forwarder needs. */
export interface OutboxPort {
  /** Unacknowledged messages, oldest first. */
  outboxPending(limit: number): OutboxEntry[];
  /** Records one attempt per message (and the ack, if any), all in one commit. */
  markSentAll(deliveries: readonly Delivery[]): void;
}

export interface ForwarderOptions {
  outbox: OutboxPort;
  adapter: Pick<BusinessAdapter, 'deliver' | 'on' | 'off'>;
  /** Messages per envelope. */
  batchSize?: number;
  /** Pause between looks at an empty outbox. */
  idleMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** In [0, 1); replaceable so tests are deterministic. */
  random?: () => number;
  log?: Pick<Logger, 'info' | 'warn'>;
  /** Where an edited message is reported (a critical alarm); it is never sent. */
  alarms?: AlarmSink;
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
  error: string;
}

export type ForwarderEvents = {
  sent: [SentInfo];
  poison: [PoisonInfo];
  /** A message that no longer matches what the journal chained: kept, never sent. */
  tampered: [{ messageId: string; error: string }];
  backoff: [BackoffInfo];
  /** An acknowledgement for a message not in the batch, or a second one for the same message. */
  'ignored-ack': [DeliveryAck];
};

/** Refusals after which a message stops holding up the queue until the next run. */
export const MAX_REJECTIONS = 5;

export class Forwarder extends EventEmitter<ForwarderEvents> {
  private readonly outbox: OutboxPort;
  private readonly adapter: ForwarderOptions['adapter'];
  private readonly batchSize: number;
  private readonly idleMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly random: () => number;
  private readonly log: Pick<Logger, 'info' | 'warn'> | undefined;
  private readonly alarms: AlarmSink | undefined;
  private readonly onLinkUp = (): void => this.poke();

  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private failures = 0;
  private readonly rejections = new Map<string, number>();
  private readonly skipped = new Set<string>();

  constructor(opts: ForwarderOptions) {
    super();
    this.outbox = opts.outbox;
    this.adapter = opts.adapter;
    this.batchSize = opts.batchSize ?? 20;
    this.idleMs = opts.idleMs ?? 1000;
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    this.random = opts.random ?? Math.random;
    this.log = opts.log;
    this.alarms = opts.alarms;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${this.batchSize}`);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // A link that comes back ends the back-off at once: the backlog starts moving immediately.
    this.adapter.on('up', this.onLinkUp);
    this.loop = this.run();
  }

  /** Resolves once the loop has ended, after the batch in flight (if any) got its answer. */
  async stop(): Promise<void> {
    this.running = false;
    this.adapter.off('up', this.onLinkUp);
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
      return this.nextBackoff('outbox read failed');
    }
    if (batch.length === 0) return this.idleMs;
    const sendable = this.setAsideUnsendable(batch);
    if (sendable.length === 0) return 0;

    let acks: DeliveryAck[];
    try {
      acks = await this.adapter.deliver(sendable);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      // Nothing reached the server when the link is down: that is not an attempt of the message.
      if (!(err instanceof UplinkError && err.kind === 'unreachable')) {
        this.record(sendable.map((m) => ({ messageId: m.messageId, result: { ok: false, error } })));
      }
      if (!(err instanceof UplinkError)) this.log?.warn({ err }, 'delivery failed unexpectedly');
      else if (err.kind === 'outcome-unknown') this.log?.warn({ messages: sendable.length, error }, 'delivery outcome unknown: the batch will be sent again');
      return this.nextBackoff(error);
    }
    return this.settle(sendable, acks);
  }

  /** Messages nothing could make sendable are set aside at once instead of being sent. */
  private setAsideUnsendable(batch: OutboxEntry[]): OutboxMessage[] {
    const sendable: OutboxMessage[] = [];
    const bad: { messageId: string; error: string }[] = [];
    for (const e of batch) {
      if (e.tampered !== undefined) {
        this.setAsideTampered(e.messageId, e.tampered);
        continue;
      }
      if (!isOutboxKind(e.kind)) {
        bad.push({ messageId: e.messageId, error: `unsupported outbox kind '${e.kind}'` });
        continue;
      }
      const parsed = OUTBOX_KINDS[e.kind].safeParse({ ...e.payload, messageId: e.messageId });
      if (parsed.success) sendable.push({ messageId: e.messageId, kind: e.kind, payload: parsed.data });
      else bad.push({ messageId: e.messageId, error: `invalid ${e.kind} payload: ${z.prettifyError(parsed.error)}` });
    }
    if (bad.length > 0) {
      this.record(bad.map((b) => ({ messageId: b.messageId, result: { ok: false, error: b.error } })));
      for (const b of bad) {
        this.skipped.add(b.messageId);
        this.emit('poison', { messageId: b.messageId, error: b.error, rejections: 0, skipped: true });
        this.log?.warn(b, 'outbox message set aside');
      }
    }
    return sendable;
  }

  /**
   * A payload edited after it was queued (a payment redirected to another phone) is never sent,
   * whatever it says: the row stays as it is for the investigation, the operator gets a critical
   * alarm, and the rest of the queue goes on.
   */
  private setAsideTampered(messageId: string, error: string): void {
    this.skipped.add(messageId);
    this.emit('tampered', { messageId, error });
    this.log?.warn({ messageId, error }, 'outbox message edited after it was queued: not sent');
    this.alarms?.raise({ kind: 'outbox-tampered', source: messageId, severity: 'critical', detail: error });
  }

  /** Applies the server's acks to the batch: one commit, then the events. */
  private settle(batch: OutboxMessage[], acks: DeliveryAck[]): number {
    const inBatch = new Set(batch.map((m) => m.messageId));
    const answered = new Map<string, DeliveryAck>();
    for (const ack of acks) {
      if (!inBatch.has(ack.messageId) || answered.has(ack.messageId)) {
        this.emit('ignored-ack', ack);
        continue;
      }
      answered.set(ack.messageId, ack);
    }
    const deliveries: Delivery[] = [];
    const poison: PoisonInfo[] = [];
    let retry = false;
    for (const m of batch) {
      const ack = answered.get(m.messageId);
      if (!ack) {
        retry = true;
        deliveries.push({ messageId: m.messageId, result: { ok: false, error: 'the server answered without acknowledging it' } });
      } else if (ack.status === 'refused') {
        const rejections = (this.rejections.get(m.messageId) ?? 0) + 1;
        this.rejections.set(m.messageId, rejections);
        const skipped = rejections >= MAX_REJECTIONS;
        if (skipped) this.skipped.add(m.messageId);
        else retry = true;
        deliveries.push({ messageId: m.messageId, result: { ok: false, error: `refused: ${ack.error}` } });
        poison.push({ messageId: m.messageId, error: ack.error, rejections, skipped });
      } else {
        this.rejections.delete(m.messageId);
        deliveries.push({ messageId: m.messageId, result: { ok: true, serverRef: ack.serverRef } });
      }
    }
    this.record(deliveries);
    for (const m of batch) {
      const ack = answered.get(m.messageId);
      if (ack && ack.status !== 'refused') this.emit('sent', { messageId: m.messageId, status: ack.status, serverRef: ack.serverRef });
    }
    for (const p of poison) {
      this.emit('poison', p);
      this.log?.warn(p, 'message refused by the server');
    }
    if (retry) return this.nextBackoff('not every message was acknowledged');
    this.failures = 0;
    return 0;
  }

  private record(deliveries: Delivery[]): void {
    try {
      this.outbox.markSentAll(deliveries);
    } catch (err) {
      // An ack that did not reach the journal only costs a resend, which the server answers 'duplicate'.
      this.log?.warn({ err, messages: deliveries.length }, 'outbox markSentAll failed');
    }
  }

  /** Exponential back-off with full jitter: uniform in [0, min(max, initial · 2^failures)). */
  private nextBackoff(error: string): number {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    const delayMs = Math.floor(this.random() * ceiling);
    this.emit('backoff', { failures: this.failures, delayMs, error });
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
