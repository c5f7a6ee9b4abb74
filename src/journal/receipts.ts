import type { Ledger } from './ledger.js';
import { requireText } from './validate.js';

/** Whether each ended transaction's receipt came out, so that a failed one is printed again. */
export class Receipts {
  private readonly toReprint;

  constructor(private readonly l: Ledger) {
    // Starts from the failures (few) rather than from every transaction ever made.
    this.toReprint = l.db.prepare(
      `SELECT t.id FROM transactions t
       WHERE t.id IN (SELECT txn_id FROM events WHERE type = 'receipt.failed')
         AND t.status = 'completed' AND t.service IN ('pay', 'topup')
         AND (SELECT type FROM events e WHERE e.txn_id = t.id AND e.type IN ('receipt.printed', 'receipt.failed')
              ORDER BY e.seq DESC LIMIT 1) = 'receipt.failed'
       ORDER BY t.created_at, t.rowid`,
    );
  }

  printed(id: string, r: { reprint?: boolean } = {}): void {
    this.l.write(() => {
      this.l.mustHaveEnded(id, 'record a receipt for');
      const at = this.l.stamp();
      this.l.touch(id, at);
      this.l.insert(id, 'receipt.printed', { reprint: r.reprint === true }, at);
    });
  }

  /** The receipt did not come out (whole): the transaction is listed by toReprint(). */
  failed(id: string, reason: string): void {
    requireText('reason', reason);
    this.l.write(() => {
      this.l.mustHaveEnded(id, 'record a receipt for');
      const at = this.l.stamp();
      this.l.touch(id, at);
      this.l.insert(id, 'receipt.failed', { reason }, at);
    });
  }

  /** Completed pay/top-up transactions whose last receipt attempt failed, oldest first. */
  reprints(): string[] {
    return (this.toReprint.all() as { id: string }[]).map((r) => r.id);
  }
}
