import type { EventPayloads } from './events.js';
import type { Ledger, TxnRecord } from './ledger.js';

/**
 * The transaction rows against the chained events that made them: the rows are what the screen,
 * the receipts, recovery and the payment messages read, and SQL can change them without touching
 * the chain. Service, phone, amount due, status, end, credit, change, mobile in and claim code must each be
 * what the events say. (Cash in and card in are checked with the money invariants.)
 */
export function recordProblems(l: Ledger): string[] {
  const problems: string[] = [];
  const facts = new Map<string, Facts>();
  for (const e of l.rows<{ txn_id: string; type: string; data: string }>(
    `SELECT txn_id, type, data FROM events
     WHERE txn_id IS NOT NULL AND type IN ('txn.started', 'txn.lookup', 'txn.settled', 'txn.cancelled', 'payout.done', 'change.credited', 'claim.opened')
     ORDER BY seq`,
  )) {
    const f = facts.get(e.txn_id) ?? { started: null, lookup: null, settled: null, cancelled: null, changePaid: 0, changeCredited: 0, claimCode: null };
    facts.set(e.txn_id, f);
    const data = JSON.parse(e.data) as Record<string, unknown>;
    if (e.type === 'txn.started') f.started = data as EventPayloads['txn.started'];
    else if (e.type === 'txn.lookup') f.lookup = data as EventPayloads['txn.lookup'];
    else if (e.type === 'txn.settled') f.settled = data as EventPayloads['txn.settled'];
    else if (e.type === 'txn.cancelled') f.cancelled = data as EventPayloads['txn.cancelled'];
    else if (e.type === 'change.credited') f.changeCredited += Number(data.amount ?? 0);
    else if (e.type === 'claim.opened') f.claimCode ??= String(data.claimCode);
    else f.changePaid += Number(data.amountPaid ?? 0);
  }
  for (const r of l.rows<TxnRecord>('SELECT * FROM transactions ORDER BY created_at, rowid')) {
    const f = facts.get(r.id);
    const differ = (what: string, row: unknown, events: unknown) => {
      if (row !== events) problems.push(`transaction "${r.id}": ${what} ${JSON.stringify(row)} in its row, but ${JSON.stringify(events)} in its events`);
    };
    if (!f?.started) {
      problems.push(`transaction "${r.id}": no 'txn.started' event: the row was written around the journal`);
      continue;
    }
    differ('service', r.service, f.started.service);
    differ('phone', r.phone, f.lookup?.phone ?? null);
    differ('amount due', r.amount_due, f.lookup?.amountDue ?? null);
    const status = f.settled ? 'completed' : f.cancelled ? 'cancelled' : 'open';
    differ('status', r.status, status);
    if (f.settled) {
      differ('end reason', r.end_reason, f.settled.endReason);
      // Owed change credited to the phone account (policy credit-account) moved from owed to credited.
      differ('credited', r.credited, f.settled.credited + f.changeCredited);
      // A claim opened before the settlement (a note unresolved) gives the transaction its code.
      differ('claim code', r.claim_code, f.settled.claimCode ?? f.claimCode);
      differ('change paid', r.change_paid, f.changePaid);
      differ('mobile in', r.mobile_in, f.settled.mobileIn ?? 0);
      differ('change paid + owed', r.change_paid + r.change_owed, f.settled.changeDue - f.changeCredited);
    } else if (f.cancelled) {
      differ('end reason', r.end_reason, f.cancelled.reason);
    }
  }
  return problems;
}

interface Facts {
  started: EventPayloads['txn.started'] | null;
  lookup: EventPayloads['txn.lookup'] | null;
  settled: EventPayloads['txn.settled'] | null;
  cancelled: EventPayloads['txn.cancelled'] | null;
  changePaid: number;
  changeCredited: number;
  claimCode: string | null;
}
