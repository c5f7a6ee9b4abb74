/**
 * The reference host's wallet payment gateway (issue 17): charges payment codes, answers queries,
 * creates orders for the kiosk's QR code, and revokes or closes what the kiosk gives up on. What it
 * does for a code is chosen by the code's digits 3–4 (hw-sim/wallet-codes.ts) or, for every code,
 * by an admin call. It keeps the masked code only, and per payment what was paid and what was given
 * back, so a test can check paid − revoked against what the kiosk's payment says. A payment that
 * lands after a close or a revoke is given back at once and recorded as an anomaly: never kept twice.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { CURRENCY, PHONE_PATTERN } from '../../src/domain/index.js';
import { behaviourOf, WALLET_BEHAVIOURS, type WalletBehaviour } from '../wallet-codes.js';

export const WALLET_MODES = ['by-code', ...(Object.keys(WALLET_BEHAVIOURS) as WalletBehaviour[])] as const;
export type WalletMode = (typeof WALLET_MODES)[number];

/** What the gateway records when a payment lands after the kiosk's revoke or close: refunded at once. */
export const LATE_PAYMENT_ANOMALIES = ['wallet-paid-before-revoke', 'wallet-paid-after-close'] as const;

export type WalletStatus = 'confirming' | 'paid' | 'failed' | 'open' | 'revoked' | 'closed';

const FAILURE_REASONS: Partial<Record<WalletBehaviour, string>> = {
  'failed-insufficient-balance': 'insufficient-balance',
  'failed-code-expired': 'code-expired',
  'failed-code-used': 'code-used',
};

const id = z.string().min(1).max(200);
export const chargeBody = z.object({
  paymentId: id,
  txnId: id,
  phone: z.string().regex(PHONE_PATTERN),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  currency: z.literal(CURRENCY),
  wallet: z.string().min(1).max(32),
  code: z.string().regex(/^\d{10,32}$/),
});
export const queryBody = z.object({ paymentId: id, txnId: id });
export const orderBody = z.object({
  paymentId: id,
  txnId: id,
  phone: z.string().regex(PHONE_PATTERN),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  currency: z.literal(CURRENCY),
});
export const revokeBody = z.object({
  messageId: id,
  txnId: id,
  paymentId: id,
  action: z.enum(['revoke', 'close']),
  amount: z.number().int().positive(),
  currency: z.literal(CURRENCY),
  reason: z.string().min(1).max(500),
  createdAt: z.string(),
});

export type WalletAnswer =
  | { paymentId: string; outcome: 'paid'; gatewayRef: string }
  | { paymentId: string; outcome: 'failed'; reason: string }
  | { paymentId: string; outcome: 'confirming' };

/** What the link does with a charge: answer, stay silent, or drop the connection after recording. */
export type ChargeReply = { kind: 'answer'; answer: WalletAnswer } | { kind: 'silent' } | { kind: 'drop' };

export interface WalletPaymentRecord {
  paymentId: string;
  txnId: string;
  terminalId: string | null;
  mode: 'code' | 'qr';
  wallet: string;
  maskedCode: string | null;
  amount: number;
  behaviour: string;
  status: WalletStatus;
  reason: string | null;
  /** Money the customer's wallet paid (fen). */
  paid: number;
  /** Money given back by a revoke, a close or a refund (fen). */
  revoked: number;
  codeUrl: string | null;
  expiresAt: string | null;
  queries: number;
  revokeMessageId: string | null;
  createdAt: string;
}

/** Per transaction: what the gateway kept (paid − revoked) against what the kiosk's payment says it took by wallet. */
export interface WalletBalance {
  txnId: string;
  paid: number;
  revoked: number;
  settled: number;
  ok: boolean;
}

