import type { Journal, OwedChangePolicy, TxnRow } from '../journal/index.js';
import type { Logger } from '../log.js';
import { NOT_DISPENSED, type ChangePayer } from './payout.js';
import type { ReceiptService } from './receipts.js';
import type { SlipService } from './slips.js';

/** How many of the newest transactions a restart looks at: one customer at a time leaves at most one unfinished. */
const RECENT = 3;

export interface ResumeDeps {
  journal: Journal;
  payer: ChangePayer;
  receipts: ReceiptService;
  slips: SlipService;
  /** A printer is fitted (receipts are due). */
  printer: boolean;
  policy: OwedChangePolicy;
  /** Change is paid after a restart only this soon after the settlement. */
  withinMs: number;
  /** The slip of a transaction the restart finished is shown on the screen. */
  show: (txnId: string) => void;
  forwardNow: () => void;
  log: Logger;
  now?: () => number;
}

/**
 * After a restart, finishes what the crash interrupted for the customer who is likely still
 * standing there: change that no hopper was ever told to pay (no payout, or only payouts the
 * hopper's counter proved it never accepted) is paid within `withinMs` of the settlement, and a
 * receipt never printed is printed. Nothing that may have been dispensed is sent again: a payout
 * that started, or whose outcome the counters could not prove, leaves the change owed. What stays
 * owed becomes a claim, and a transaction that calls for one gets its fault slip.
 */
export async function finishInterrupted(d: ResumeDeps): Promise<void> {
  const now = d.now ?? Date.now;
  for (const txn of d.journal.listTransactions({ limit: RECENT }).reverse()) {
    if (txn.status !== 'completed') continue;
    const settled = d.journal.eventsOf(txn.id, 'txn.settled').at(-1);
    const recent = settled !== undefined && now() - Date.parse(settled.at) <= d.withinMs;
    let finished = false;
    if (txn.changeOwed > 0 && recent && neverDispensed(d.journal, txn)) {
      d.log.warn({ txn: txn.id, owed: txn.changeOwed }, 'restart: paying the change no hopper was told to pay');
      await d.payer.pay(txn.id, txn.changeOwed);
      finished = true;
    }
    const claim = d.journal.settleOwedChange(txn.id, d.policy);
    if (claim) d.log.warn({ txn: txn.id, claim: claim.id, amount: claim.amount, status: claim.status }, 'restart: change owed, a claim is sent');
    if (d.printer && txn.service !== 'lookup' && txn.cashIn + txn.cardIn > 0 && !hasReceipt(d.journal, txn.id)) {
      if (recent) {
        finished = true;
        await d.receipts.print(txn.id, { recovered: true }).catch(() => undefined);
      } else {
        d.journal.receiptFailed(txn.id, 'not printed: the kiosk restarted');
      }
    }
    const slip = await d.slips.issue(txn.id);
    if (finished || (recent && slip !== 'none')) d.show(txn.id);
  }
  d.forwardNow();
}

/** The transaction owes change and no coin of it can have left a hopper: safe to pay it now. */
function neverDispensed(journal: Journal, txn: TxnRow): boolean {
  if (journal.claimsOf(txn.id).some((c) => c.reason === 'change-owed')) return false;
  return journal.payouts(txn.id).every((p) => p.status === 'done' && p.paid === 0 && p.via === NOT_DISPENSED);
}

function hasReceipt(journal: Journal, txnId: string): boolean {
  return journal.events(txnId).some((e) => e.type === 'receipt.printed' || e.type === 'receipt.failed');
}
