import { foldMobileAttempts } from './mobile.js';
import { isEvent, type EventPayloads, type JournalEvent } from './events.js';
import type { Ledger } from './ledger.js';
import type { Outbox, PaymentCard } from './outbox.js';
import { requireAmount, requirePositive, requireText } from './validate.js';

/** 'reader': the kiosk read a magnetic stripe and the business server authorised it; 'terminal': a ZVT terminal did. */
export type CardMethod = 'reader' | 'terminal';

export interface CardRequest {
  /** Unique per attempt; a server reversal names it in `reverses`. */
  requestId: string;
  method: CardMethod;
  amount: number;
  maskedPan?: string;
}

/** What the authoriser reported with an approval: the server's auth code, or the terminal's booking. */
export interface CardApproval {
  requestId: string;
  authCode?: string;
  serverRef?: string;
  receiptNo?: number;
  trace?: number;
  terminalId?: string;
  cardName?: string;
}

export type CardStatus = 'requested' | 'approved' | 'declined' | 'unknown';

/** One card authorisation attempt of a transaction, folded from its card.* events. */
export interface CardAttempt extends CardRequest, Omit<CardApproval, 'requestId'> {
  txnId: string;
  status: CardStatus;
  reason?: string;
}

/** What cardUnknown() did about the money. */
export interface CardUnknownOutcome {
  /** 'server': a reversal message is queued; 'terminal': a terminal reversal by receipt number; 'none': an alarm. */
  reversal: 'server' | 'terminal' | 'none';
  /** Card money taken back off the transaction (an approval that is now reversed). */
  withdrawn: number;
}

export type TerminalReversalStatus = 'pending' | 'reversed' | 'refused';

export interface TerminalReversalRow {
  requestId: string;
  txnId: string;
  receiptNo: number;
  amount: number;
  status: TerminalReversalStatus;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  doneAt: string | null;
}

interface TerminalReversalRecord {
  request_id: string;
  txn_id: string;
  receipt_no: number;
  amount: number;
  status: TerminalReversalStatus;
  attempts: number;
  last_error: string | null;
  created_at: string;
  done_at: string | null;
}

const CARD_METHODS: readonly CardMethod[] = ['reader', 'terminal'];
const APPROVAL_DETAILS = ['authCode', 'serverRef', 'receiptNo', 'trace', 'terminalId', 'cardName'] as const;

/**
 * Card payments: the request journalled before the card data or the amount leaves the kiosk, its
 * outcome, and the undoing of an outcome nobody knows (a server reversal, or a terminal reversal
 * by receipt number, retried until the terminal answers).
 */
