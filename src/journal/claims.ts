import { newClaimCode } from '../domain/claim-code.js';
import { PAYMENT_CURRENCY, type Ledger, type TxnRow } from './ledger.js';
import type { Outbox } from './outbox.js';
import { requirePositive, requireText } from './validate.js';

export type ClaimReason = 'note-unresolved' | 'change-owed';
export type ClaimStatus = 'open' | 'confirmed' | 'credited';
/** What happens to change the hoppers could not pay (configuration `change.owed`). */
export type OwedChangePolicy = 'claim' | 'credit-account';

/** Money the kiosk holds for a customer and could not give: a note it may have swallowed, change it could not pay. */
export interface ClaimRow {
  id: string;
  txnId: string;
  claimCode: string;
  reason: ClaimReason;
  amount: number;
  /** The note's value, for a note claim. */
  denomination: number | null;
  status: ClaimStatus;
  createdAt: string;
  confirmedAt: string | null;
  /** The cash collection (its event seq) that found the note. */
  collection: number | null;
}

/** The outbox payload of a claim, as the business server receives it (kind 'claim'). */
export interface ClaimMessage {
  messageId: string;
  /** The claim's id: its first message's id; a confirmation names it. */
  claimId: string;
  txnId: string;
  claimCode: string;
  reason: ClaimReason;
  /** open: to be paid against the code; confirmed: a cash count found the note; credited: paid to the phone account. */
  status: ClaimStatus;
  phone: string | null;
  amount: number;
  currency: 'CNY';
  denomination?: number;
  collection?: number;
  createdAt: string;
}

interface ClaimRecord {
  id: string;
  txn_id: string;
  claim_code: string;
  reason: ClaimReason;
  amount: number;
  denomination: number | null;
  status: ClaimStatus;
  created_at: string;
  confirmed_at: string | null;
  collection: number | null;
}

/**
 * Claims: each unresolved note and each change left owed becomes a claim, journalled with its
 * outbox message in one commit, so the operator's server learns of it exactly as of a payment.
 * One claim code per transaction covers all its claims. A cash count that finds more notes of a
 * value than the journal expected confirms the open note claims of that value, oldest first.
 */
