import type { JournalEvent } from './events.js';
import type { TxnRow } from './ledger.js';

/** Why a transaction ended without the customer's money fully delivered. */
export type FaultReason = 'note-unresolved' | 'change-owed' | 'change-credited' | 'card-reversed' | 'recovered';

/** What a fault slip tells the customer, from the journal: every amount in fen. */
export interface FaultFacts {
  reasons: FaultReason[];
  /** Face values of the notes the validator neither stacked nor returned. */
  unresolved: number[];
  /** Change the hoppers did not pay, claimable with the claim code. */
  owed: number;
  /** Owed change credited to the phone account instead (policy credit-account). */
  changeCredited: number;
  /** Card payments whose outcome was unknown and which were reversed. */
  cardReversed: number;
  claimCode: string | null;
  /** When the transaction ended. */
  endedAt: string;
  /** Whether the slip came out: printed, waiting in the reprint queue, or not tried yet. */
  slip: 'printed' | 'queued' | 'none';
}

/**
 * The fault slip a transaction calls for, or null when it ended with the customer's money fully
 * delivered (credited, paid back or never taken). Pure: the journal's row and events decide.
 */
export function faultFacts(txn: TxnRow, events: readonly JournalEvent[]): FaultFacts | null {
  if (txn.status === 'open') return null;
  const of = (type: string) => events.filter((e) => e.type === type);
  const unresolved = of('note.unresolved').map((e) => Number(e.data.value));
  const changeCredited = of('change.credited').reduce((a, e) => a + Number(e.data.amount), 0);
  const requested = new Map(of('card.requested').map((e) => [String(e.data.requestId), Number(e.data.amount)]));
  const cardReversed = of('card.unknown').reduce((a, e) => a + (requested.get(String(e.data.requestId)) ?? 0), 0);
  const recovered = txn.endReason === 'recovered' || of('recovery.decision').length > 0;
  const reasons: FaultReason[] = [];
  if (unresolved.length > 0) reasons.push('note-unresolved');
  if (txn.changeOwed > 0) reasons.push('change-owed');
  if (changeCredited > 0) reasons.push('change-credited');
  if (cardReversed > 0) reasons.push('card-reversed');
  // A transaction recovery closed with nothing taken gives the customer nothing to claim.
  if (recovered && txn.cashIn + txn.cardIn + cardReversed > 0) reasons.push('recovered');
  if (reasons.length === 0) return null;
  const ended = events.find((e) => e.type === 'txn.settled' || e.type === 'txn.cancelled');
  const last = events.filter((e) => e.type === 'slip.printed' || e.type === 'slip.failed').at(-1);
  return {
    reasons,
    unresolved,
    owed: txn.changeOwed,
    changeCredited,
    cardReversed,
    claimCode: unresolved.length > 0 || txn.changeOwed > 0 || changeCredited > 0 ? txn.claimCode : null,
    endedAt: ended?.at ?? txn.updatedAt,
    slip: last === undefined ? 'none' : last.type === 'slip.printed' ? 'printed' : 'queued',
  };
}
