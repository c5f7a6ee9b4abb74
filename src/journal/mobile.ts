import { MASKED_CODE_PATTERN } from '../domain/wallet.js';
import { foldCardAttempts } from './cards.js';
import { isEvent, type EventPayloads, type JournalEvent } from './events.js';
import { PAYMENT_CURRENCY, type Ledger } from './ledger.js';
import type { Outbox } from './outbox.js';
import { requirePositive, requireText } from './validate.js';

/** 'code': the customer's payment code, scanned; 'qr': an order the kiosk showed as a QR code. */
export type MobileMode = 'code' | 'qr';

export interface MobileRequest {
  /** Unique per attempt: the gateway's out-trade number, and what the revoke names. */
  paymentId: string;
  mode: MobileMode;
  wallet: string;
  amount: number;
  /** The scanned code's first 2 and last 4 digits (mode 'code' only). */
  maskedCode?: string;
}

/**
 * requested: sent, no outcome yet. paid: credited. failed: the gateway said no money moved.
 * revoking: not known paid when the kiosk gave up; its revoke is queued. revoked: the gateway
 * acknowledged the revoke.
 */
export type MobileStatus = 'requested' | 'paid' | 'failed' | 'revoking' | 'revoked';

export interface MobileAttempt extends MobileRequest {
  txnId: string;
  status: MobileStatus;
  reason?: string;
  gatewayRef?: string;
  /** The gateway reported it paid after the kiosk had decided to revoke. */
  paidAfterRevoke?: boolean;
}

/** The outbox payload that undoes a wallet payment (a scanned code) or closes an order (a QR). */
export interface MobileRevokeMessage {
  messageId: string;
  txnId: string;
  paymentId: string;
  action: 'revoke' | 'close';
  amount: number;
  currency: 'CNY';
  reason: string;
  createdAt: string;
}

export const MOBILE_REVOKE_KIND = 'mobile-revoke';

export function revokeMessageId(txnId: string, paymentId: string): string {
  return `${txnId}:revoke:${paymentId}`;
}

/** What paid() did: credited the money, or kept to the revoke the kiosk had already decided. */
export type MobilePaidOutcome = 'credited' | 'revoke-stands';

/**
 * Mobile wallet payments: the request journalled (with the masked code only) before the code or
 * the order leaves the kiosk, the credit point, a failure, and the revoke of a payment not known
 * to be paid, queued in the outbox in the same write and sent until the gateway acknowledges it.
 * Once a revoke is decided the payment is never credited, whatever the gateway says later.
 */