export class Cards {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly l: Ledger,
    private readonly outbox: Outbox,
  ) {
    this.sql = prepare(l.db);
  }

  /**
   * A card pays exactly the amount due of a bill, alone: no cash may have been taken, and one
   * request runs at a time.
   */
  requested(txnId: string, r: CardRequest): void {
    requireText('requestId', r.requestId);
    if (!CARD_METHODS.includes(r.method)) throw new Error(`journal: card method must be reader or terminal, got ${JSON.stringify(r.method)}`);
    requirePositive('amount', r.amount);
    if (r.maskedPan !== undefined) requireMaskedPan(r.maskedPan);
    this.l.write(() => {
      const row = this.l.mustBeOpen(txnId, 'request a card payment in');
      if (row.service !== 'pay') throw new Error(`journal: card payment on "${txnId}": only a bill payment takes a card, not ${row.service}`);
      if (row.cashIn > 0 || row.cardIn > 0 || row.mobileIn > 0) {
        throw new Error(`journal: card payment on "${txnId}": money was already taken (cash ${row.cashIn}, card ${row.cardIn}, mobile ${row.mobileIn})`);
      }
      if (row.amountDue !== r.amount) {
        throw new Error(`journal: card payment on "${txnId}": amount ${r.amount} is not the amount due ${String(row.amountDue)}`);
      }
      const attempts = this.attempts(txnId);
      if (attempts.some((c) => c.requestId === r.requestId)) throw new Error(`journal: card request "${r.requestId}" already exists`);
      const open = attempts.find((c) => c.status === 'requested');
      if (open) throw new Error(`journal: card payment on "${txnId}": request "${open.requestId}" has no outcome yet`);
      const wallet = foldMobileAttempts(txnId, this.l.events(txnId)).find((m) => m.status === 'requested');
      if (wallet) throw new Error(`journal: card payment on "${txnId}": wallet payment "${wallet.paymentId}" has no outcome yet`);
      const at = this.l.stamp();
      this.l.touch(txnId, at);
      const data: EventPayloads['card.requested'] = { requestId: r.requestId, method: r.method, amount: r.amount };
      if (r.maskedPan !== undefined) data.maskedPan = r.maskedPan;
      this.l.insert(txnId, 'card.requested', data, at);
    });
  }

  /** The credit point of a card payment: the money counts for this transaction from here on. */
  approved(txnId: string, a: CardApproval): void {
    requireText('requestId', a.requestId);
    if (a.authCode !== undefined) requireText('authCode', a.authCode);
    if (a.serverRef !== undefined) requireText('serverRef', a.serverRef);
    if (a.receiptNo !== undefined) requireAmount('receiptNo', a.receiptNo);
    this.l.write(() => {
      this.l.mustBeOpen(txnId, 'approve a card payment in');
      const req = this.pending(txnId, a.requestId, 'approve');
      const at = this.l.stamp();
      this.sql.cardIn.run(req.amount, req.amount, at, txnId);
      const data: EventPayloads['card.approved'] = { requestId: a.requestId, method: req.method, amount: req.amount };
      for (const k of APPROVAL_DETAILS) if (a[k] !== undefined) Object.assign(data, { [k]: a[k] });
      this.l.insert(txnId, 'card.approved', data, at);
    });
  }

  /** Certain that no money was taken: declined, refused, aborted, or never sent. */
  declined(txnId: string, d: { requestId: string; reason: string }): void {
    requireText('requestId', d.requestId);
    requireText('reason', d.reason);
    this.l.write(() => {
      this.l.mustGet(txnId);
      this.pending(txnId, d.requestId, 'decline');
      const at = this.l.stamp();
      this.l.touch(txnId, at);
      this.l.insert(txnId, 'card.declined', { requestId: d.requestId, reason: d.reason }, at);
    });
  }

  /**
   * The outcome is not known (time-out, link lost, crash), or an approval the customer was never
   * told of: in this one write the card money is taken off the transaction and its undoing is
   * queued, a reversal message to the server (reader) or a terminal reversal by receipt number
   * (terminal). A terminal request with no receipt number cannot be reversed by the kiosk: an
   * 'alarm.card-unresolved' event is written for the operator instead.
   */
  unknown(txnId: string, u: { requestId: string; reason: string; receiptNo?: number }): CardUnknownOutcome {
    requireText('requestId', u.requestId);
    requireText('reason', u.reason);
    if (u.receiptNo !== undefined) requireAmount('receiptNo', u.receiptNo);
    return this.l.write(() => {
      this.l.mustBeOpen(txnId, 'record an unknown card outcome in');
      const req = this.attempts(txnId).find((c) => c.requestId === u.requestId);
      if (!req) throw new Error(`journal: unknown card request "${u.requestId}" in "${txnId}"`);
      if (req.status !== 'requested' && req.status !== 'approved') {
        throw new Error(`journal: card request "${u.requestId}" is already ${req.status}`);
      }
      const at = this.l.stamp();
      const withdrawn = req.status === 'approved' ? req.amount : 0;
      if (withdrawn > 0) this.sql.cardOut.run(withdrawn, withdrawn, at, txnId);
      else this.l.touch(txnId, at);
      const receiptNo = u.receiptNo ?? req.receiptNo;
      let reversal: CardUnknownOutcome['reversal'];
      if (req.method === 'reader') reversal = 'server';
      else reversal = receiptNo === undefined ? 'none' : 'terminal';
      const data: EventPayloads['card.unknown'] = { requestId: u.requestId, method: req.method, reason: u.reason, reversal, withdrawn };
      if (receiptNo !== undefined) data.receiptNo = receiptNo;
      this.l.insert(txnId, 'card.unknown', data, at);
      if (reversal === 'server') {
        this.outbox.insertReversal(txnId, { reverses: u.requestId, amount: req.amount, reason: `card-${u.reason}` });
      } else if (reversal === 'terminal') {
        this.sql.insertTerminalReversal.run(u.requestId, txnId, receiptNo, req.amount, at);
      } else {
        this.l.insert(
          txnId,
          'alarm.card-unresolved',
          { requestId: u.requestId, amount: req.amount, reason: u.reason, detail: 'the terminal gave no receipt number: check its journal' },
          at,
        );
      }
      return { reversal, withdrawn };
    });
  }

  /** Every card attempt of a transaction, oldest first. */
  attempts(txnId: string): CardAttempt[] {
    this.l.mustGet(txnId);
    return foldCardAttempts(txnId, this.l.events(txnId));
  }

  /** Terminal reversals still to be sent, oldest first. */
  pendingTerminalReversals(): TerminalReversalRow[] {
    return (this.sql.pendingTerminalReversals.all() as TerminalReversalRecord[]).map(toTerminalReversal);
  }

  terminalReversals(txnId: string): TerminalReversalRow[] {
    return (this.sql.terminalReversalsOf.all(txnId) as TerminalReversalRecord[]).map(toTerminalReversal);
  }

  hasTerminalReversal(requestId: string): boolean {
    return this.sql.terminalReversal.get(requestId) !== undefined;
  }

  /**
   * One attempt at a terminal reversal. 'reversed' and 'refused' are final ('refused' also writes
   * 'alarm.card-reversal-refused': the customer's card stays charged until the operator acts);
   * 'unknown' only counts the attempt, and the worker tries again.
   */
  terminalReversalAttempt(requestId: string, r: { outcome: 'reversed' | 'refused' | 'unknown'; code: string; detail: string }): TerminalReversalRow {
    requireText('requestId', requestId);
    requireText('code', r.code);
    return this.l.write(() => {
      const rec = this.sql.terminalReversal.get(requestId) as TerminalReversalRecord | undefined;
      if (!rec) throw new Error(`journal: no terminal reversal for card request "${requestId}"`);
      if (rec.status !== 'pending') throw new Error(`journal: terminal reversal "${requestId}" is already ${rec.status}`);
      const at = this.l.stamp();
      if (r.outcome === 'unknown') {
        this.sql.terminalReversalFailed.run(`${r.code}: ${r.detail}`, requestId);
      } else {
        this.sql.terminalReversalDone.run(r.outcome, `${r.code}: ${r.detail}`, at, requestId);
        const data = { requestId, receiptNo: rec.receipt_no, amount: rec.amount, code: r.code, detail: r.detail };
        this.l.insert(rec.txn_id, r.outcome === 'reversed' ? 'card.reversed' : 'card.reversal-refused', data, at);
        if (r.outcome === 'refused') this.l.insert(rec.txn_id, 'alarm.card-reversal-refused', data, at);
      }
      return toTerminalReversal(this.sql.terminalReversal.get(requestId) as TerminalReversalRecord);
    });
  }

  private pending(txnId: string, requestId: string, action: string): CardAttempt {
    const req = this.attempts(txnId).find((c) => c.requestId === requestId);
    if (!req) throw new Error(`journal: cannot ${action} card request "${requestId}": it was never requested in "${txnId}"`);
    if (req.status !== 'requested') throw new Error(`journal: cannot ${action} card request "${requestId}": it is already ${req.status}`);
    return req;
  }
}