export class Claims {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly l: Ledger,
    private readonly outbox: Outbox,
  ) {
    this.sql = prepare(l.db);
  }

  /**
   * A note the validator neither stacked nor returned: not credited, and a claim for its value.
   * The transaction may be open (it is being closed) or have ended.
   */
  noteUnresolved(txnId: string, value: number, why: string): ClaimRow {
    requirePositive('value', value);
    requireText('why', why);
    return this.l.write(() => {
      const row = this.l.mustGet(txnId);
      const code = this.codeOf(row);
      const id = this.nextId(txnId);
      const at = this.l.stamp();
      this.l.insert(txnId, 'note.unresolved', { value, why, claimId: id }, at);
      this.l.insert(txnId, 'claim.opened', { claimId: id, reason: 'note-unresolved', amount: value, claimCode: code, denomination: value }, at);
      return this.open(row, { id, code, reason: 'note-unresolved', amount: value, denomination: value, status: 'open' }, at);
    });
  }

  /**
   * The change still owed once every payout of the transaction is decided becomes a claim, or
   * (policy credit-account, with a phone to credit) is credited to the account at once: it moves
   * from change owed to credited and the server is told to top the account up. Returns null when
   * nothing is left to claim, or while a payout is undecided (recovery calls again once it is).
   */
  settleOwedChange(txnId: string, policy: OwedChangePolicy): ClaimRow | null {
    return this.l.write(() => {
      const row = this.l.mustGet(txnId);
      if (row.status !== 'completed' || row.changeOwed === 0) return null;
      if ((this.sql.reserved.get(txnId) as { n: number }).n > 0) return null;
      const claimed = (this.sql.changeClaimed.get(txnId) as { total: number }).total;
      const amount = row.changeOwed - claimed;
      if (amount <= 0) return null;
      const code = this.codeOf(row);
      const id = this.nextId(txnId);
      const at = this.l.stamp();
      if (policy === 'credit-account' && row.phone !== null) {
        this.sql.creditChange.run(amount, amount, at, txnId);
        this.l.insert(txnId, 'change.credited', { claimId: id, amount, claimCode: code }, at);
        return this.open(row, { id, code, reason: 'change-owed', amount, denomination: null, status: 'credited' }, at);
      }
      this.l.insert(txnId, 'claim.opened', { claimId: id, reason: 'change-owed', amount, claimCode: code }, at);
      return this.open(row, { id, code, reason: 'change-owed', amount, denomination: null, status: 'open' }, at);
    });
  }

  /**
   * The open note claims a count with this `surplus` (note value to notes found beyond the
   * journal's count) confirms: as many of each value as were found, oldest first.
   */
  confirmable(surplus: Record<number, number>): ClaimRow[] {
    return Object.entries(surplus)
      .filter(([, extra]) => extra > 0)
      .flatMap(([value, extra]) => (this.sql.openNotes.all(Number(value), extra) as ClaimRecord[]).map(toClaim));
  }

  /** Inside the collection's write: confirms them, each with its confirmation message for the server. */
  confirm(claims: readonly ClaimRow[], collection: number, at: string): ClaimRow[] {
    return claims.map((c) => {
      this.sql.confirm.run(at, collection, c.id);
      this.l.insert(c.txnId, 'claim.confirmed', { claimId: c.id, collection, denomination: c.denomination ?? 0 }, at);
      const txn = this.l.mustGet(c.txnId);
      const message: ClaimMessage = { ...this.message(txn, c, `${c.id}:confirmed`, at), status: 'confirmed', collection };
      this.outbox.insertMessage(message, 'claim', at);
      return { ...c, status: 'confirmed' as const, confirmedAt: at, collection };
    });
  }

  ofTransaction(txnId: string): ClaimRow[] {
    return (this.sql.ofTxn.all(txnId) as ClaimRecord[]).map(toClaim);
  }

  /**
   * What a claim audit finds missing: an unresolved note without its claim, change owed (beyond
   * what an undecided payout holds) without claims for all of it, a claim without its message.
   */
  problems(): string[] {
    const problems: string[] = [];
    for (const r of this.l.rows<{ seq: number; txn_id: string; claim: string | null; row: string | null; message: string | null }>(
      `SELECT e.seq, e.txn_id, json_extract(e.data, '$.claimId') AS claim, c.id AS row, o.message_id AS message
       FROM events e LEFT JOIN claims c ON c.id = json_extract(e.data, '$.claimId')
       LEFT JOIN outbox o ON o.message_id = c.id
       WHERE e.type = 'note.unresolved'`,
    )) {
      if (r.claim === null || r.row === null) problems.push(`transaction "${r.txn_id}": unresolved note (event ${r.seq}) without a claim`);
      else if (r.message === null) problems.push(`claim "${r.claim}": no claim message in the outbox`);
    }
    for (const r of this.l.rows<{ id: string; change_owed: number; reserved: number; claimed: number }>(
      `SELECT t.id, t.change_owed,
              COALESCE((SELECT SUM(count * coin_value) FROM payouts p WHERE p.txn_id = t.id AND p.status <> 'done'), 0) AS reserved,
              COALESCE((SELECT SUM(amount) FROM claims c WHERE c.txn_id = t.id AND c.reason = 'change-owed'
                        AND c.status <> 'credited'), 0) AS claimed
       FROM transactions t WHERE t.status = 'completed' AND t.change_owed > 0`,
    )) {
      if (r.claimed !== r.change_owed - r.reserved && r.reserved === 0) {
        problems.push(`transaction "${r.id}": owes change ${r.change_owed}, claims in the outbox cover ${r.claimed}`);
      }
    }
    for (const r of this.l.rows<{ id: string; status: ClaimStatus; sent: number; confirmation: number }>(
      `SELECT c.id, c.status, (SELECT COUNT(*) FROM outbox o WHERE o.message_id = c.id) AS sent,
              (SELECT COUNT(*) FROM outbox o WHERE o.message_id = c.id || ':confirmed') AS confirmation
       FROM claims c`,
    )) {
      if (r.sent !== 1) problems.push(`claim "${r.id}": no claim message in the outbox`);
      if (r.status === 'confirmed' && r.confirmation !== 1) problems.push(`claim "${r.id}": confirmed, but no confirmation message`);
    }
    return problems;
  }

  /** The transaction's claim code, given now if it has none (a note claim on a transaction that owes no change). */
  private codeOf(row: TxnRow): string {
    if (row.claimCode !== null) return row.claimCode;
    for (;;) {
      const code = newClaimCode();
      if (this.sql.byCode.get(code)) continue;
      this.sql.setCode.run(code, row.id);
      return code;
    }
  }

  private nextId(txnId: string): string {
    const { n } = this.sql.count.get(txnId) as { n: number };
    return `${txnId}:claim:${n + 1}`;
  }

  private open(
    txn: TxnRow,
    c: { id: string; code: string; reason: ClaimReason; amount: number; denomination: number | null; status: ClaimStatus },
    at: string,
  ): ClaimRow {
    this.sql.insert.run(c.id, txn.id, c.code, c.reason, c.amount, c.denomination, c.status, at);
    const claim = toClaim(this.sql.byId.get(c.id) as ClaimRecord);
    this.outbox.insertMessage(this.message(txn, claim, claim.id, at), 'claim', at);
    this.l.touch(txn.id, at);
    return claim;
  }

  private message(txn: TxnRow, c: ClaimRow, messageId: string, at: string): ClaimMessage {
    return {
      messageId,
      claimId: c.id,
      txnId: txn.id,
      claimCode: c.claimCode,
      reason: c.reason,
      status: c.status,
      phone: txn.phone,
      amount: c.amount,
      currency: PAYMENT_CURRENCY,
      ...(c.denomination !== null ? { denomination: c.denomination } : {}),
      createdAt: at,
    };
  }
}