export class Mobile {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly l: Ledger,
    private readonly outbox: Outbox,
  ) {
    this.sql = prepare(l.db);
  }

  /** A wallet pays exactly the amount due of a bill, alone, one request at a time. */
  requested(txnId: string, r: MobileRequest): void {
    requireText('paymentId', r.paymentId);
    if (r.mode !== 'code' && r.mode !== 'qr') throw new Error(`journal: mobile mode must be code or qr, got ${JSON.stringify(r.mode)}`);
    requireText('wallet', r.wallet);
    requirePositive('amount', r.amount);
    if (r.mode === 'code' || r.maskedCode !== undefined) requireMaskedCode(r.maskedCode);
    this.l.write(() => {
      const row = this.l.mustBeOpen(txnId, 'request a mobile payment in');
      if (row.service !== 'pay') throw new Error(`journal: mobile payment on "${txnId}": only a bill payment takes a wallet, not ${row.service}`);
      if (row.cashIn > 0 || row.cardIn > 0 || row.mobileIn > 0) {
        throw new Error(`journal: mobile payment on "${txnId}": money was already taken (cash ${row.cashIn}, card ${row.cardIn}, mobile ${row.mobileIn})`);
      }
      if (row.amountDue !== r.amount) {
        throw new Error(`journal: mobile payment on "${txnId}": amount ${r.amount} is not the amount due ${String(row.amountDue)}`);
      }
      const events = this.l.events(txnId);
      const attempts = foldMobileAttempts(txnId, events);
      if (attempts.some((a) => a.paymentId === r.paymentId)) throw new Error(`journal: mobile payment "${r.paymentId}" already exists`);
      const open = attempts.find((a) => a.status === 'requested');
      if (open) throw new Error(`journal: mobile payment on "${txnId}": "${open.paymentId}" has no outcome yet`);
      const card = foldCardAttempts(txnId, events).find((c) => c.status === 'requested');
      if (card) throw new Error(`journal: mobile payment on "${txnId}": card request "${card.requestId}" has no outcome yet`);
      const at = this.l.stamp();
      this.l.touch(txnId, at);
      const data: EventPayloads['mobile.requested'] = { paymentId: r.paymentId, amount: r.amount, mode: r.mode, wallet: r.wallet };
      if (r.maskedCode !== undefined) data.maskedCode = r.maskedCode;
      this.l.insert(txnId, 'mobile.requested', data, at);
    });
  }

  /**
   * The gateway says paid. From 'requested' this is the credit point. After the kiosk decided to
   * revoke, the payment is not credited: the fact is recorded and the revoke already queued stands.
   * Told again of a payment already credited, nothing changes.
   */
  paid(txnId: string, p: { paymentId: string; gatewayRef?: string }): MobilePaidOutcome {
    requireText('paymentId', p.paymentId);
    if (p.gatewayRef !== undefined) requireText('gatewayRef', p.gatewayRef);
    return this.l.write(() => {
      const a = this.attempt(txnId, p.paymentId);
      if (a.status === 'paid') return 'credited';
      const at = this.l.stamp();
      if (a.status === 'revoking' || a.status === 'revoked') {
        if (!a.paidAfterRevoke) {
          const data: EventPayloads['mobile.paid-after-revoke'] = { paymentId: p.paymentId };
          if (p.gatewayRef !== undefined) data.gatewayRef = p.gatewayRef;
          this.l.insert(txnId, 'mobile.paid-after-revoke', data, at);
        }
        return 'revoke-stands';
      }
      if (a.status === 'failed') throw new Error(`journal: mobile payment "${p.paymentId}" failed before; a later "paid" needs a revoke, not a credit`);
      this.l.mustBeOpen(txnId, 'credit a mobile payment in');
      this.sql.mobileIn.run(a.amount, a.amount, at, txnId);
      const data: EventPayloads['mobile.paid'] = { paymentId: p.paymentId, amount: a.amount };
      if (p.gatewayRef !== undefined) data.gatewayRef = p.gatewayRef;
      this.l.insert(txnId, 'mobile.paid', data, at);
      return 'credited';
    });
  }

  /** The gateway said no money moved (refused, insufficient balance, code expired or used). */
  failed(txnId: string, f: { paymentId: string; reason: string }): void {
    requireText('paymentId', f.paymentId);
    requireText('reason', f.reason);
    this.l.write(() => {
      const a = this.attempt(txnId, f.paymentId);
      if (a.status !== 'requested') throw new Error(`journal: cannot fail mobile payment "${f.paymentId}": it is already ${a.status}`);
      const at = this.l.stamp();
      this.l.touch(txnId, at);
      this.l.insert(txnId, 'mobile.failed', { paymentId: f.paymentId, reason: f.reason }, at);
    });
  }

  /**
   * Not known to be paid and the kiosk gives up (the query limit ran out, the customer left, a
   * crash): in this one write the decision and its revoke (or, for a QR order, its close) are
   * queued. Asking again returns the revoke already queued.
   */
  unknown(txnId: string, u: { paymentId: string; reason: string }): MobileRevokeMessage {
    requireText('paymentId', u.paymentId);
    requireText('reason', u.reason);
    return this.l.write(() => {
      const a = this.attempt(txnId, u.paymentId);
      const messageId = revokeMessageId(txnId, u.paymentId);
      if (a.status === 'revoking' || a.status === 'revoked') return this.message(messageId);
      if (a.status !== 'requested') throw new Error(`journal: cannot revoke mobile payment "${u.paymentId}": it is ${a.status}`);
      const at = this.l.stamp();
      this.l.touch(txnId, at);
      this.l.insert(txnId, 'mobile.unknown', { paymentId: u.paymentId, reason: u.reason, revokeMessageId: messageId }, at);
      const message: MobileRevokeMessage = {
        messageId,
        txnId,
        paymentId: u.paymentId,
        action: a.mode === 'qr' ? 'close' : 'revoke',
        amount: a.amount,
        currency: PAYMENT_CURRENCY,
        reason: u.reason,
        createdAt: at,
      };
      this.outbox.insertMessage(message, MOBILE_REVOKE_KIND, at);
      return message;
    });
  }

  /** The gateway acknowledged a revoke: called inside the outbox's write that marks it acknowledged. */
  revokeAcknowledged(txnId: string, payload: Record<string, unknown>, serverRef: string, at: string): void {
    const paymentId = String(payload.paymentId);
    const a = foldMobileAttempts(txnId, this.l.events(txnId)).find((x) => x.paymentId === paymentId);
    if (a?.status !== 'revoking') return;
    this.l.insert(txnId, 'mobile.revoked', { paymentId, revokeMessageId: String(payload.messageId), serverRef }, at);
  }

  attempts(txnId: string): MobileAttempt[] {
    this.l.mustGet(txnId);
    return foldMobileAttempts(txnId, this.l.events(txnId));
  }

  /** Requests without an outcome in open transactions: what recovery must query. */
  unresolved(): MobileAttempt[] {
    const out: MobileAttempt[] = [];
    for (const { id } of this.sql.openWithRequest.all() as { id: string }[]) {
      out.push(...foldMobileAttempts(id, this.l.events(id)).filter((a) => a.status === 'requested'));
    }
    return out;
  }

  private attempt(txnId: string, paymentId: string): MobileAttempt {
    this.l.mustGet(txnId);
    const a = foldMobileAttempts(txnId, this.l.events(txnId)).find((x) => x.paymentId === paymentId);
    if (!a) throw new Error(`journal: mobile payment "${paymentId}" was never requested in "${txnId}"`);
    return a;
  }

  private message(messageId: string): MobileRevokeMessage {
    const r = this.sql.message.get(messageId) as { payload: string } | undefined;
    if (!r) throw new Error(`journal: revoke message "${messageId}" is missing from the outbox`);
    return JSON.parse(r.payload) as MobileRevokeMessage;
  }
}

