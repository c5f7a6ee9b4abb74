import { EventEmitter } from 'node:events';
import type { Actor } from 'xstate';
import type { terminalMachine } from '../../states/terminal.js';
import { capabilities } from '../../states/terminal.js';
import type { Journal } from '../journal/index.js';
import type { ActiveTxn, TransactionDesk } from '../desk/desk.js';
import { stateName } from '../../states/state-name.js';
import type { ScreenView } from '../ui/view-model.js';
import { screenView, type Deadline, type ScreenInput } from './view.js';

export interface ScreenSources {
  terminal: Actor<typeof terminalMachine>;
  transactions: TransactionDesk;
  journal: Pick<Journal, 'transaction' | 'events' | 'faultSlip'>;
  fitted: ScreenInput['fitted'];
  /** How long a finished transaction's summary stays on the screen unless the customer closes it. */
  resultMs: number;
  /** How long a fault slip stays: long enough to read it and take a photo of the claim code. */
  slipMs: number;
  serviceNumber: string;
}

/** The customer's own time-outs; the look-up's time-out is the kiosk waiting, not the customer. */
// The wallet's scan time-out and the QR's limit are the customer's too: the screen counts them down.
const CUSTOMER_TIMERS = /^xstate\.after\.(inputTimeout|cashTimeout|mobileScanTimeout|mobileQueryLimit)\./;

/**
 * Holds what the screen shows and tells when it changes. Only the summary of a finished
 * transaction is kept here (the machines forget a transaction once it ends); everything else is
 * read from the machines and the journal each time.
 */
export class ScreenState extends EventEmitter<{ change: [ScreenView] }> {
  private running: string | null = null;
  private result: { id: string; deadline: Deadline } | null = null;
  private resultTimer: NodeJS.Timeout | undefined;
  private lastJson = '';
  private readonly unsubscribe: () => void;

  constructor(private readonly src: ScreenSources) {
    super();
    const sub = src.terminal.subscribe(() => this.changed());
    this.unsubscribe = () => sub.unsubscribe();
  }

  view(): ScreenView {
    const t = this.src.terminal.getSnapshot();
    const a = this.src.transactions.active();
    const result = this.result && this.src.journal.transaction(this.result.id);
    return screenView({
      terminal: { state: stateName(t.value), caps: capabilities(t.context) },
      fitted: this.src.fitted,
      transaction: a ? transactionInput(a) : null,
      result:
        result && this.result
          ? { txn: result, receipt: this.receiptOf(result.id), deadline: this.result.deadline, slip: this.src.journal.faultSlip(result.id) }
          : null,
      serviceNumber: this.src.serviceNumber,
    });
  }

  /** Called on every change of either machine; emits 'change' when the view differs. */
  changed(): void {
    const a = this.src.transactions.active();
    if (a) {
      if (this.running !== a.id) this.clearResult();
      this.running = a.id;
    } else if (this.running) {
      this.ended(this.running);
      this.running = null;
    }
    const view = this.view();
    const json = JSON.stringify(view);
    if (json === this.lastJson) return;
    this.lastJson = json;
    this.emit('change', view);
  }

  /**
   * Shows the fault slip of a transaction a restart finished (recovery), unless a customer is
   * already using the kiosk.
   */
  show(id: string): void {
    if (this.src.transactions.active() || !this.src.journal.transaction(id)) return;
    this.ended(id);
    this.changed();
  }

  /** The customer closed the summary; false when none is on the screen. */
  dismiss(): boolean {
    if (!this.result) return false;
    this.clearResult();
    this.changed();
    return true;
  }

  close(): void {
    this.unsubscribe();
    clearTimeout(this.resultTimer);
  }

  private ended(id: string): void {
    const txn = this.src.journal.transaction(id);
    // A customer who backed out before paying anything wants the start screen, not a summary.
    const slip = txn ? this.src.journal.faultSlip(id) : null;
    if (!txn || (txn.status === 'cancelled' && txn.endReason === 'customer-cancel' && !slip)) return;
    // A fault slip stays up longer: the customer must be able to read it and photograph the code.
    const totalMs = slip ? this.src.slipMs : this.src.resultMs;
    this.result = { id, deadline: { at: Date.now() + totalMs, totalMs } };
    clearTimeout(this.resultTimer);
    this.resultTimer = setTimeout(() => this.dismiss(), totalMs);
  }

  private clearResult(): void {
    clearTimeout(this.resultTimer);
    this.result = null;
  }

  private receiptOf(id: string): 'printed' | 'failed' | 'none' {
    const last = this.src.journal
      .events(id)
      .filter((e) => e.type === 'receipt.printed' || e.type === 'receipt.failed')
      .at(-1);
    return last ? (last.type === 'receipt.printed' ? 'printed' : 'failed') : 'none';
  }
}

function transactionInput(a: ActiveTxn): NonNullable<ScreenInput['transaction']> {
  const snap = a.actor.getSnapshot();
  // The machine's own timers are the truth about when it gives up on the customer.
  const timer = Object.values(a.actor.system.getSnapshot()._scheduledEvents).find((e) => CUSTOMER_TIMERS.test(e.event.type));
  return {
    id: a.id,
    state: stateName(snap.value),
    context: snap.context,
    deadline: timer ? { at: timer.startedAt + timer.delay, totalMs: timer.delay } : null,
  };
}
