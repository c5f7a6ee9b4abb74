import type { Journal } from '../journal/index.js';

export interface RecoveryFacts {
  /** The validator answered and finished its start-up, so every note it held has been resolved. */
  validatorReady: boolean;
  /** The validator came back from a power cut reporting a note in the stacker path (ID-003 0x42). */
  noteInStacker: boolean;
  /**
   * The validator said it gave a note back since the restart: a power-up with the note in the
   * acceptor (ID-003 0x41, which the reset returns), or a note seen leaving through the slot.
   */
  noteHandedBack?: boolean;
}

export type RecoveryDecision =
  | { txnId: string; action: 'settled'; credited: number; returned: number; unresolved?: number }
  | { txnId: string; action: 'card-reversed'; requestId: string; was: 'requested' | 'approved'; reversal: 'server' | 'terminal' | 'none' }
  | { txnId: string; action: 'mobile-revoked'; paymentId: string; was: 'requested' }
  | { txnId: string; action: 'cancelled'; unresolved?: number }
  | { txnId: string; action: 'deferred'; why: string };

/**
 * Ends every transaction a crash left open. Recovery is a decision, not a replay: the customer who
 * started it is gone, so each one is closed from what the journal and the devices say.
 *
 * By the time this runs the validator's start-up has already told us what happened to a note it
 * held: VEND VALID after the restart was credited through the driver's hook, a note still in escrow
 * was returned through it. A note the journal still shows in escrow after that is decided only by
 * what the device positively reports: power-up with the bill in the stacker → stacked; the bill in
 * the acceptor at power-up, or a note seen coming back out → returned. Anything else (a jam, a
 * failure, a plain power-up, an idle device) says the note is neither in the box nor back with the
 * customer: it is journalled as unresolved for the cash count, never as returned. Without an
 * answer from the validator at all, the transaction stays open until the validator is back.
 *
 * A card request the journal shows without an outcome is reversed: the crash may have come after
 * the server or the terminal approved it, and recovery never completes a payment it cannot prove.
 * An approval that was journalled but not settled is reversed too: the customer was never told
 * the bill was paid and may well have paid it another way since.
 *
 * A wallet request still without an outcome here (the runtime queries the gateway first and
 * journals what it says, see src/runtime/mobile.ts) is revoked, never credited. A wallet payment
 * journalled as paid before the crash settles the transaction, once: the settle closes it.
 */
export function recoverOpenTransactions(journal: Journal, facts: RecoveryFacts): RecoveryDecision[] {
  const decisions: RecoveryDecision[] = [];
  for (const txn of journal.openTransactions()) {
    for (const c of journal.cardAttempts(txn.id)) {
      if (c.status !== 'requested' && c.status !== 'approved') continue;
      const { reversal } = journal.cardUnknown(txn.id, { requestId: c.requestId, reason: c.status === 'approved' ? 'recovery-unsettled' : 'recovery' });
      decisions.push({ txnId: txn.id, action: 'card-reversed', requestId: c.requestId, was: c.status, reversal });
    }
    for (const m of journal.mobile.attempts(txn.id)) {
      if (m.status !== 'requested') continue;
      journal.mobile.unknown(txn.id, { paymentId: m.paymentId, reason: 'recovery' });
      decisions.push({ txnId: txn.id, action: 'mobile-revoked', paymentId: m.paymentId, was: 'requested' });
    }
    const pending = journal.pendingEscrow(txn.id);
    let returned = 0;
    let unresolved = 0;
    if (pending) {
      if (!facts.validatorReady) {
        decisions.push({ txnId: txn.id, action: 'deferred', why: 'a note was in escrow and the validator has not answered' });
        continue;
      }
      if (facts.noteInStacker) {
        // The reset after "power up with bill in stacker" finishes stacking it: it is in the box.
        journal.noteStacked(txn.id, pending, 'power-up-bill-in-stacker');
      } else if (facts.noteHandedBack) {
        journal.noteReturned(txn.id, pending, 'recovery: the validator handed it back');
        returned = pending.value;
      } else {
        journal.noteUnresolved(txn.id, pending.value, 'recovery: the validator reports neither stacking nor returning it');
        unresolved = pending.value;
      }
    }
    const lost = unresolved > 0 ? { unresolved } : {};
    const now = journal.transaction(txn.id);
    if (!now) continue;
    if (now.cashIn > 0 || now.mobileIn > 0) {
      const settled = journal.settle(txn.id, { endReason: 'recovered' });
      decisions.push({ txnId: txn.id, action: 'settled', credited: settled.credited, returned, ...lost });
    } else {
      journal.cancel(txn.id, 'recovered');
      decisions.push({ txnId: txn.id, action: 'cancelled', ...lost });
    }
  }
  return decisions;
}
