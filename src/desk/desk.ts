/**
 * The port between the runtime and the parts that serve customers and engineers (the screen's API,
 * the control socket): what a running transaction looks like from outside and what may be asked of
 * it. The runtime implements it; the callers depend only on this module.
 */
import type { Actor } from 'xstate';
import type { TerminalService } from '../../states/terminal.js';
import type { TransactionEvent, transactionMachine } from '../../states/transaction.js';
import type { ControlResponse } from '../control/protocol.js';

/** The transaction the kiosk is running now. */
export interface ActiveTxn {
  id: string;
  actor: Actor<typeof transactionMachine>;
  /** The customer asked to cancel while a note was in escrow: act once the note is resolved. */
  cancelWhenResolved: boolean;
}

/** What the runtime's transaction lifecycle offers the control requests and the screen. */
export interface TransactionDesk {
  active(): ActiveTxn | null;
  lastId(): string | null;
  /** The validator has been told to accept notes for the running transaction. */
  accepting(): boolean;
  start(service: TerminalService): string;
  customer(event: TransactionEvent): ControlResponse;
}
