import { MOBILE_REVOKE_KIND, foldMobileAttempts } from './mobile.js';
import type { Ledger, TxnStatus } from './ledger.js';

/**
 * The wallet payments' invariants: mobile money is what 'mobile.paid' credited; a payment is never
 * both credited and revoked; every revoke decided is in the outbox as a revoke message; no ended
 * transaction leaves a request without an outcome; a cancelled transaction took nothing by wallet.
 */
export function mobileProblems(l: Ledger): string[] {
  const problems: string[] = [];
  const revokes = l.db.prepare(`SELECT 1 FROM outbox WHERE message_id = ? AND kind = '${MOBILE_REVOKE_KIND}'`);
  for (const r of l.rows<{ id: string; status: TxnStatus; mobile_in: number; paid: number; n: number }>(
    `SELECT t.id, t.status, t.mobile_in,
            COALESCE((SELECT SUM(json_extract(data, '$.amount')) FROM events WHERE txn_id = t.id AND type = 'mobile.paid'), 0) AS paid,
            (SELECT COUNT(*) FROM events WHERE txn_id = t.id AND type = 'mobile.paid') AS n
     FROM transactions t
     WHERE t.mobile_in > 0 OR t.id IN (SELECT txn_id FROM events WHERE type = 'mobile.requested')`,
  )) {
    if (r.mobile_in !== r.paid) problems.push(`transaction "${r.id}": mobile in ${r.mobile_in} != wallet payments credited ${r.paid}`);
    if (r.n > 1) problems.push(`transaction "${r.id}": ${r.n} wallet payments credited, at most one pays a bill`);
    if (r.status === 'cancelled' && r.mobile_in > 0) problems.push(`transaction "${r.id}": cancelled with mobile in ${r.mobile_in}`);
    const events = l.events(r.id);
    const unknown = new Set(events.filter((e) => e.type === 'mobile.unknown').map((e) => String(e.data.paymentId)));
    for (const e of events) {
      if (e.type === 'mobile.paid' && unknown.has(String(e.data.paymentId))) {
        problems.push(`wallet payment "${String(e.data.paymentId)}" of "${r.id}": credited and revoked`);
      }
      if (e.type === 'mobile.unknown' && revokes.get(String(e.data.revokeMessageId)) === undefined) {
        problems.push(`wallet payment "${String(e.data.paymentId)}" of "${r.id}": revoke decided, yet no revoke message in the outbox`);
      }
    }
    if (r.status === 'open') continue;
    for (const a of foldMobileAttempts(r.id, events)) {
      if (a.status === 'requested') problems.push(`transaction "${r.id}": ${r.status} with wallet payment "${a.paymentId}" unresolved`);
    }
  }
  return problems;
}
