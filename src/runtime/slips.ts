import type { Printer } from '../../drivers/types.js';
import { buildSlip, type SlipData } from '../../drivers/escpos/slip.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import { isDown } from './health.js';

export interface SlipLabels {
  operator: string;
  terminalId: string;
  serviceNumber: string;
  timeZone: string;
  width: 32 | 42 | 48;
}

/**
 * Fault slips from the journal: a transaction that ended with the customer's money not fully
 * delivered gets one, printed at once when the printer can, else journalled as failed so that it
 * waits in the reprint queue (the screen says which).
 */
export class SlipService {
  /** Transactions whose slip is being printed now: a second call must not print it twice. */
  private readonly issuing = new Set<string>();

  constructor(
    private readonly journal: Journal,
    private readonly printer: Printer | undefined,
    private readonly labels: SlipLabels,
    private readonly log: Logger,
  ) {}

  /** The slip's content, or null when the transaction calls for none. */
  data(txnId: string, flags: { reprint?: boolean } = {}): SlipData | null {
    const facts = this.journal.faultSlip(txnId);
    const txn = this.journal.transaction(txnId);
    if (!facts || !txn) return null;
    return {
      operator: this.labels.operator,
      terminalId: this.labels.terminalId,
      serviceNumber: this.labels.serviceNumber,
      at: new Date(facts.endedAt),
      txnId,
      phone: txn.phone ?? '',
      cashIn: txn.cashIn,
      cardIn: txn.cardIn,
      credited: txn.credited,
      changePaid: txn.changePaid,
      owed: facts.owed,
      changeCredited: facts.changeCredited,
      unresolved: facts.unresolved,
      cardReversed: facts.cardReversed,
      recovered: facts.reasons.includes('recovered'),
      ...(facts.claimCode ? { claimCode: facts.claimCode } : {}),
      timeZone: this.labels.timeZone,
      ...(flags.reprint ? { reprint: true } : {}),
    };
  }

  /**
   * Gives the transaction its slip if it calls for one and has none yet: printed when the printer
   * is usable, queued for a reprint otherwise. Never throws: the money is already journalled.
   */
  async issue(txnId: string): Promise<'printed' | 'queued' | 'none'> {
    const facts = this.journal.faultSlip(txnId);
    if (!facts || facts.slip !== 'none' || this.issuing.has(txnId)) return facts?.slip ?? 'none';
    this.issuing.add(txnId);
    try {
      const status = this.printer?.status();
      if (!this.printer || !status || isDown(status)) {
        this.journal.slipFailed(txnId, this.printer ? `printer ${status?.code ?? 'down'}` : 'no printer fitted');
        this.log.warn({ txn: txnId, reasons: facts.reasons }, 'fault slip not printed: queued for reprint');
        return 'queued';
      }
      await this.print(txnId);
      return 'printed';
    } catch {
      return 'queued';
    } finally {
      this.issuing.delete(txnId);
    }
  }

  /** Prints and journals the outcome; a failure is journalled (for the reprint queue) and rethrown. */
  async print(txnId: string, flags: { reprint?: boolean } = {}): Promise<void> {
    if (!this.printer) throw new Error('no receipt printer is fitted');
    const data = this.data(txnId, flags);
    if (!data) throw new Error(`transaction ${txnId} calls for no fault slip`);
    try {
      await this.printer.print(buildSlip(data, { width: this.labels.width }));
    } catch (e) {
      const reason = (e as Error).message;
      this.journal.slipFailed(txnId, reason);
      this.log.warn({ txn: txnId, reason }, 'fault slip not printed: queued for reprint');
      throw e;
    }
    this.journal.slipPrinted(txnId, flags.reprint ? { reprint: true } : {});
    this.log.info({ txn: txnId, claimCode: data.claimCode, owed: data.owed, unresolved: data.unresolved }, 'fault slip printed');
  }
}
