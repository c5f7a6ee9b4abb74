import { outboxMismatch, payloadDigest, queuedStatement } from './bindings.js';
import { PAYMENT_CURRENCY, type Ledger, type Service } from './ledger.js';
import { requirePositive, requireText } from './validate.js';

export interface OutboxRow {
  seq: number;
  messageId: string;
  txnId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  createdAt: string;
  attempts: number;
  lastAttemptAt: string | null;
  lastError: string | null;
  ackedAt: string | null;
  serverRef: string | null;
  /** Why this row is not what the journal chained when it was queued; absent when it is. */
  tampered?: string;
}

/** The outbox payload of a settled transaction that credited money. */
export interface PaymentMessage {
  messageId: string;
  txnId: string;
  service: Service;
  phone: string | null;
  amount: number;
  currency: 'CNY';
  cashIn: number;
  /** Present when the payment was by card. */
  cardIn?: number;
  card?: PaymentCard;
  /** Present when a mobile wallet paid. */
  mobileIn?: number;
  mobile?: PaymentMobile;
  settledAt: string;
}

/** Which wallet payment paid, as the business side is told it. Never the payment code. */
export interface PaymentMobile {
  paymentId: string;
  mode: 'code' | 'qr';
  wallet: string;
}

/** How a card payment was authorised, as the business side is told it. Never the full card number. */
export interface PaymentCard {
  method: 'reader' | 'terminal';
  requestId?: string;
  receiptNo?: number;
  maskedPan?: string;
}

/** The outbox payload that undoes an earlier online request (Journal.queueReversal). */
export interface ReversalMessage {
  messageId: string;
  txnId: string;
  /** The message id of the request being undone. */
  reverses: string;
  amount: number;
  currency: 'CNY';
  reason: string;
  createdAt: string;
}

export type SendResult = { ok: true; serverRef?: string } | { ok: false; error: string };

interface OutboxRecord {
  seq: number;
  message_id: string;
  txn_id: string | null;
  kind: string;
  payload: string;
  created_at: string;
  attempts: number;
  last_attempt_at: string | null;
  last_error: string | null;
  acked_at: string | null;
  server_ref: string | null;
}

/**
 * The store-and-forward queue to the business server: payments written by the settle that credits
 * them, reversals by the fact that makes them necessary, both sent until acknowledged.
 */
/** Told, inside the write that records it, that the server acknowledged a message of its kind. */
export type AckHook = (txnId: string, payload: Record<string, unknown>, serverRef: string, at: string) => void;

export class Outbox {
  private readonly sql: ReturnType<typeof prepare>;
  private readonly ackHooks = new Map<string, AckHook>();

  constructor(private readonly l: Ledger) {
    this.sql = prepare(l.db);
  }

  /** A concern whose message's acknowledgement is itself a fact (a wallet revoke) journals it here. */
  onAck(kind: string, hook: AckHook): void {
    this.ackHooks.set(kind, hook);
  }

  /** Queues the payment message of a settle; call it inside that settle's write. */
  insertPayment(message: PaymentMessage): void {
    this.queue(message.txnId, 'payment', message.messageId, JSON.stringify(message), message.settledAt);
  }

  /** Queues a message of another kind (a claim); call it inside the write of the fact it tells. */
  insertMessage(message: { messageId: string; txnId: string }, kind: string, at: string): void {
    this.queue(message.txnId, kind, message.messageId, JSON.stringify(message), at);
  }

  /** The row and the chained event that binds its payload, in the write under way. */
  private queue(txnId: string, kind: string, messageId: string, payload: string, at: string): void {
    this.sql.insert.run(messageId, txnId, kind, payload, at);
    this.l.insert(txnId, 'outbox.queued', { messageId, kind, digest: payloadDigest(payload) }, at);
  }

  /**
   * Messages not yet acknowledged by the server, oldest first. Each is checked against the event
   * that bound it when it was queued: one that no longer matches carries `tampered`.
   */
  pending(limit: number): OutboxRow[] {
    requirePositive('limit', limit);
    return (this.sql.pending.all(limit) as OutboxRecord[]).map((r) => {
      const why = this.mismatch(r);
      return why === null ? toOutbox(r) : { ...toOutbox(r), tampered: why };
    });
  }

  /** Every outbox row against its chained record, and every record against its row (verify). */
  problems(): string[] {
    const problems: string[] = [];
    for (const r of this.sql.all.iterate() as IterableIterator<OutboxRecord>) {
      const why = this.mismatch(r);
      if (why !== null) problems.push(why);
    }
    for (const e of this.sql.queuedWithoutRow.all() as { seq: number; message_id: string }[]) {
      problems.push(`outbox message ${e.message_id} (queued by event ${e.seq}) is missing from the outbox: it was deleted`);
    }
    return problems;
  }

  private mismatch(r: OutboxRecord): string | null {
    return outboxMismatch(r, this.sql.queued.get(r.message_id) as { kind: string; digest: string } | undefined);
  }

  stats(): { pending: number; oldestPendingAt: string | null; acked: number } {
    const r = this.sql.stats.get() as { pending: number; oldest: string | null; acked: number };
    return { pending: r.pending, oldestPendingAt: r.oldest, acked: r.acked };
  }

