import Database from 'better-sqlite3';
import type { EventType } from '../../src/journal/index.js';
import type { WalletGateway } from '../host/wallet-gateway.js';
import type { RunPlan } from './plan.js';

/**
 * Wallet money on both sides once the outbox drained. The gateway: per transaction, paid − revoked
 * = what the kiosk's payment says the wallet paid (0 without a payment). The kiosk: mobile in is
 * what the gateway kept for the transaction; every revoke decided was acknowledged; a payment is
 * never both credited and revoked; nothing was paid by wallet in a run without wallet steps.
 */
export function checkWallet(path: string, gateway: Pick<WalletGateway, 'balance'>, plan: RunPlan): string[] {
  const violations: string[] = [];
  const db = new Database(path, { readonly: true });
  try {
    const balances = gateway.balance();
    for (const b of balances) {
      if (!b.ok) violations.push(`transaction ${b.txnId}: the gateway kept ${b.paid - b.revoked} fen (paid ${b.paid}, revoked ${b.revoked}), the payment says ${b.settled}`);
    }
    const kept = new Map(balances.map((b) => [b.txnId, b.paid - b.revoked]));
    for (const r of db.prepare('SELECT id, mobile_in FROM transactions WHERE mobile_in > 0').all() as { id: string; mobile_in: number }[]) {
      if (kept.get(r.id) !== r.mobile_in) violations.push(`transaction ${r.id}: mobile in ${r.mobile_in}, the gateway kept ${kept.get(r.id) ?? 0}`);
    }
    const unknowns = db
      .prepare(`SELECT txn_id, json_extract(data, '$.paymentId') AS payment, json_extract(data, '$.revokeMessageId') AS message FROM events WHERE type = ?`)
      .all('mobile.unknown' satisfies EventType) as { txn_id: string; payment: string; message: string }[];
    for (const u of unknowns) {
      const row = db.prepare('SELECT acked_at FROM outbox WHERE message_id = ?').get(u.message) as { acked_at: string | null } | undefined;
      if (!row) violations.push(`wallet payment ${u.payment} of ${u.txn_id}: revoke decided, no revoke message in the outbox`);
      else if (row.acked_at === null) violations.push(`wallet payment ${u.payment} of ${u.txn_id}: its revoke was never acknowledged`);
      const credited = (db.prepare(`SELECT COUNT(*) AS n FROM events WHERE type = ? AND json_extract(data, '$.paymentId') = ?`).get('mobile.paid' satisfies EventType, u.payment) as { n: number }).n;
      if (credited > 0) violations.push(`wallet payment ${u.payment} of ${u.txn_id}: both credited and revoked`);
    }
    if (!plan.steps.some((s) => s.kind === 'mobile') && balances.length > 0) violations.push(`the gateway saw ${balances.length} wallet transaction(s) in a run without wallet steps`);
  } finally {
    db.close();
  }
  return violations;
}
