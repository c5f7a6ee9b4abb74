import type { Ledger } from './ledger.js';
import { requireText } from './validate.js';

/**
 * Whether each fault slip came out (the paper that tells a customer what the kiosk owes them), so
 * that one the printer could not print waits in the reprint queue like a receipt.
 */
export class Slips {
  private readonly toReprint;

  constructor(private readonly l: Ledger) {
    this.toReprint = l.db.prepare(
      `SELECT t.id FROM transactions t
       WHERE t.id IN (SELECT txn_id FROM events WHERE type = 'slip.failed')
         AND (SELECT type FROM events e WHERE e.txn_id = t.id AND e.type IN ('slip.printed', 'slip.failed')
              ORDER BY e.seq DESC LIMIT 1) = 'slip.failed'
       ORDER BY t.created_at, t.rowid`,
    );
  }

  printed(id: string, r: { reprint?: boolean } = {}): void {
    this.record(id, 'slip.printed', { reprint: r.reprint === true });
  }

  failed(id: string, reason: string): void {
    requireText('reason', reason);
    this.record(id, 'slip.failed', { reason });
  }

  /** Transactions whose last slip attempt failed, oldest first. */
  reprints(): string[] {
    return (this.toReprint.all() as { id: string }[]).map((r) => r.id);
  }

  private record(id: string, type: 'slip.printed' | 'slip.failed', data: { reprint: boolean } | { reason: string }): void {
    this.l.write(() => {
      this.l.mustHaveEnded(id, 'record a slip for');
      const at = this.l.stamp();
      this.l.touch(id, at);
      if (type === 'slip.printed') this.l.insert(id, type, data as { reprint: boolean }, at);
      else this.l.insert(id, type, data as { reason: string }, at);
    });
  }
}
