import { v7 as uuidv7 } from 'uuid';
import { fromCallback } from 'xstate';
import type { ApprovalRecord, AuthorisationResult, CardRead, CardReader, PaymentTerminal, TerminalProgress } from '../../drivers/types.js';
import type { AuthoriseCardInput, CardProgress, CardResult, StopCard } from '../../states/transaction.js';
import { PAYMENT_TERMINAL } from '../../states/terminal.js';
import { maskCardNumbersInLines } from '../domain/card-number.js';
import type { CardUnknownOutcome, Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { AlarmSink } from '../alarms/sink.js';
import { UplinkError, type BusinessAdapter } from '../uplink/index.js';

type SendBack = (event: CardProgress | CardResult) => void;

// Terminal stages after which the amount is with the card issuer: the authorisation clock runs.
const HOST_STAGES: ReadonlySet<TerminalProgress['stage']> = new Set(['waiting-host', 'please-wait']);

export interface CardPaymentsOptions {
  journal: Journal;
  reader: CardReader | undefined;
  terminal: PaymentTerminal | undefined;
  business: BusinessAdapter;
  alarms: AlarmSink;
  /** How often pending terminal reversals are tried again. */
  reversalRetryMs: number;
  log: Logger;
}

/**
 * The effects of a card payment: the transaction machine's authoriseCard actor for both paths,
 * and the worker that reverses terminal bookings whose outcome was not known. Every outcome is
 * journalled before the machine hears of it; the journal refuses a second outcome for the same
 * request, which is what makes "reversal or confirmation, never both" hold when a late answer
 * arrives after a time-out.
 */
export class CardPayments {
  private timer: NodeJS.Timeout | undefined;
  private reversing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: CardPaymentsOptions) {}

  /** The authoriseCard actor of one transaction. */
  actor() {
    return fromCallback<StopCard, AuthoriseCardInput>(({ input, sendBack, receive }) => {
      if (input.method === 'terminal') return this.byTerminal(input, sendBack, receive);
      return this.byReader(input, sendBack, receive);
    });
  }

  /** Starts the terminal reversal worker (a no-op without a terminal). */
  start(): void {
    if (!this.o.terminal) return;
    this.timer = setInterval(() => this.reverseNow(), this.o.reversalRetryMs);
    this.timer.unref();
    this.reverseNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.reversing;
  }

  /**
   * Ends every card request of the transaction that has no outcome as unknown, with its reversal:
   * for a transaction closed while its actor was gone (stop, machine error) before the answer.
   */
  abandonOpen(txnId: string, reason: string): void {
    for (const c of this.o.journal.cardAttempts(txnId)) {
      if (c.status === 'requested') this.unknown(txnId, c.requestId, reason);
    }
  }

  /** What recovery or an unknown outcome queued: act on it (alarm, or reverse at the terminal now). */
  followUp(txnId: string, requestId: string, outcome: CardUnknownOutcome['reversal']): void {
    if (outcome === 'terminal') this.reverseNow();
    if (outcome === 'none') {
      this.o.alarms.raise({
        kind: 'card-unresolved',
        source: PAYMENT_TERMINAL,
        severity: 'critical',
        detail: `transaction ${txnId}, card request ${requestId}: the terminal's outcome is unknown and it gave no receipt number; check its journal`,
      });
    }
  }

  /** One pass over the pending terminal reversals; a pass already running is not doubled. */
  reverseNow(): void {
    const terminal = this.o.terminal;
    if (!terminal || this.stopped || this.reversing) return;
    this.reversing = (async () => {
      for (const r of this.o.journal.pendingTerminalReversals()) {
        if (this.stopped) break;
        const res = await terminal.reverse(r.receiptNo);
        const row = this.o.journal.terminalReversalAttempt(r.requestId, { outcome: res.outcome, code: res.code, detail: res.detail });
        this.o.log.info({ txn: r.txnId, receiptNo: r.receiptNo, outcome: res.outcome, code: res.code }, `terminal reversal: ${res.outcome}`);
        if (row.status === 'refused') {
          this.o.alarms.raise({
            kind: 'card-reversal-refused',
            source: PAYMENT_TERMINAL,
            severity: 'critical',
            detail: `transaction ${r.txnId}: the terminal refused to reverse receipt ${r.receiptNo} (${r.amount} fen): ${res.code}`,
          });
        }
        if (res.outcome === 'unknown') break;
      }
    })()
      .catch((e: Error) => this.o.log.error({ err: e.message }, 'terminal reversal pass failed'))
      .finally(() => (this.reversing = undefined));
  }

  // ------------------------------------------------------------------ reader path

  private byReader(input: AuthoriseCardInput, sendBack: SendBack, receive: (fn: (e: StopCard) => void) => void) {
    const reader = this.o.reader;
    if (!reader) {
      sendBack({ type: 'CARD_RESULT', outcome: 'unavailable', reason: 'no card reader' });
      return;
    }
    let phase: 'waiting' | 'authorising' | 'done' = 'waiting';
    let requestId: string | undefined;
    const finish = (result: Omit<CardResult, 'type'>) => {
      if (phase === 'done') return;
      phase = 'done';
      sendBack({ type: 'CARD_RESULT', ...result });
    };
    const onRead = (read: CardRead) => {
      if (phase !== 'waiting') {
        read.sensitive.wipe();
        return;
      }
      phase = 'authorising';
      reader.disable().catch((e: Error) => this.o.log.warn({ err: e.message }, 'could not disable the card reader'));
      requestId = uuidv7();
      this.authoriseRead(input, requestId, read, sendBack).then(
        (r) => r && finish(r),
        (e: Error) => {
          this.o.log.error({ txn: input.id, err: e.message }, 'card authorisation failed unexpectedly');
          this.guarded(input.id, () => finish(this.unknownResult(input.id, requestId!, 'error')));
        },
      );
    };
    const onBadRead = (b: { reason: string }) => {
      if (phase === 'waiting') sendBack({ type: 'CARD_PROGRESS', stage: 'read-error' });
      this.o.log.info({ txn: input.id, reason: b.reason }, 'bad card read');
    };
    reader.on('read', onRead);
    reader.on('bad-read', onBadRead);
    reader.enable().catch((e: Error) => finish({ outcome: 'unavailable', reason: `card reader: ${e.message}` }));
    receive((stop) => {
      if (phase === 'waiting') finish({ outcome: 'cancelled', reason: stop.why });
      // The server may already have approved; past the time-out the answer is not waited for, and
      // the request is reversed. A customer's cancel alone does not stop a request already sent.
      else if (phase === 'authorising' && stop.why === 'auth-timeout' && requestId) {
        const id = requestId;
        this.guarded(input.id, () => finish(this.unknownResult(input.id, id, 'timeout')));
      }
    });
    return () => {
      reader.off('read', onRead);
      reader.off('bad-read', onBadRead);
      reader.disable().catch((e: Error) => this.o.log.warn({ err: e.message }, 'could not disable the card reader'));
    };
  }

  /** Journals the request, sends it, journals the answer; undefined when the outcome was settled elsewhere. */
  private async authoriseRead(
    input: AuthoriseCardInput,
    requestId: string,
    read: CardRead,
    sendBack: SendBack,
  ): Promise<Omit<CardResult, 'type'> | undefined> {
    const { journal, business } = this.o;
    const { maskedPan } = read.card;
    try {
      journal.cardRequested(input.id, { requestId, method: 'reader', amount: input.amount, maskedPan });
    } catch (e) {
      read.sensitive.wipe();
      throw e;
    }
    sendBack({ type: 'CARD_PROGRESS', stage: 'authorising', maskedPan, authorising: true });
    const phone = journal.transaction(input.id)?.phone ?? '';
    try {
      const answer = await business.authoriseCard({ requestId, txnId: input.id, phone, amount: input.amount }, read);
      if (!this.stillOpen(input.id, requestId)) return undefined;
      if (answer.outcome === 'approved') {
        journal.cardApproved(input.id, { requestId, authCode: answer.authCode, serverRef: answer.serverRef });
        return { outcome: 'approved' };
      }
      journal.cardDeclined(input.id, { requestId, reason: answer.reason || 'declined' });
      return { outcome: 'declined', reason: answer.reason };
    } catch (e) {
      if (!this.stillOpen(input.id, requestId)) return undefined;
      const kind = e instanceof UplinkError ? e.kind : 'outcome-unknown';
      const detail = (e as Error).message;
      this.o.log.warn({ txn: input.id, kind, err: detail }, 'card authorisation got no usable answer');
      if (kind === 'unreachable') {
        journal.cardDeclined(input.id, { requestId, reason: 'unreachable' });
        return { outcome: 'unavailable', reason: 'unreachable' };
      }
      if (kind === 'rejected') {
        journal.cardDeclined(input.id, { requestId, reason: 'rejected' });
        return { outcome: 'declined', reason: 'rejected' };
      }
      return this.unknownResult(input.id, requestId, kind);
    } finally {
      read.sensitive.wipe();
    }
  }

  // ------------------------------------------------------------------ terminal path

  private byTerminal(input: AuthoriseCardInput, sendBack: SendBack, receive: (fn: (e: StopCard) => void) => void) {
    const terminal = this.o.terminal;
    if (!terminal) {
      sendBack({ type: 'CARD_RESULT', outcome: 'unavailable', reason: 'no payment terminal' });
      return;
    }
    let done = false;
    let asked = false;
    const requestId = uuidv7();
    const onProgress = (p: TerminalProgress) => {
      if (!done) sendBack({ type: 'CARD_PROGRESS', stage: p.stage, authorising: HOST_STAGES.has(p.stage) });
    };
    terminal.on('progress', onProgress);
    const abort = () => {
      terminal.abort().catch((e: Error) => this.o.log.warn({ err: e.message }, 'could not ask the terminal to abort'));
    };
    this.authoriseAtTerminal(input, requestId, terminal, () => (asked = true)).then(
      (r) => {
        done = true;
        sendBack({ type: 'CARD_RESULT', ...r });
      },
      (e: Error) => {
        done = true;
        this.o.log.error({ txn: input.id, err: e.message }, 'terminal payment failed unexpectedly');
        this.guarded(input.id, () => {
          const result = asked ? this.unknownResult(input.id, requestId, 'error') : { outcome: 'unavailable' as const, reason: e.message };
          sendBack({ type: 'CARD_RESULT', ...result });
        });
      },
    );
    // The terminal decides: after an abort it answers declined ('aborted') or, if the host had
    // already approved, with the booking. Its answer is journalled either way.
    receive(() => {
      if (asked && !done) abort();
    });
    return () => {
      terminal.off('progress', onProgress);
      if (!done) abort();
    };
  }

  private async authoriseAtTerminal(
    input: AuthoriseCardInput,
    requestId: string,
    terminal: PaymentTerminal,
    sent: () => void,
  ): Promise<Omit<CardResult, 'type'>> {
    const { journal } = this.o;
    journal.cardRequested(input.id, { requestId, method: 'terminal', amount: input.amount });
    sent();
    // Journalled while the driver holds back its acknowledgement: the booking is on disk with its
    // receipt number before the terminal takes it as final.
    const approved = (rec: ApprovalRecord) =>
      journal.cardApproved(input.id, {
        requestId,
        receiptNo: rec.receiptNo,
        ...(rec.trace !== undefined ? { trace: rec.trace } : {}),
        ...(rec.terminalId !== undefined ? { terminalId: rec.terminalId } : {}),
        ...(rec.cardName !== undefined ? { cardName: rec.cardName } : {}),
      });
    const result: AuthorisationResult = await terminal.authorise(input.amount, input.id, { approved });
    this.keepReceipts(input.id, result);
    this.o.log.info({ txn: input.id, outcome: result.outcome, code: result.code }, `terminal payment: ${result.detail}`);
    if (result.outcome === 'approved' && this.approvedInJournal(input.id, requestId)) return { outcome: 'approved' };
    if (result.outcome === 'declined') {
      journal.cardDeclined(input.id, { requestId, reason: result.code });
      return { outcome: 'declined', reason: result.code };
    }
    return this.unknownResult(input.id, requestId, result.code, result.approval?.receiptNo);
  }

  /**
   * The terminal's receipt lines, for the kiosk's receipt. A terminal should mask the card itself;
   * whatever it prints is still searched for card numbers (Luhn) and masked to 6 + 4 before the
   * journal keeps it.
   */
  private keepReceipts(txnId: string, result: AuthorisationResult): void {
    const customer = result.receipts.filter((r) => r.type === 'customer' || r.type === 'unspecified');
    if (customer.length === 0) return;
    const { lines, found } = maskCardNumbersInLines(customer.flatMap((r) => r.lines));
    if (found > 0) this.o.log.warn({ txn: txnId, found }, 'the terminal printed a card number on its receipt: masked before journalling');
    this.o.journal.append(txnId, 'terminal.receipt', { lines });
  }

  // ------------------------------------------------------------------ shared

  /**
   * For the last resort paths: if even the journal write fails (the kiosk is stopping and the
   * journal closed), the request stays open in the journal and recovery reverses it at the next start.
   */
  private guarded(txnId: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.o.log.error({ txn: txnId, err: (e as Error).message }, 'card outcome not journalled: recovery reverses it at the next start');
    }
  }

  private stillOpen(txnId: string, requestId: string): boolean {
    return this.o.journal.cardAttempts(txnId).some((c) => c.requestId === requestId && c.status === 'requested');
  }

  private approvedInJournal(txnId: string, requestId: string): boolean {
    return this.o.journal.cardAttempts(txnId).some((c) => c.requestId === requestId && c.status === 'approved');
  }

  private unknown(txnId: string, requestId: string, reason: string, receiptNo?: number): void {
    const { reversal } = this.o.journal.cardUnknown(txnId, { requestId, reason, ...(receiptNo !== undefined ? { receiptNo } : {}) });
    this.o.log.warn({ txn: txnId, requestId, reason, reversal }, 'card outcome unknown: reversing');
    this.followUp(txnId, requestId, reversal);
  }

  private unknownResult(txnId: string, requestId: string, reason: string, receiptNo?: number): Omit<CardResult, 'type'> {
    const open = this.o.journal.cardAttempts(txnId).find((c) => c.requestId === requestId);
    if (open && (open.status === 'requested' || open.status === 'approved')) this.unknown(txnId, requestId, reason, receiptNo);
    return { outcome: 'unknown', reason };
  }
}
