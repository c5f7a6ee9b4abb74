import type { Actor } from 'xstate';
import type { terminalMachine } from '../../states/terminal.js';
import type { Config } from '../config/schema.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { TransactionDesk } from '../desk/desk.js';
import { ScreenState } from './screen-state.js';
import { startApi, type RunningApi } from './server.js';

/** Longest time a finished transaction's summary stays up by itself. */
const RESULT_MAX_MS = 30_000;

export interface Screen {
  readonly url: string;
  /** The running transaction's machine changed. */
  changed(): void;
  /** Shows the fault slip of a transaction recovery finished. */
  show(txnId: string): void;
  close(): Promise<void>;
}

export interface ScreenDeps {
  config: Config;
  terminal: Actor<typeof terminalMachine>;
  transactions: TransactionDesk;
  journal: Journal;
  log: Logger;
}

/** The customer's screen and its local API, for a runtime whose configuration has `api`. */
export async function startScreen(port: number, d: ScreenDeps): Promise<Screen> {
  const state = new ScreenState({
    terminal: d.terminal,
    transactions: d.transactions,
    journal: d.journal,
    fitted: { coins: d.config.coinAcceptor !== undefined, printer: d.config.printer !== undefined },
    // A kiosk configured for quick time-outs (tests, a busy station) also clears the summary sooner.
    resultMs: Math.min(RESULT_MAX_MS, d.config.timeouts.inputMs),
    slipMs: d.config.timeouts.slipScreenMs,
    serviceNumber: d.config.receipt.serviceNumber,
  });
  let api: RunningApi;
  try {
    api = await startApi({ port, screen: state, transactions: d.transactions, log: d.log });
  } catch (e) {
    state.close();
    throw e;
  }
  return {
    url: api.url,
    changed: () => state.changed(),
    show: (id) => state.show(id),
    close: async () => {
      state.close();
      await api.close();
    },
  };
}