  /**
   * When the oldest unacknowledged message (of `kind`, when given) was written; one index look-up
   * for the whole outbox, however long the backlog.
   */
  oldestPendingAt(kind?: string): string | null {
    const r = (kind === undefined ? this.sql.head.get() : this.sql.headOfKind.get(kind)) as { created_at: string } | undefined;
    return r?.created_at ?? null;
  }

  /**
   * Records delivery attempts in one commit, so a drain costs one disk sync per batch. The server
   * may acknowledge twice or a message we no longer hold (re-sending is always safe); such an ack
   * changes nothing.
   */
  markSentAll(deliveries: readonly { messageId: string; result: SendResult }[]): void {
    for (const d of deliveries) if (!d.result.ok) requireText('error', d.result.error);
    this.l.write(() => {
      const at = this.l.stamp();
      for (const { messageId, result } of deliveries) {
        const r = this.sql.byMessage.get(messageId) as { acked_at: string | null; kind: string; txn_id: string | null; payload: string } | undefined;
        if (!r || r.acked_at !== null) continue;
        if (!result.ok) {
          this.sql.markFailed.run(at, result.error, messageId);
          continue;
        }
        this.sql.markAcked.run(at, at, result.serverRef ?? null, messageId);
        const hook = this.ackHooks.get(r.kind);
        if (hook && r.txn_id !== null) hook(r.txn_id, JSON.parse(r.payload) as Record<string, unknown>, result.serverRef ?? '', at);
      }
    });
  }

  /**
   * Queues the undoing of an earlier online request of this transaction (e.g. a card authorisation
   * whose answer never came): the event and the outbox message commit together, and the forwarder
   * sends it like a payment until the server acknowledges it. Asking again for the same request
   * returns the reversal already queued.
   */
  queueReversal(txnId: string, r: { reverses: string; amount: number; reason: string }): ReversalMessage {
    requireText('reverses', r.reverses);
    requirePositive('amount', r.amount);
    requireText('reason', r.reason);
    return this.l.write(() => {
      this.l.mustGet(txnId);
      return this.insertReversal(txnId, r);
    });
  }

  /** queueReversal inside a write already under way (the one journalling the unknown outcome). */
  insertReversal(txnId: string, r: { reverses: string; amount: number; reason: string }): ReversalMessage {
    const messageId = reversalId(txnId, r.reverses);
    const known = this.sql.message.get(messageId) as { payload: string } | undefined;
    if (known) return JSON.parse(known.payload) as ReversalMessage;
    const at = this.l.stamp();
    const message: ReversalMessage = {
      messageId,
      txnId,
      reverses: r.reverses,
      amount: r.amount,
      currency: PAYMENT_CURRENCY,
      reason: r.reason,
      createdAt: at,
    };
    this.l.insert(txnId, 'txn.reversal', { messageId, reverses: r.reverses, amount: r.amount, reason: r.reason }, at);
    this.queue(txnId, 'reversal', messageId, JSON.stringify(message), at);
    return message;
  }

  has(messageId: string): boolean {
    return this.sql.byMessage.get(messageId) !== undefined;
  }
}

export function reversalId(txnId: string, reverses: string): string {
  return `${txnId}:reversal:${reverses}`;
}

function prepare(db: Ledger['db']) {
  return {
    insert: db.prepare('INSERT INTO outbox (message_id, txn_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)'),
    pending: db.prepare('SELECT * FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT ?'),
    all: db.prepare('SELECT * FROM outbox ORDER BY seq'),
    queued: queuedStatement(db),
    queuedWithoutRow: db.prepare(
      `SELECT e.seq, json_extract(e.data, '$.messageId') AS message_id FROM events e
       WHERE e.type = 'outbox.queued' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = json_extract(e.data, '$.messageId'))`,
    ),
    stats: db.prepare(
      `SELECT
         (SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL) AS pending,
         (SELECT MIN(created_at) FROM outbox WHERE acked_at IS NULL) AS oldest,
         (SELECT COUNT(*) FROM outbox WHERE acked_at IS NOT NULL) AS acked`,
    ),
    byMessage: db.prepare('SELECT acked_at, kind, txn_id, payload FROM outbox WHERE message_id = ?'),
    message: db.prepare('SELECT payload FROM outbox WHERE message_id = ?'),
    head: db.prepare('SELECT created_at FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT 1'),
    headOfKind: db.prepare('SELECT created_at FROM outbox WHERE acked_at IS NULL AND kind = ? ORDER BY seq LIMIT 1'),
    markAcked: db.prepare(
      `UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, acked_at = ?, server_ref = ?
       WHERE message_id = ?`,
    ),
    markFailed: db.prepare(
      'UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? WHERE message_id = ?',
    ),
  };
}

function toOutbox(r: OutboxRecord): OutboxRow {
  return {
    seq: r.seq,
    messageId: r.message_id,
    txnId: r.txn_id,
    kind: r.kind,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    createdAt: r.created_at,
    attempts: r.attempts,
    lastAttemptAt: r.last_attempt_at,
    lastError: r.last_error,
    ackedAt: r.acked_at,
    serverRef: r.server_ref,
  };
}