/** Folds a transaction's mobile.* events into its attempts, oldest first. */
export function foldMobileAttempts(txnId: string, events: readonly JournalEvent[]): MobileAttempt[] {
  const attempts = new Map<string, MobileAttempt>();
  for (const e of events) {
    if (!e.type.startsWith('mobile.')) continue;
    if (isEvent(e, 'mobile.requested')) {
      attempts.set(e.data.paymentId, { ...(e.data as MobileRequest), txnId, status: 'requested' });
      continue;
    }
    const a = attempts.get(String(e.data.paymentId));
    if (!a) continue;
    if (isEvent(e, 'mobile.paid')) Object.assign(a, { status: 'paid' }, e.data.gatewayRef ? { gatewayRef: e.data.gatewayRef } : {});
    else if (isEvent(e, 'mobile.failed')) Object.assign(a, { status: 'failed', reason: e.data.reason });
    else if (isEvent(e, 'mobile.unknown')) Object.assign(a, { status: 'revoking', reason: e.data.reason });
    else if (isEvent(e, 'mobile.revoked')) a.status = 'revoked';
    else if (isEvent(e, 'mobile.paid-after-revoke')) a.paidAfterRevoke = true;
  }
  return [...attempts.values()];
}

/** A masked code shows at most the first 2 and last 4 digits: a full code never reaches the journal. */
function requireMaskedCode(v: unknown): asserts v is string {
  if (typeof v !== 'string' || !MASKED_CODE_PATTERN.test(v)) {
    throw new Error('journal: maskedCode must show at most the first 2 and last 4 digits, the rest masked');
  }
}

function prepare(db: Ledger['db']) {
  return {
    mobileIn: db.prepare('UPDATE transactions SET mobile_in = mobile_in + ?, credited = credited + ?, updated_at = ? WHERE id = ?'),
    message: db.prepare('SELECT payload FROM outbox WHERE message_id = ?'),
    openWithRequest: db.prepare(
      `SELECT t.id FROM transactions t WHERE t.status = 'open'
       AND EXISTS (SELECT 1 FROM events e WHERE e.txn_id = t.id AND e.type = 'mobile.requested')
       ORDER BY t.created_at, t.rowid`,
    ),
  };
}