/** Folds a transaction's card.* events into its attempts, oldest first. */
export function foldCardAttempts(txnId: string, events: readonly JournalEvent[]): CardAttempt[] {
  const attempts = new Map<string, CardAttempt>();
  for (const e of events) {
    if (isEvent(e, 'card.requested')) {
      attempts.set(e.data.requestId, { ...(e.data as CardRequest), txnId, status: 'requested' });
      continue;
    }
    if (isEvent(e, 'card.approved')) {
      const { requestId, method: _m, amount: _a, ...details } = e.data;
      const a = attempts.get(requestId);
      if (a) Object.assign(a, details, { status: 'approved' });
    } else if (isEvent(e, 'card.declined')) {
      const a = attempts.get(e.data.requestId);
      if (a) Object.assign(a, { status: 'declined', reason: e.data.reason });
    } else if (isEvent(e, 'card.unknown')) {
      const a = attempts.get(e.data.requestId);
      if (a) Object.assign(a, { status: 'unknown', reason: e.data.reason }, e.data.receiptNo === undefined ? {} : { receiptNo: e.data.receiptNo });
    }
  }
  return [...attempts.values()];
}

/** How the business side is told a card payment was authorised. */
export function paymentCard(c: CardAttempt): PaymentCard {
  const card: PaymentCard = { method: c.method, requestId: c.requestId };
  if (c.receiptNo !== undefined) card.receiptNo = c.receiptNo;
  if (c.maskedPan !== undefined) card.maskedPan = c.maskedPan;
  return card;
}

/**
 * A masked PAN shows at most the first 6 and last 4 digits; anything that looks like more is
 * refused, so a full card number can never reach the journal through this door.
 */
function requireMaskedPan(v: unknown): asserts v is string {
  if (typeof v !== 'string' || !/^\d{0,6}[*Xx•]+\d{0,4}$/.test(v) || (v.match(/\d/g) ?? []).length > 10) {
    throw new Error('journal: maskedPan must show at most the first 6 and last 4 digits, the rest masked');
  }
}

function prepare(db: Ledger['db']) {
  return {
    cardIn: db.prepare('UPDATE transactions SET card_in = card_in + ?, credited = credited + ?, updated_at = ? WHERE id = ?'),
    cardOut: db.prepare('UPDATE transactions SET card_in = card_in - ?, credited = credited - ?, updated_at = ? WHERE id = ?'),
    insertTerminalReversal: db.prepare(
      `INSERT INTO terminal_reversals (request_id, txn_id, receipt_no, amount, status, created_at)
       VALUES (?, ?, ?, ?, 'pending', ?)`,
    ),
    terminalReversal: db.prepare('SELECT * FROM terminal_reversals WHERE request_id = ?'),
    terminalReversalsOf: db.prepare('SELECT * FROM terminal_reversals WHERE txn_id = ? ORDER BY created_at'),
    pendingTerminalReversals: db.prepare(`SELECT * FROM terminal_reversals WHERE status = 'pending' ORDER BY created_at`),
    terminalReversalFailed: db.prepare('UPDATE terminal_reversals SET attempts = attempts + 1, last_error = ? WHERE request_id = ?'),
    terminalReversalDone: db.prepare(
      `UPDATE terminal_reversals SET status = ?, attempts = attempts + 1, last_error = ?, done_at = ? WHERE request_id = ?`,
    ),
  };
}

function toTerminalReversal(r: TerminalReversalRecord): TerminalReversalRow {
  return {
    requestId: r.request_id,
    txnId: r.txn_id,
    receiptNo: r.receipt_no,
    amount: r.amount,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    createdAt: r.created_at,
    doneAt: r.done_at,
  };
}
