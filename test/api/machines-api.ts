import { join } from 'node:path';
import type { Test } from 'tap';
import { createActor, fromCallback, fromPromise } from 'xstate';
import { pino } from 'pino';
import { terminalMachine, type SelfTestResult } from '../../states/terminal.js';
import { transactionMachine, type AcceptCashInput, type CloseInput, type LookupInput, type LookupResult, type SettleInput } from '../../states/transaction.js';
import { ScreenState } from '../../src/api/screen-state.js';
import { startApi } from '../../src/api/server.js';
import { Journal } from '../../src/journal/index.js';
import type { TransactionDesk } from '../../src/desk/desk.js';
import type { ActiveTxn } from '../../src/desk/desk.js';
import { testKey } from '../journal/keys.js';

/**
 * The screen API over a real terminal machine, real transaction machines and a real journal; only
 * the devices and the server behind the look-up are stand-ins (an account owing 50.00). Shared by
 * the API tests and the API fuzzing, so both exercise the same server.
 */
export async function startMachinesApi(t: Test, opts: { resultMs?: number; files?: Record<string, string> } = {}) {
  const dir = t.testdir({ ui: { 'index.html': '<!doctype html><title>screen</title>', 'main.js': 'export {};' }, ...opts.files });
  const journal = Journal.open(join(dir, 'journal.db'), { key: testKey });
  const terminal = createActor(
    terminalMachine.provide({
      actors: {
        recover: fromPromise<unknown, void>(async () => undefined),
        selfTest: fromPromise<SelfTestResult, void>(async () => ({ devices: { validator: 'ok' }, linkUp: true })),
      },
    }),
  );
  let active: ActiveTxn | null = null;
  let lastId: string | null = null;
  let n = 0;
  let screen: ScreenState | undefined;
  const desk: TransactionDesk = {
    active: () => active,
    lastId: () => lastId,
    accepting: () => false,
    start: (service) => {
      const id = `T${++n}`;
      journal.startTransaction(id, service);
      const close = async ({ input }: { input: CloseInput | SettleInput }) => {
        if (journal.transaction(input.id)?.cashIn) journal.settle(input.id, { endReason: input.endReason });
        else journal.cancel(input.id, input.endReason);
      };
      const actor = createActor(
        transactionMachine.provide({
          actors: {
            lookup: fromPromise<LookupResult, LookupInput>(async () => ({ amountDue: 5000, holder: 'Zhang San' })),
            acceptCash: fromCallback<never, AcceptCashInput>(() => undefined),
            settle: fromPromise<unknown, SettleInput>(close),
            cancel: fromPromise<unknown, CloseInput>(close),
          },
        }),
        {
          input: {
            id,
            service,
            limits: { maxNote: 10000, maxOverpay: 5000, maxTopup: 50000 },
            timeouts: { inputMs: 60_000, lookupMs: 60_000, cashMs: 60_000 },
          },
        },
      );
      const a: ActiveTxn = { id, actor, cancelWhenResolved: false };
      active = a;
      actor.subscribe((s) => {
        if (s.status === 'done' && active === a) {
          active = null;
          lastId = id;
        }
        screen?.changed();
      });
      actor.start();
      return id;
    },
    customer: (event) => {
      if (!active) return { ok: false, error: 'no transaction is running' };
      active.actor.send(event);
      return { ok: true };
    },
  };
  screen = new ScreenState({ terminal, transactions: desk, journal, fitted: { coins: false, printer: false }, resultMs: opts.resultMs ?? 60_000 });
  const api = await startApi({ port: 0, screen, transactions: desk, log: pino({ level: 'silent' }), staticDir: join(dir, 'ui') });
  terminal.start();
  t.teardown(async () => {
    active?.actor.stop();
    await api.close();
    screen?.close();
    terminal.stop();
    journal.close();
  });
  return { api, journal, desk, dir };
}