function prepare(db: Ledger['db']) {
  return {
    insert: db.prepare(
      `INSERT INTO claims (id, txn_id, claim_code, reason, amount, denomination, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    byId: db.prepare('SELECT * FROM claims WHERE id = ?'),
    ofTxn: db.prepare('SELECT * FROM claims WHERE txn_id = ? ORDER BY created_at, rowid'),
    count: db.prepare('SELECT COUNT(*) AS n FROM claims WHERE txn_id = ?'),
    byCode: db.prepare('SELECT 1 FROM transactions WHERE claim_code = ?'),
    setCode: db.prepare('UPDATE transactions SET claim_code = ? WHERE id = ?'),
    reserved: db.prepare(`SELECT COUNT(*) AS n FROM payouts WHERE txn_id = ? AND status <> 'done'`),
    changeClaimed: db.prepare(
      `SELECT COALESCE(SUM(amount), 0) AS total FROM claims
       WHERE txn_id = ? AND reason = 'change-owed' AND status <> 'credited'`,
    ),
    creditChange: db.prepare(
      'UPDATE transactions SET credited = credited + ?, change_owed = change_owed - ?, updated_at = ? WHERE id = ?',
    ),
    openNotes: db.prepare(
      `SELECT * FROM claims WHERE status = 'open' AND reason = 'note-unresolved' AND denomination = ?
       ORDER BY created_at, rowid LIMIT ?`,
    ),
    confirm: db.prepare(`UPDATE claims SET status = 'confirmed', confirmed_at = ?, collection = ? WHERE id = ?`),
  };
}

function toClaim(r: ClaimRecord): ClaimRow {
  return {
    id: r.id,
    txnId: r.txn_id,
    claimCode: r.claim_code,
    reason: r.reason,
    amount: r.amount,
    denomination: r.denomination,
    status: r.status,
    createdAt: r.created_at,
    confirmedAt: r.confirmed_at,
    collection: r.collection,
  };
}