export interface WalletOptions {
  now?: () => Date;
  anomaly: (kind: string, txnId: string | null, detail: string) => void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS wallet_payments (
  payment_id TEXT PRIMARY KEY,
  txn_id TEXT NOT NULL,
  terminal_id TEXT,
  mode TEXT NOT NULL CHECK (mode IN ('code', 'qr')),
  wallet TEXT NOT NULL,
  masked_code TEXT,
  amount INTEGER NOT NULL CHECK (amount > 0),
  behaviour TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  paid INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked <= paid),
  confirm_at TEXT,
  code_url TEXT,
  expires_at TEXT,
  queries INTEGER NOT NULL DEFAULT 0,
  revoke_message_id TEXT,
  revoke_ref TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS wallet_payments_txn ON wallet_payments (txn_id);
CREATE TABLE IF NOT EXISTS wallet_settlements (
  txn_id TEXT PRIMARY KEY,
  payment_id TEXT NOT NULL,
  mobile_in INTEGER NOT NULL
);
`;

interface Row {
  payment_id: string;
  txn_id: string;
  terminal_id: string | null;
  mode: 'code' | 'qr';
  wallet: string;
  masked_code: string | null;
  amount: number;
  behaviour: string;
  status: WalletStatus;
  reason: string | null;
  paid: number;
  revoked: number;
  confirm_at: string | null;
  code_url: string | null;
  expires_at: string | null;
  queries: number;
  revoke_message_id: string | null;
  revoke_ref: string | null;
  created_at: string;
}

export class WalletGateway {
  /** 'by-code' lets the code's digits 3–4 decide; any behaviour name applies to every code. */
  mode: WalletMode = 'by-code';
  /** How long the customer takes to confirm on the phone ('paid-after-confirm'). */
  confirmMs = 4000;
  /** How long an order for the kiosk's QR code may be paid. */
  orderTtlMs = 120_000;
  /** Revokes still to be left unacknowledged (the gateway said "try again"), for the retry scenario. */
  refuseRevokes = 0;
  private readonly now: () => Date;

  constructor(
    private readonly db: Database.Database,
    private readonly o: WalletOptions,
  ) {
    this.now = o.now ?? (() => new Date());
    db.exec(SCHEMA);
  }

  /** Charges a code once per payment id; a payment id seen before is answered from its record. */
  charge(c: z.infer<typeof chargeBody>, terminalId: string | null): ChargeReply {
    return this.db.transaction((): ChargeReply => {
      const known = this.row(c.paymentId);
      if (known) return known.behaviour === 'no-answer' ? { kind: 'silent' } : { kind: 'answer', answer: this.answer(this.settle(known)) };
      const behaviour = this.mode === 'by-code' ? behaviourOf(c.code) : this.mode;
      const at = this.stamp();
      const failed = FAILURE_REASONS[behaviour];
      const paidNow = behaviour === 'paid' || behaviour === 'answer-lost-after-paying';
      const status: WalletStatus = failed ? 'failed' : paidNow ? 'paid' : 'confirming';
      this.db
        .prepare(
          `INSERT INTO wallet_payments (payment_id, txn_id, terminal_id, mode, wallet, masked_code, amount, behaviour, status,
             reason, paid, confirm_at, created_at)
           VALUES (?, ?, ?, 'code', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          c.paymentId,
          c.txnId,
          terminalId,
          c.wallet,
          c.code.slice(0, 2) + '*'.repeat(c.code.length - 6) + c.code.slice(-4),
          c.amount,
          behaviour,
          status,
          failed ?? null,
          paidNow ? c.amount : 0,
          behaviour === 'paid-after-confirm' ? new Date(this.now().getTime() + this.confirmMs).toISOString() : null,
          at,
        );
      if (behaviour === 'no-answer') return { kind: 'silent' };
      if (behaviour === 'answer-lost-after-paying') return { kind: 'drop' };
      return { kind: 'answer', answer: this.answer(this.row(c.paymentId)!) };
    })();
  }

  /** The payment's state now; null when the gateway stays silent ('no-answer'). */
  query(q: z.infer<typeof queryBody>): WalletAnswer | null {
    return this.db.transaction((): WalletAnswer | null => {
      const r = this.row(q.paymentId);
      if (!r) return { paymentId: q.paymentId, outcome: 'failed', reason: 'not-found' };
      this.db.prepare('UPDATE wallet_payments SET queries = queries + 1 WHERE payment_id = ?').run(q.paymentId);
      if (r.behaviour === 'no-answer' && r.status === 'confirming') return null;
      return this.answer(this.settle(r));
    })();
  }

  createOrder(o: z.infer<typeof orderBody>, terminalId: string | null): { paymentId: string; codeUrl: string; expiresAt: string } {
    return this.db.transaction(() => {
      let r = this.row(o.paymentId);
      if (!r) {
        const token = createHash('sha256').update(o.paymentId).digest('hex').slice(0, 24);
        const expiresAt = new Date(this.now().getTime() + this.orderTtlMs).toISOString();
        this.db
          .prepare(
            `INSERT INTO wallet_payments (payment_id, txn_id, terminal_id, mode, wallet, amount, behaviour, status, code_url, expires_at, created_at)
             VALUES (?, ?, ?, 'qr', 'any', ?, 'order', 'open', ?, ?, ?)`,
          )
          .run(o.paymentId, o.txnId, terminalId, o.amount, `https://pay.example.test/qr/${token}`, expiresAt, this.stamp());
        r = this.row(o.paymentId)!;
      }
      return { paymentId: r.payment_id, codeUrl: r.code_url!, expiresAt: r.expires_at! };
    })();
  }

  /** The customer's phone pays the order shown as a QR code (the simulator's panel or a scenario). */
  payOrder(paymentId: string): WalletPaymentRecord {
    return this.db.transaction(() => {
      const r = this.row(paymentId);
      if (r?.mode !== 'qr') throw new Error(`no order ${paymentId}`);
      if (r.status === 'open' && !this.expired(r)) {
        this.db.prepare(`UPDATE wallet_payments SET status = 'paid', paid = amount WHERE payment_id = ?`).run(paymentId);
      } else if (r.paid === 0) {
        // Closed or expired: the wallet's money comes straight back, and the kiosk is never told paid.
        this.db.prepare('UPDATE wallet_payments SET paid = amount, revoked = amount WHERE payment_id = ?').run(paymentId);
        this.o.anomaly(LATE_PAYMENT_ANOMALIES[1], r.txn_id, `order ${paymentId} paid after it was ${r.status === 'open' ? 'expired' : r.status}: refunded`);
      }
      return toRecord(this.row(paymentId)!);
    })();
  }

  /**
   * A revoke or close from the kiosk's outbox. Returns the reference to acknowledge with, or null
   * when the gateway asks to try again (no acknowledgement: the kiosk re-sends).
   */
  revoke(m: z.infer<typeof revokeBody>, terminalId: string | null): string | null {
    return this.db.transaction((): string | null => {
      let r = this.row(m.paymentId);
      if (r?.revoke_message_id === m.messageId && r.revoke_ref) return r.revoke_ref;
      if (this.refuseRevokes > 0) {
        this.refuseRevokes -= 1;
        return null;
      }
      const ref = `W${createHash('sha256').update(m.messageId).digest('hex').slice(0, 10)}`;
      if (!r) {
        // Never seen: a tombstone, so the charge, should it still arrive, is refused.
        this.db
          .prepare(
            `INSERT INTO wallet_payments (payment_id, txn_id, terminal_id, mode, wallet, amount, behaviour, status, reason, created_at)
             VALUES (?, ?, ?, ?, 'unknown', ?, 'tombstone', ?, 'revoked-before-charge', ?)`,
          )
          .run(m.paymentId, m.txnId, terminalId, m.action === 'close' ? 'qr' : 'code', m.amount, m.action === 'close' ? 'closed' : 'revoked', this.stamp());
        r = this.row(m.paymentId)!;
      }
      r = this.settle(r);
      if (r.behaviour === 'paid-after-revoke-sent' && r.status === 'confirming') {
        // The customer's confirmation wins the race with the revoke: paid, then given back.
        this.db.prepare(`UPDATE wallet_payments SET paid = amount WHERE payment_id = ?`).run(m.paymentId);
        this.o.anomaly(LATE_PAYMENT_ANOMALIES[0], m.txnId, `payment ${m.paymentId} completed as the revoke arrived: refunded`);
      }
      const status: WalletStatus = m.action === 'close' ? 'closed' : 'revoked';
      this.db
        .prepare('UPDATE wallet_payments SET status = ?, revoked = paid, revoke_message_id = ?, revoke_ref = ? WHERE payment_id = ?')
        .run(status, m.messageId, ref, m.paymentId);
      return ref;
    })();
  }

  /** The kiosk's settled payment named this wallet payment: kept to check the balance against. */
  settled(txnId: string, paymentId: string, mobileIn: number): void {
    this.db.prepare('INSERT OR IGNORE INTO wallet_settlements (txn_id, payment_id, mobile_in) VALUES (?, ?, ?)').run(txnId, paymentId, mobileIn);
    const r = this.row(paymentId);
    const kept = r ? r.paid - r.revoked : 0;
    if (kept !== mobileIn) this.o.anomaly('mobile-payment-unproven', txnId, `payment says ${mobileIn} by wallet ${paymentId}, the gateway kept ${kept}`);
  }

  payments(): WalletPaymentRecord[] {
    return (this.db.prepare('SELECT * FROM wallet_payments ORDER BY created_at, rowid').all() as Row[]).map(toRecord);
  }

  payment(paymentId: string): WalletPaymentRecord | undefined {
    const r = this.row(paymentId);
    return r && toRecord(r);
  }

  balance(): WalletBalance[] {
    return (
      this.db
        .prepare(
          `SELECT t.txn_id AS txnId, SUM(p.paid) AS paid, SUM(p.revoked) AS revoked, COALESCE(s.mobile_in, 0) AS settled
           FROM (SELECT DISTINCT txn_id FROM wallet_payments UNION SELECT txn_id FROM wallet_settlements) t
           LEFT JOIN wallet_payments p ON p.txn_id = t.txn_id
           LEFT JOIN wallet_settlements s ON s.txn_id = t.txn_id
           GROUP BY t.txn_id ORDER BY t.txn_id`,
        )
        .all() as Omit<WalletBalance, 'ok'>[]
    ).map((b) => ({ ...b, paid: b.paid ?? 0, revoked: b.revoked ?? 0, ok: (b.paid ?? 0) - (b.revoked ?? 0) === b.settled }));
  }

  /** A confirming payment whose confirmation time has come is paid; an open order past its time has expired. */
  private settle(r: Row): Row {
    if (r.status === 'confirming' && r.confirm_at !== null && Date.parse(r.confirm_at) <= this.now().getTime()) {
      this.db.prepare(`UPDATE wallet_payments SET status = 'paid', paid = amount WHERE payment_id = ?`).run(r.payment_id);
      return this.row(r.payment_id)!;
    }
    return r;
  }

  private answer(r: Row): WalletAnswer {
    const paymentId = r.payment_id;
    if (r.status === 'paid') return { paymentId, outcome: 'paid', gatewayRef: `G-${paymentId}` };
    if (r.status === 'failed') return { paymentId, outcome: 'failed', reason: r.reason ?? 'failed' };
    if (r.status === 'revoked' || r.status === 'closed') return { paymentId, outcome: 'failed', reason: r.status };
    if (r.status === 'open' && this.expired(r)) return { paymentId, outcome: 'failed', reason: 'expired' };
    return { paymentId, outcome: 'confirming' };
  }

  private expired(r: Row): boolean {
    return r.expires_at !== null && Date.parse(r.expires_at) <= this.now().getTime();
  }

  private row(paymentId: string): Row | undefined {
    return this.db.prepare('SELECT * FROM wallet_payments WHERE payment_id = ?').get(paymentId) as Row | undefined;
  }

  private stamp(): string {
    return this.now().toISOString();
  }
}

function toRecord(r: Row): WalletPaymentRecord {
  return {
    paymentId: r.payment_id,
    txnId: r.txn_id,
    terminalId: r.terminal_id,
    mode: r.mode,
    wallet: r.wallet,
    maskedCode: r.masked_code,
    amount: r.amount,
    behaviour: r.behaviour,
    status: r.status,
    reason: r.reason,
    paid: r.paid,
    revoked: r.revoked,
    codeUrl: r.code_url,
    expiresAt: r.expires_at,
    queries: r.queries,
    revokeMessageId: r.revoke_message_id,
    createdAt: r.created_at,
  };
}
