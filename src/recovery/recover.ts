import type { Journal } from '../journal/index.js';

export interface RecoveryFacts {
  /** The validator answered and finished its start-up, so every note it held has been resolved. */
  validatorReady: boolean;
  /** The validator came back from a power cut reporting a note in the stacker path (ID-003 0x42). */
  noteInStacker: boolean;
}

export type RecoveryDecision =
  | { txnId: string; action: 'settled'; credited: number; returned: number }
  | { txnId: string; action: 'cancelled' }
  | { txnId: string; action: 'deferred'; why: string };

/**
 * Ends every transaction a crash left open. Recovery is a decision, not a replay: the customer who
 * started it is gone, so each one is closed from what the journal and the devices say.
 *
 * By the time this runs the validator's start-up has already told us what happened to a note it
 * held: VEND VALID after the restart was credited through the driver's hook; a note in escrow or in
 * the acceptor at power-up was returned by the reset. A note the journal still shows in escrow
 * after that was therefore not stacked. Without an answer from the validator we cannot know, so
 * such a transaction stays open until the validator is back.
 */
export function recoverOpenTransactions(journal: Journal, facts: RecoveryFacts): RecoveryDecision[] {
  const decisions: RecoveryDecision[] = [];
  for (const txn of journal.openTransactions()) {
    const pending = journal.pendingEscrow(txn.id);
    let returned = 0;
    if (pending) {
      if (!facts.validatorReady) {
        decisions.push({ txnId: txn.id, action: 'deferred', why: 'a note was in escrow and the validator has not answered' });
        continue;
      }
      if (facts.noteInStacker) {
        // The reset after "power up with bill in stacker" finishes stacking it: it is in the box.
        journal.noteStacked(txn.id, pending, 'power-up-bill-in-stacker');
      } else {
        journal.noteReturned(txn.id, pending, 'recovery: the validator did not stack it');
        returned = pending.value;
      }
    }
    const now = journal.transaction(txn.id);
    if (!now) continue;
    if (now.cashIn > 0) {
      const settled = journal.settle(txn.id, { endReason: 'recovered' });
      decisions.push({ txnId: txn.id, action: 'settled', credited: settled.credited, returned });
    } else {
      journal.cancel(txn.id, 'recovered');
      decisions.push({ txnId: txn.id, action: 'cancelled' });
    }
  }
  return decisions;
}
