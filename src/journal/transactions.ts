import { foldCardAttempts, paymentCard } from './cards.js';
import { foldMobileAttempts } from './mobile.js';
import type { EventPayloads, JournalEvent } from './events.js';
import { PAYMENT_CURRENCY, toTxn, type Ledger, type Service, type TxnRecord, type TxnRow } from './ledger.js';
import type { Outbox, PaymentMessage } from './outbox.js';
import { requireAmount, requirePositive, requireText } from './validate.js';

export interface LookupInfo {
  phone: string;
  amountDue: number | null;
  holder?: string;
  offline?: boolean;
}

const SERVICES: readonly Service[] = ['pay', 'topup', 'lookup'];

/**
 * A transaction from start to its end: the lookup of what is owed, and the settle that credits
 * what came in (queueing its payment message in the same commit) or the cancel of one that took
 * nothing.
 */
export class Transactions {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly l: Ledger,
    private readonly outbox: Outbox,
  ) {
    this.sql = prepare(l.db);
  }

  start(id: string, service: Service): TxnRow {
    requireText('transaction id', id);
    if (!SERVICES.includes(service)) {
      throw new Error(`journal: unknown service ${JSON.stringify(service)} (expected ${SERVICES.join(', ')})`);
    }
    return this.l.write(() => {
      if (this.l.transaction(id)) throw new Error(`journal: transaction "${id}" already exists`);
      const at = this.l.stamp();
      this.sql.insert.run(id, service, at, at);
      this.l.insert(id, 'txn.started', { service }, at);
      return this.l.mustGet(id);
    });
  }

  lookup(id: string, info: LookupInfo): void {
    requireText('phone', info.phone);
    if (info.amountDue !== null) requireAmount('amountDue', info.amountDue);
    const data: EventPayloads['txn.lookup'] = { phone: info.phone, amountDue: info.amountDue };
    if (info.holder !== undefined) data.holder = info.holder;
    if (info.offline !== undefined) data.offline = info.offline;
    this.l.write(() => {
      const at = this.l.stamp();
      this.l.requireChanged(this.sql.lookup.run(info.phone, info.amountDue, at, id).changes, id, 'record a lookup on');
      this.l.insert(id, 'txn.lookup', data, at);
    });
  }

  /**
   * Ends a transaction that took money (or none). `changeDue` of what came in goes back as change:
   * it is all owed (under `claimCode`) until payoutDone() records coins paid. The rest is credited
   * and queued for the server in the same SQLite transaction.
   */
  settle(id: string, s: { endReason: string; changeDue?: number; claimCode?: string }): TxnRow {
    requireText('endReason', s.endReason);
    const changeDue = s.changeDue ?? 0;
    requireAmount('changeDue', changeDue);
    // A code without change to claim would mean nothing on the receipt, so it is not kept.
    const given = changeDue > 0 ? s.claimCode : undefined;
    if (changeDue > 0) requireText('claimCode (needed when change is due)', given);
    return this.l.write(() => {
      const row = this.l.mustBeOpen(id, 'settle');
      // One code per transaction: a note claim made while it was open already gave it one.
      const claimCode = changeDue > 0 ? (row.claimCode ?? given) : undefined;
      if (changeDue > row.cashIn) {
        throw new Error(`journal: cannot settle "${id}": change due ${changeDue} exceeds cash in ${row.cashIn}`);
      }
      const credited = row.cashIn + row.cardIn + row.mobileIn - changeDue;
      if (credited < 0) {
        throw new Error(`journal: cannot settle "${id}": change due ${changeDue} exceeds cash in ${row.cashIn}`);
      }
      if (claimCode !== undefined && claimCode !== row.claimCode) {
        const holder = this.sql.byClaim.get(claimCode) as { id: string } | undefined;
        if (holder) {
          throw new Error(`journal: cannot settle "${id}": claim code "${claimCode}" is already used by "${holder.id}"`);
        }
      }
      const at = this.l.stamp();
      this.sql.settle.run(s.endReason, credited, changeDue, claimCode ?? row.claimCode, at, id);
      const data: EventPayloads['txn.settled'] = { endReason: s.endReason, cashIn: row.cashIn, credited, changeDue };
      if (row.cardIn > 0) data.cardIn = row.cardIn;
      if (row.mobileIn > 0) data.mobileIn = row.mobileIn;
      if (claimCode !== undefined) data.claimCode = claimCode;
      this.l.insert(id, 'txn.settled', data, at);
      if (credited > 0) {
        const events = this.l.events(id);
        const card = row.cardIn > 0 ? foldCardAttempts(id, events).find((c) => c.status === 'approved') : undefined;
        const mobile = row.mobileIn > 0 ? foldMobileAttempts(id, events).find((m) => m.status === 'paid') : undefined;
        // Who is paid and for what comes from the chained events, not from the row, which SQL
        // can change without breaking the chain (verify() reports a row that differs).
        const message: PaymentMessage = {
          messageId: `${id}:payment`,
          txnId: id,
          service: chained(events, 'txn.started')?.service ?? row.service,
          phone: chained(events, 'txn.lookup')?.phone ?? null,
          amount: credited,
          currency: PAYMENT_CURRENCY,
          cashIn: row.cashIn,
          ...(row.cardIn > 0 && card ? { cardIn: row.cardIn, card: paymentCard(card) } : {}),
          ...(row.mobileIn > 0 && mobile
            ? { mobileIn: row.mobileIn, mobile: { paymentId: mobile.paymentId, mode: mobile.mode, wallet: mobile.wallet } }
            : {}),
          settledAt: at,
        };
        this.outbox.insertPayment(message);
      }
      // What the update above wrote, without reading the row back.
      return { ...row, status: 'completed', endReason: s.endReason, credited, changeOwed: changeDue, claimCode: claimCode ?? row.claimCode, updatedAt: at };
    });
  }

  /** Ends a transaction that took no money. Money in must be settled, never cancelled. */
  cancel(id: string, reason: string): TxnRow {
    requireText('reason', reason);
    return this.l.write(() => {
      const row = this.l.mustBeOpen(id, 'cancel');
      if (row.cashIn > 0) {
        throw new Error(`journal: cannot cancel "${id}": it holds cash in ${row.cashIn}; settle it instead`);
      }
      if (row.cardIn > 0) {
        throw new Error(`journal: cannot cancel "${id}": it holds an approved card payment of ${row.cardIn}; settle or reverse it`);
      }
      if (row.mobileIn > 0) {
        throw new Error(`journal: cannot cancel "${id}": it holds a mobile payment of ${row.mobileIn}; settle it`);
      }
      const events = this.l.events(id);
      const open = foldCardAttempts(id, events).find((c) => c.status === 'requested');
      if (open) {
        throw new Error(`journal: cannot cancel "${id}": card request "${open.requestId}" has no outcome; record one first`);
      }
      const mobile = foldMobileAttempts(id, events).find((m) => m.status === 'requested');
      if (mobile) {
        throw new Error(`journal: cannot cancel "${id}": mobile payment "${mobile.paymentId}" has no outcome; record one first`);
      }
      const at = this.l.stamp();
      this.sql.cancel.run(reason, at, id);
      this.l.insert(id, 'txn.cancelled', { reason }, at);
      return this.l.mustGet(id);
    });
  }

  openTransactions(): TxnRow[] {
    return (this.sql.open.all() as TxnRecord[]).map(toTxn);
  }

  /** Newest first. */
  list(opts: { limit?: number } = {}): TxnRow[] {
    const limit = opts.limit ?? 100;
    requirePositive('limit', limit);
    return (this.sql.list.all(limit) as TxnRecord[]).map(toTxn);
  }
}

