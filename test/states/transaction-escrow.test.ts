import t from 'tap';
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate';
import {
  escrowDecision,
  transactionMachine,
  type AcceptCashInput,
  type AcceptCashUpdate,
  type EscrowAnswer,
  type LookupResult,
  type TransactionInput,
  type TransactionLimits,
} from '../../states/transaction.js';

// NOTE_ESCROWED asks the machine itself: the runtime no longer reads its snapshot to decide.

const LIMITS: TransactionLimits = { maxNote: 10000, maxOverpay: 2000, maxTopup: 50000 };
const SLOW = { inputMs: 60_000, lookupMs: 60_000, cashMs: 60_000 };

function start(input: Partial<TransactionInput> = {}, amountDue = 3000) {
  const machine = transactionMachine.provide({
    actors: {
      lookup: fromPromise<LookupResult, { phone: string }>(async () => ({ amountDue })),
      acceptCash: fromCallback<AcceptCashUpdate, AcceptCashInput>(() => () => undefined),
      settle: fromPromise(async () => undefined),
      cancel: fromPromise(async () => undefined),
      finish: fromPromise(async () => undefined),
    },
  });
  const actor = createActor(machine, { input: { id: 't1', service: 'pay', limits: LIMITS, timeouts: SLOW, ...input } });
  actor.start();
  return actor;
}

function ask(actor: Actor<typeof transactionMachine>, value: number): EscrowAnswer | undefined {
  let answer: EscrowAnswer | undefined;
  const sub = actor.on('escrow', (e) => (answer = e));
  actor.send({ type: 'NOTE_ESCROWED', value });
  sub.unsubscribe();
  return answer;
}

async function inCash(amountDue = 3000, input: Partial<TransactionInput> = {}) {
  const actor = start(input, amountDue);
  actor.send({ type: 'NUMBER', phone: '13800138000' });
  await new Promise((r) => setTimeout(r, 0));
  actor.send({ type: 'CONFIRM' });
  if (!actor.getSnapshot().matches('cash')) throw new Error('not on the cash screen');
  return actor;
}

t.test('before the cash screen a note is not the transaction’s: returned, not taking cash', async (t) => {
  const actor = start();
  t.same(ask(actor, 1000), { type: 'escrow', takingCash: false, decision: 'return' });
  t.ok(actor.getSnapshot().matches('number'), 'no state change');
  actor.stop();
});

t.test('while taking cash the answer is the escrow rule on what is credited so far', async (t) => {
  const actor = await inCash(3000);
  for (const value of [100, 500, 1000, 2000, 5000, 10000, 20000, 0, -100, 150.5]) {
    const expected = escrowDecision(actor.getSnapshot().context, value, LIMITS, true);
    t.same(ask(actor, value), { type: 'escrow', takingCash: true, decision: expected }, `${value} fen`);
  }
  t.equal(ask(actor, 5000)?.decision, 'stack', 'an overpay within maxOverpay is stacked');
  t.equal(ask(actor, 10000)?.decision, 'return', 'an overpay past maxOverpay is returned');
  actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  t.equal(ask(actor, 5000)?.decision, 'return', 'after a credit the excess counts what was taken');
  t.equal(ask(actor, 1000)?.decision, 'stack');
  t.ok(actor.getSnapshot().matches('cash'), 'asking changes no state');
  actor.stop();
});

t.test('change in coins: only an excess the hoppers can pay back exactly is stacked', async (t) => {
  const actor = await inCash(3000, { change: [{ name: 'h50', coinValue: 50, available: 1 }] });
  t.equal(ask(actor, 2000)?.decision, 'stack');
  t.equal(ask(actor, 5000)?.decision, 'return', '20.00 change with one 0.50 coin cannot be paid');
  actor.stop();
});

t.test('a finished or stopped machine answers nothing', async (t) => {
  const actor = start();
  actor.stop();
  t.equal(ask(actor, 1000), undefined);
});
