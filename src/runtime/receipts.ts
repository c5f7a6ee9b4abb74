import { buildReceipt, type ReceiptData } from '../../drivers/escpos/receipt.js';
import type { Printer } from '../../drivers/types.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';

const SERVICE_NAMES: Record<string, string> = {
  pay: '话费缴费 Bill payment',
  topup: '话费充值 Top-up',
  lookup: '话费查询 Bill enquiry',
};

/** Receipts from the journal: what is printed is what was recorded, never what a screen showed. */
export class ReceiptService {
  constructor(
    private readonly journal: Journal,
    private readonly printer: Printer | undefined,
    private readonly labels: { operator: string; terminalId: string; width: 32 | 42 | 48; timeZone: string },
    private readonly log: Logger,
  ) {}

  data(txnId: string, flags: { recovered?: boolean; reprint?: boolean } = {}): ReceiptData {
    const txn = this.journal.transaction(txnId);
    if (!txn) throw new Error(`no transaction ${txnId}`);
    const events = this.journal.events(txnId);
    // note.stacked carries { note }, coin.accepted carries { coin }: each with its face value in fen.
    const values = (type: string, key: 'note' | 'coin') =>
      events.filter((e) => e.type === type).map((e) => Number((e.data[key] as { value?: number } | undefined)?.value));
    const settled = events.find((e) => e.type === 'txn.settled');
    const card = txn.cardIn > 0 ? this.journal.cardAttempts(txnId).find((c) => c.status === 'approved') : undefined;
    const mobile = txn.mobileIn > 0 ? this.journal.mobile.attempts(txnId).find((m) => m.status === 'paid') : undefined;
    const terminalLines = events.filter((e) => e.type === 'terminal.receipt').flatMap((e) => (e.data.lines as string[] | undefined) ?? []);
    return {
      operator: this.labels.operator,
      terminalId: this.labels.terminalId,
      at: new Date(settled?.at ?? txn.updatedAt),
      timeZone: this.labels.timeZone,
      txnId,
      service: SERVICE_NAMES[txn.service] ?? txn.service,
      phone: txn.phone ?? '',
      amountDue: txn.amountDue,
      notes: values('note.stacked', 'note'),
      coins: values('coin.accepted', 'coin'),
      credited: txn.credited,
      changePaid: txn.changePaid,
      changeOwed: txn.changeOwed,
      ...(txn.claimCode ? { claimCode: txn.claimCode } : {}),
      ...(card
        ? {
            card: {
              amount: txn.cardIn,
              ...(card.maskedPan !== undefined ? { maskedPan: card.maskedPan } : {}),
              ...(card.authCode !== undefined ? { authCode: card.authCode } : {}),
              ...(card.receiptNo !== undefined ? { receiptNo: card.receiptNo } : {}),
              ...(terminalLines.length > 0 ? { terminalLines } : {}),
            },
          }
        : {}),
      ...(mobile
        ? {
            mobile: {
              amount: txn.mobileIn,
              wallet: mobile.wallet,
              ...(mobile.maskedCode !== undefined ? { maskedCode: mobile.maskedCode } : {}),
              ...(mobile.gatewayRef !== undefined ? { gatewayRef: mobile.gatewayRef } : {}),
            },
          }
        : {}),
      ...flags,
    };
  }

  /** Prints and journals the outcome; a failure is journalled (for the reprint queue) and rethrown. */
  async print(txnId: string, flags: { recovered?: boolean; reprint?: boolean } = {}): Promise<void> {
    if (!this.printer) throw new Error('no receipt printer is fitted');
    try {
      await this.printer.print(buildReceipt(this.data(txnId, flags), { width: this.labels.width }));
    } catch (e) {
      const reason = (e as Error).message;
      this.journal.receiptFailed(txnId, reason);
      this.log.warn({ txn: txnId, reason }, 'receipt not printed: queued for reprint');
      throw e;
    }
    this.journal.receiptPrinted(txnId, flags.reprint ? { reprint: true } : {});
    this.log.info({ txn: txnId, ...flags }, 'receipt printed');
  }
}