/** The data of the last event of `type` among a transaction's events. */
function chained<T extends 'txn.started' | 'txn.lookup'>(events: readonly JournalEvent[], type: T): EventPayloads[T] | undefined {
  const e = events.findLast((x) => x.type === type);
  return e && (e.data as EventPayloads[T]);
}

function prepare(db: Ledger['db']) {
  return {
    insert: db.prepare(`INSERT INTO transactions (id, service, status, created_at, updated_at) VALUES (?, ?, 'open', ?, ?)`),
    lookup: db.prepare(`UPDATE transactions SET phone = ?, amount_due = ?, updated_at = ? WHERE id = ? AND status = 'open'`),
    settle: db.prepare(
      `UPDATE transactions SET status = 'completed', end_reason = ?, credited = ?, change_owed = ?,
       claim_code = ?, updated_at = ? WHERE id = ?`,
    ),
    byClaim: db.prepare('SELECT id FROM transactions WHERE claim_code = ?'),
    cancel: db.prepare(`UPDATE transactions SET status = 'cancelled', end_reason = ?, updated_at = ? WHERE id = ?`),
    open: db.prepare(`SELECT * FROM transactions WHERE status = 'open' ORDER BY created_at, rowid`),
    list: db.prepare('SELECT * FROM transactions ORDER BY created_at DESC, rowid DESC LIMIT ?'),
  };
}
