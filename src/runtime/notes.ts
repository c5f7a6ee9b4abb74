import { EventEmitter } from 'node:events';
import type { BillAtPowerUp, EscrowDecision, Note } from '../../drivers/types.js';
import type { EscrowAnswer } from '../../states/transaction.js';
import type { ActiveTxn } from '../desk/desk.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';

/** How long settling waits for a note in escrow to end up stacked or returned. */
const NOTE_RESOLVE_MS = 5000;

/**
 * The banknote flow, journal first: the validator's escrow and VEND VALID hooks, and waiting for a
 * note in escrow to be resolved. Emits 'note-resolved' with the transaction id whenever a note
 * journalled in escrow ends up stacked or returned.
 */
export class NoteFlow extends EventEmitter<{ 'note-resolved': [string] }> {
  constructor(
    private readonly journal: Journal,
    /** The running transaction, if any. */
    private readonly active: () => ActiveTxn | null,
    private readonly log: Logger,
  ) {
    super();
  }

  onEscrow(note: Note): EscrowDecision {
    const a = this.active();
    const answer = a && !a.cancelWhenResolved ? askEscrow(a, note.value) : undefined;
    if (!a || !answer?.takingCash) {
      this.returnStrayNote(note);
      return 'return';
    }
    const { decision } = answer;
    this.journal.noteEscrowed(a.id, note);
    if (decision === 'return') {
      this.journal.noteReturned(a.id, note, 'over-limit');
      this.emit('note-resolved', a.id);
    }
    // The machine's activity (its timers, the screen's snapshot) and the log line wait until the
    // driver has sent Stack: neither is needed for it, and both were on the note's way to the box.
    setImmediate(() => {
      a.actor.send({ type: 'ACTIVITY' });
      this.log.info({ txn: a.id, value: note.value, decision }, `escrow decision: ${decision}`);
    });
    return decision;
  }

  /** A note arrived when no transaction takes cash (e.g. held in escrow across a restart). */
  private returnStrayNote(note: Note): void {
    for (const txn of this.journal.openTransactions()) {
      const pending = this.journal.pendingEscrow(txn.id);
      if (pending && pending.value === note.value) {
        this.journal.noteReturned(txn.id, pending, 'no transaction taking cash');
        this.emit('note-resolved', txn.id);
        return;
      }
    }
    this.journal.append(null, 'note.stray-returned', { value: note.value, currency: note.currency, why: 'no transaction taking cash' });
  }

  onCredited(note: Note | null): void {
    const a = this.active();
    if (note && a) {
      const pending = this.journal.pendingEscrow(a.id);
      if (pending) {
        this.creditNote(a.id, pending, 'vend-valid');
        return;
      }
    }
    // The driver did not see this note's escrow (host restart), or we have no record of it: the
    // journal decides. A VEND VALID repeats until acknowledged, so after a restart it is either
    // the note we journalled in escrow (not yet credited) or the one we credited before the crash
    // whose ACK was lost.
    const last = this.journal.lastNoteEvent();
    const open = last ? this.journal.transaction(last.txnId)?.status === 'open' : false;
    if (last?.type === 'note.escrowed' && open) {
      this.creditNote(last.txnId, last.note, 'vend-valid-after-restart');
      return;
    }
    if (last?.type === 'note.stacked') {
      this.journal.append(last.txnId, 'note.ack-resent', { value: last.note.value });
      this.log.warn({ txn: last.txnId }, 'VEND VALID repeated for a note already credited: acknowledging only');
      return;
    }
    this.journal.append(null, 'alarm.unattributed-note', { value: note?.value ?? null });
    this.log.error({ value: note?.value ?? null }, 'a note was stacked that no transaction expected; recorded for the cash count');
  }

  private creditNote(txnId: string, note: Note, via: string): void {
    this.journal.noteStacked(txnId, note, via);
    this.log.info({ txn: txnId, value: note.value, via }, 'note stacked and credited');
    const a = this.active();
    if (a && a.id === txnId) {
      a.actor.send({ type: 'NOTE_CREDITED', value: note.value });
    }
    this.emit('note-resolved', txnId);
  }

  /**
   * The validator came back from a power cut while it held the running transaction's note: the
   * reset that follows finishes the stack (bill in the stacker, no VEND VALID comes) or hands the
   * note back (bill in the acceptor), as recovery decides at a boot. Without a bill it stays
   * pending, and closing the transaction records it as unresolved.
   */
  onPowerUp(bill: BillAtPowerUp): void {
    const a = this.active();
    const pending = a ? this.journal.pendingEscrow(a.id) : null;
    if (!a || !pending || bill === 'none') return;
    if (bill === 'stacker') {
      this.creditNote(a.id, pending, 'power-up-bill-in-stacker');
      return;
    }
    this.journal.noteReturned(a.id, pending, 'power-up: the reset hands it back');
    this.log.info({ txn: a.id, value: pending.value }, 'note handed back by the reset after a power cut');
    this.emit('note-resolved', a.id);
  }

  /** Waits (bounded) until no note of the transaction is in escrow any more. */
  async settled(id: string): Promise<void> {
    if (!this.journal.pendingEscrow(id)) return;
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.off('note-resolved', onResolved);
        resolve();
      };
      const onResolved = (txnId: string) => {
        if (txnId === id && !this.journal.pendingEscrow(id)) finish();
      };
      const timer = setTimeout(finish, NOTE_RESOLVE_MS);
      this.on('note-resolved', onResolved);
    });
  }

  /** Like settled(), and a note still in escrow afterwards is journalled for the cash count. */
  async resolved(id: string): Promise<void> {
    await this.settled(id);
    const still = this.journal.pendingEscrow(id);
    if (still) {
      const claim = this.journal.noteUnresolved(id, still.value, 'the validator did not stack or return it');
      this.log.error({ txn: id, value: still.value, claim: claim.id }, 'a note in escrow was neither stacked nor returned; a claim is sent and the cash count settles it');
    }
  }
}

/** The running transaction's machine decides, from what it has credited so far; it answers at once. */
function askEscrow(a: ActiveTxn, value: number): EscrowAnswer | undefined {
  let answer: EscrowAnswer | undefined;
  const sub = a.actor.on('escrow', (e) => (answer = e));
  a.actor.send({ type: 'NOTE_ESCROWED', value });
  sub.unsubscribe();
  return answer;
}
