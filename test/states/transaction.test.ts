import t from 'tap';
import { createActor, fromCallback, fromPromise, SimulatedClock, waitFor } from 'xstate';
import type { HopperSupply } from '../../states/change.js';
import {
  acceptableNotes,
  escrowDecision,
  isAcceptingCash,
  isFinished,
  transactionMachine,
  type AcceptCashInput,
  type AcceptCashUpdate,
  type CloseInput,
  type EscrowView,
  type LookupResult,
  type PayChangeInput,
  type PayChangeOutput,
  type Service,
  type SettleInput,
  type TransactionLimits,
  type TransactionSnapshot,
  type TransactionTimeouts,
} from '../../states/transaction.js';

const NOTES = [100, 500, 1000, 2000, 5000, 10000];
const LIMITS: TransactionLimits = { maxNote: 10000, maxOverpay: 2000, maxTopup: 50000 };
// Long enough never to fire in tests that are not about timers.
const SLOW: TransactionTimeouts = { inputMs: 60_000, lookupMs: 60_000, cashMs: 60_000 };
const QUICK: TransactionTimeouts = { inputMs: 30, lookupMs: 30, cashMs: 30 };
const WAIT = { timeout: 5000 };
const PHONE = '13800138000';

// Actors left waiting on a screen hold timers that would keep the process alive.
const live: { stop(): unknown }[] = [];
t.afterEach(() => {
  for (const actor of live.splice(0)) actor.stop();
});

/**
 * A validator and coin acceptor stand-in that remembers what it was enabled for and whether it was
 * switched off. `inputs`/`updates` keep the note sets, `coinInputs`/`coinUpdates` the coin sets.
 */
function fakeValidator() {
  const seen = {
    starts: 0,
    stops: 0,
    enabled: null as number[] | null,
    coinsEnabled: null as number[] | null,
    inputs: [] as number[][],
    updates: [] as number[][],
    coinInputs: [] as number[][],
    coinUpdates: [] as number[][],
  };
  const logic = fromCallback<AcceptCashUpdate, AcceptCashInput>(({ input, receive }) => {
    seen.starts += 1;
    seen.enabled = input.accept;
    seen.coinsEnabled = input.coins;
    seen.inputs.push(input.accept);
    seen.coinInputs.push(input.coins);
    receive((update) => {
      seen.updates.push(update.accept);
      seen.coinUpdates.push(update.coins);
      seen.enabled = update.accept;
      seen.coinsEnabled = update.coins;
    });
    return () => {
      seen.stops += 1;
      seen.enabled = null;
      seen.coinsEnabled = null;
    };
  });
  return { logic, seen };
}

interface Options {
  service?: Service;
  offline?: boolean;
  limits?: TransactionLimits;
  timeouts?: TransactionTimeouts;
  lookup?: (phone: string) => Promise<LookupResult>;
  settle?: (input: SettleInput) => Promise<void>;
  cancel?: (input: CloseInput) => Promise<void>;
  /** Pays everything asked for unless given. */
  payChange?: (input: PayChangeInput) => Promise<PayChangeOutput>;
  printReceipt?: (input: { id: string }) => Promise<void>;
  clock?: SimulatedClock;
  coins?: readonly number[];
  change?: readonly HopperSupply[];
  receipt?: boolean;
}

function start(opts: Options = {}) {
  const calls = {
    lookup: [] as string[],
    settle: [] as SettleInput[],
    cancel: [] as CloseInput[],
    finish: [] as CloseInput[],
    payChange: [] as PayChangeInput[],
    printReceipt: [] as { id: string }[],
    /** The closing effects in the order they ran. */
    order: [] as string[],
  };
  const validator = fakeValidator();
  const machine = transactionMachine.provide({
    actors: {
      lookup: fromPromise<LookupResult, { phone: string }>(async ({ input }) => {
        calls.lookup.push(input.phone);
        return opts.lookup ? opts.lookup(input.phone) : { amountDue: 3000, holder: 'Zhang' };
      }),
      acceptCash: validator.logic,
      settle: fromPromise<unknown, SettleInput>(async ({ input }) => {
        calls.settle.push(input);
        calls.order.push('settle');
        if (opts.settle) await opts.settle(input);
      }),
      payChange: fromPromise<PayChangeOutput, PayChangeInput>(async ({ input }) => {
        calls.payChange.push(input);
        calls.order.push('payChange');
        return opts.payChange ? opts.payChange(input) : { paid: input.amount, owed: 0 };
      }),
      printReceipt: fromPromise<unknown, { id: string }>(async ({ input }) => {
        calls.printReceipt.push(input);
        calls.order.push('printReceipt');
        if (opts.printReceipt) await opts.printReceipt(input);
      }),
      cancel: fromPromise<unknown, CloseInput>(async ({ input }) => {
        calls.cancel.push(input);
        if (opts.cancel) await opts.cancel(input);
      }),
      finish: fromPromise<unknown, CloseInput>(async ({ input }) => {
        calls.finish.push(input);
      }),
    },
  });
  const actor = createActor(machine, {
    input: {
      id: 'tx-1',
      service: opts.service ?? 'pay',
      limits: opts.limits ?? LIMITS,
      timeouts: opts.timeouts ?? SLOW,
      offline: opts.offline,
      denominations: NOTES,
      coins: opts.coins,
      change: opts.change,
      receipt: opts.receipt,
    },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  live.push(actor);
  actor.start();
  const reach = (state: string) => waitFor(actor, (s) => s.matches(state as never), WAIT);
  const done = async () => (await waitFor(actor, isFinished, WAIT)).output!;
  return { actor, calls, seen: validator.seen, reach, done };
}

async function atCash(opts: Options = {}) {
  const run = start(opts);
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  await run.reach('review');
  run.actor.send({ type: 'CONFIRM' });
  await run.reach('cash');
  return run;
}

t.test('exact payment: validator narrowed after each note, settled as paid, then switched off', async (t) => {
  const run = await atCash();
  t.same(run.seen.inputs, [[100, 500, 1000, 2000, 5000]], 'due 30.00, overpay limit 20.00: notes up to 50.00');
  t.same(run.seen.coinInputs, [[]], 'no coin acceptor: no coins enabled');
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  t.ok(run.actor.getSnapshot().matches('cash'));
  t.same(run.seen.updates, [[100, 500, 1000, 2000]], 'after 20.00, at most 10.00 + 20.00 overpay');
  t.same(run.seen.coinUpdates, [[]]);
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3000, changePaid: 0, changeOwed: 0 });
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 3000, changeDue: 0 }]);
  t.same(run.actor.getSnapshot().context.notes, [2000, 1000]);
  t.equal(run.seen.starts, 1, 'the validator was enabled once, not re-enabled per note');
  t.equal(run.seen.stops, 1, 'cleanup ran when cash was left');
  t.equal(run.seen.enabled, null);
  t.same(run.calls.order, ['settle'], 'no change to pay and no printer: settling is the last effect');
});

t.test('overpayment within the limit is taken and settled', async (t) => {
  const run = await atCash();
  run.actor.send({ type: 'NOTE_CREDITED', value: 5000 });
  const out = await run.done();
  t.equal(out.endReason, 'paid');
  t.equal(out.credited, 5000);
});

t.test('cancel before any money: cancelled, nothing settled', async (t) => {
  for (const where of ['number', 'lookup', 'review', 'cash'] as const) {
    const pending = new Promise<LookupResult>(() => {});
    const run = start(where === 'lookup' ? { lookup: () => pending } : {});
    if (where !== 'number') run.actor.send({ type: 'NUMBER', phone: PHONE });
    if (where === 'review' || where === 'cash') await run.reach('review');
    if (where === 'cash') {
      run.actor.send({ type: 'CONFIRM' });
      await run.reach('cash');
    }
    t.ok(run.actor.getSnapshot().matches(where), `in ${where}`);
    run.actor.send({ type: 'CANCEL' });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'cancelled', endReason: 'customer-cancel', credited: 0, changePaid: 0, changeOwed: 0 }, where);
    t.same(run.calls.cancel, [{ id: 'tx-1', endReason: 'customer-cancel' }]);
    t.same(run.calls.settle, []);
    t.equal(run.seen.stops, run.seen.starts, `validator off after cancel in ${where}`);
  }
});

t.test('cancel after money went in: settled as partial, money kept', async (t) => {
  const run = await atCash();
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  run.actor.send({ type: 'CANCEL' });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'customer-cancel-partial', credited: 1000, changePaid: 0, changeOwed: 0 });
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'customer-cancel-partial', credited: 1000, changeDue: 0 }]);
  t.same(run.calls.cancel, []);
  t.equal(run.seen.stops, 1);
});

t.test('inactivity timeouts', async (t) => {
  t.test('on the number screen', async (t) => {
    const run = start({ timeouts: QUICK });
    t.same(await run.done(), { id: 'tx-1', status: 'cancelled', endReason: 'timeout', credited: 0, changePaid: 0, changeOwed: 0 });
  });
  t.test('on review for a payment', async (t) => {
    const run = start({ timeouts: { ...SLOW, inputMs: 30 } });
    run.actor.send({ type: 'NUMBER', phone: PHONE });
    const out = await run.done();
    t.equal(out.endReason, 'timeout');
    t.equal(out.status, 'cancelled');
    t.same(run.calls.lookup, [PHONE], 'it got as far as the look-up');
  });
  t.test('in cash with nothing inserted', async (t) => {
    const run = await atCash({ timeouts: { ...SLOW, cashMs: 30 } });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'cancelled', endReason: 'timeout', credited: 0, changePaid: 0, changeOwed: 0 });
    t.equal(run.seen.stops, 1);
  });
  t.test('in cash with money inserted', async (t) => {
    const run = await atCash({ timeouts: { ...SLOW, cashMs: 30 } });
    run.actor.send({ type: 'NOTE_CREDITED', value: 500 });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason: 'timeout-partial', credited: 500, changePaid: 0, changeOwed: 0 });
    t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'timeout-partial', credited: 500, changeDue: 0 }]);
  });
  t.test('the server not answering the look-up', async (t) => {
    const run = start({ timeouts: { ...SLOW, lookupMs: 30 }, lookup: () => new Promise(() => {}) });
    run.actor.send({ type: 'NUMBER', phone: PHONE });
    const snap = await run.reach('lookupFailed');
    t.equal(snap.context.error, 'lookup-timeout');
  });
  t.test('on the look-up failure screen', async (t) => {
    const run = start({ timeouts: { ...SLOW, inputMs: 30 }, lookup: () => Promise.reject(new Error('down')) });
    run.actor.send({ type: 'NUMBER', phone: PHONE });
    const out = await run.done();
    t.equal(out.endReason, 'timeout');
    t.equal(out.status, 'cancelled');
  });
});

t.test('activity and credited notes restart the inactivity timer (simulated clock)', async (t) => {
  const clock = new SimulatedClock();
  const run = start({ clock, timeouts: { inputMs: 100, lookupMs: 100, cashMs: 100 } });
  clock.increment(80);
  run.actor.send({ type: 'ACTIVITY' });
  clock.increment(80);
  t.ok(run.actor.getSnapshot().matches('number'), 'still waiting 160 ms in, thanks to the touch');
  run.actor.send({ type: 'NUMBER', phone: '123' });
  clock.increment(80);
  t.ok(run.actor.getSnapshot().matches('number'), 'a wrong number also counts as activity');
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  await run.reach('review');
  run.actor.send({ type: 'CONFIRM' });
  await run.reach('cash');
  clock.increment(80);
  run.actor.send({ type: 'NOTE_CREDITED', value: 500 });
  clock.increment(80);
  run.actor.send({ type: 'ACTIVITY' });
  clock.increment(80);
  t.ok(run.actor.getSnapshot().matches('cash'), 'still in cash 240 ms in');
  t.equal(run.seen.starts, 1, 'restarting the timer left the validator enabled');
  t.equal(run.seen.stops, 0);
  clock.increment(100);
  const out = await run.done();
  t.equal(out.endReason, 'timeout-partial');
  t.equal(out.credited, 500);
});

t.test('look-up failure, then an offline top-up into the account', async (t) => {
  const run = start({ lookup: () => Promise.reject(new Error('link down')) });
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  const failed = await run.reach('lookupFailed');
  t.equal(failed.context.error, 'link down');
  run.actor.send({ type: 'TOPUP_OFFLINE' });
  const cash = await run.reach('cash');
  t.equal(cash.context.service, 'topup');
  t.equal(cash.context.offline, true);
  t.equal(cash.context.amountDue, null);
  t.same(run.seen.inputs, [[100, 500, 1000, 2000, 5000, 10000]]);
  run.actor.send({ type: 'DONE' });
  t.ok(run.actor.getSnapshot().matches('cash'), 'DONE with nothing inserted does not settle');
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  run.actor.send({ type: 'DONE' });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'topped-up', credited: 2000, changePaid: 0, changeOwed: 0 });
  t.equal(run.seen.stops, 1);
});

t.test('an offline top-up skips the look-up', async (t) => {
  const run = start({ service: 'topup', offline: true });
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  const snap = await run.reach('cash');
  t.equal(snap.context.phone, PHONE);
  t.same(run.calls.lookup, []);
});

t.test('only a top-up skips the look-up when offline', async (t) => {
  const run = start({ service: 'pay', offline: true });
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  await run.reach('review');
  t.same(run.calls.lookup, [PHONE], 'a payment needs the amount due from the server');
});

t.test('an online top-up shows the account, then takes cash until the cap', async (t) => {
  const run = start({ service: 'topup', limits: { ...LIMITS, maxTopup: 4000 } });
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  t.equal((await run.reach('review')).context.holder, 'Zhang');
  run.actor.send({ type: 'CONFIRM' });
  await run.reach('cash');
  t.same(run.seen.inputs, [[100, 500, 1000, 2000]], 'nothing above the top-up cap');
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  t.ok(run.actor.getSnapshot().matches('cash'));
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'topped-up', credited: 4000, changePaid: 0, changeOwed: 0 }, 'not even 1.00 more fits');
});

t.test('a look-up-only transaction never takes money', async (t) => {
  for (const ending of ['DONE', 'CANCEL', 'CONFIRM'] as const) {
    const run = start({ service: 'lookup', timeouts: ending === 'CONFIRM' ? { ...SLOW, inputMs: 30 } : SLOW });
    run.actor.send({ type: 'NUMBER', phone: PHONE });
    await run.reach('review');
    run.actor.send({ type: ending });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason: 'looked-up', credited: 0, changePaid: 0, changeOwed: 0 }, ending);
    t.same(run.calls.finish, [{ id: 'tx-1', endReason: 'looked-up' }]);
    t.equal(run.seen.starts, 0, 'the validator was never enabled');
  }
  const failed = start({ service: 'lookup', lookup: () => Promise.reject(new Error('down')) });
  failed.actor.send({ type: 'NUMBER', phone: PHONE });
  await failed.reach('lookupFailed');
  failed.actor.send({ type: 'TOPUP_OFFLINE' });
  t.ok(failed.actor.getSnapshot().matches('lookupFailed'), 'no offline top-up from a look-up-only session');
});

t.test('the validator becoming unavailable', async (t) => {
  const empty = await atCash();
  empty.actor.send({ type: 'CASH_UNAVAILABLE', reason: 'jam' });
  const a = await empty.done();
  t.same(a, { id: 'tx-1', status: 'cancelled', endReason: 'device-fault', credited: 0, changePaid: 0, changeOwed: 0 });
  t.equal(empty.actor.getSnapshot().context.error, 'jam');

  const some = await atCash();
  some.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  some.actor.send({ type: 'CASH_UNAVAILABLE', reason: 'offline' });
  const b = await some.done();
  t.same(b, { id: 'tx-1', status: 'completed', endReason: 'device-fault-partial', credited: 1000, changePaid: 0, changeOwed: 0 });
  t.equal(some.seen.stops, 1);
});

t.test('the journal failing to settle or cancel ends in settle-failed', async (t) => {
  const settle = await atCash({ settle: () => Promise.reject(new Error('disk full')) });
  settle.actor.send({ type: 'NOTE_CREDITED', value: 5000 });
  const a = await settle.done();
  t.same(a, { id: 'tx-1', status: 'settle-failed', endReason: 'paid', credited: 5000, changePaid: 0, changeOwed: 0 });
  t.equal(settle.actor.getSnapshot().context.error, 'disk full');

  const cancel = start({ cancel: () => Promise.reject(new Error('disk full')) });
  cancel.actor.send({ type: 'CANCEL' });
  const b = await cancel.done();
  t.equal(b.status, 'settle-failed');
  t.equal(b.endReason, 'customer-cancel');
});

t.test('phone numbers must be 11 digits starting with 1', async (t) => {
  const run = start();
  for (const bad of ['', '1380013800', '138001380001', '23800138000', '1380013800a', ' 13800138000']) {
    run.actor.send({ type: 'NUMBER', phone: bad });
    const snap = run.actor.getSnapshot();
    t.ok(snap.matches('number'), `rejected ${JSON.stringify(bad)}`);
    t.equal(snap.context.error, 'bad-number');
    t.equal(snap.context.phone, null);
  }
  t.same(run.calls.lookup, []);
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  const snap = await run.reach('review');
  t.equal(snap.context.error, null);
  t.equal(snap.context.phone, PHONE);
});

t.test('nothing due: CONFIRM stays on review', async (t) => {
  const run = start({ lookup: async () => ({ amountDue: 0 }) });
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  await run.reach('review');
  run.actor.send({ type: 'CONFIRM' });
  const snap = run.actor.getSnapshot();
  t.ok(snap.matches('review'));
  t.equal(snap.context.error, 'nothing-due');
  t.equal(run.seen.starts, 0);
});

t.test('a look-up answer that is not whole fen is a failure', async (t) => {
  for (const amountDue of [-1, 12.5, Number.NaN]) {
    const run = start({ lookup: async () => ({ amountDue }) });
    run.actor.send({ type: 'NUMBER', phone: PHONE });
    const snap = await run.reach('lookupFailed');
    t.equal(snap.context.error, 'bad-amount', String(amountDue));
    t.equal(snap.context.amountDue, null);
  }
});

t.test('a note or coin credited after cash closed still shows in the output', async (t) => {
  for (const [type, value] of [['NOTE_CREDITED', 1000], ['COIN_CREDITED', 100]] as const) {
    let release!: () => void;
    const run = await atCash({ coins: [10, 50, 100], cancel: () => new Promise<void>((r) => (release = r)) });
    run.actor.send({ type: 'CANCEL' });
    await run.reach('cancelling');
    run.actor.send({ type, value });
    release();
    const out = await run.done();
    t.equal(out.status, 'cancelled', type);
    t.equal(out.credited, value, `${type}: the runtime can see money arrived and must not call it a plain cancel`);
  }
});

t.test('isAcceptingCash follows the state', async (t) => {
  const run = start();
  const states: [string, boolean][] = [];
  const note = (s: TransactionSnapshot) => states.push([JSON.stringify(s.value), isAcceptingCash(s)]);
  note(run.actor.getSnapshot());
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  note(await run.reach('review'));
  run.actor.send({ type: 'CONFIRM' });
  note(await run.reach('cash'));
  run.actor.send({ type: 'NOTE_CREDITED', value: 5000 });
  note(await waitFor(run.actor, isFinished, WAIT));
  t.same(states, [
    ['"number"', false],
    ['"review"', false],
    ['{"cash":"idle"}', true],
    ['"completed"', false],
  ]);
});

// Coins, change and receipts. CNY coins are 0.10, 0.50 and 1.00; hoppers are named for their coin.
const COINS = [10, 50, 100];
const hopper = (coinValue: number, available: number): HopperSupply => ({ name: `h${coinValue}`, coinValue, available });
const due = (amountDue: number) => async (): Promise<LookupResult> => ({ amountDue });
/** The design's money invariant for a finished transaction: cash in = account credit + change paid + change owed. */
function balances(out: { credited: number; changePaid: number; changeOwed: number }, accountCredit: number): boolean {
  return out.credited === accountCredit + out.changePaid + out.changeOwed;
}

t.test('coins alone complete a payment; only the coins that fit stay enabled', async (t) => {
  const run = await atCash({ lookup: due(250), coins: COINS, limits: { ...LIMITS, maxOverpay: 0 } });
  t.same(run.seen.inputs, [[100]], 'exact payments only: the 1.00 note is the only one that fits');
  t.same(run.seen.coinInputs, [[10, 50, 100]]);
  run.actor.send({ type: 'COIN_CREDITED', value: 100 });
  run.actor.send({ type: 'COIN_CREDITED', value: 100 });
  t.ok(run.actor.getSnapshot().matches('cash'));
  t.same(run.seen.updates, [[100], []], 'after 2.00 of 2.50 no note fits');
  t.same(run.seen.coinUpdates, [[10, 50, 100], [10, 50]], 'after 2.00, a 1.00 coin would overpay');
  run.actor.send({ type: 'COIN_CREDITED', value: 50 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 250, changePaid: 0, changeOwed: 0 });
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 250, changeDue: 0 }]);
  t.same(run.actor.getSnapshot().context.notes, [], 'coins are not recorded as notes');
  t.same(run.calls.payChange, []);
  t.equal(run.seen.starts, 1, 'enabled once for the whole payment');
  t.equal(run.seen.stops, 1);
  t.equal(run.seen.coinsEnabled, null, 'the coin acceptor was switched off with the validator');
});

t.test('coins and notes together pay, whichever completes it', async (t) => {
  const orders: [string, ('note' | 'coin')[], number[]][] = [
    ['a note completes', ['note', 'coin', 'note'], [2000, 50, 1000]],
    ['a coin completes', ['note', 'note', 'coin'], [2000, 1000, 50]],
  ];
  for (const [name, kinds, values] of orders) {
    const run = await atCash({ lookup: due(3050), coins: COINS });
    kinds.forEach((kind, i) => {
      t.ok(run.actor.getSnapshot().matches('cash'), `${name}: still taking cash before credit ${i + 1}`);
      run.actor.send({ type: kind === 'note' ? 'NOTE_CREDITED' : 'COIN_CREDITED', value: values[i]! });
    });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3050, changePaid: 0, changeOwed: 0 }, name);
    t.same(run.actor.getSnapshot().context.notes, [2000, 1000], name);
    t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 3050, changeDue: 0 }], name);
    t.equal(run.seen.updates.length, 2, `${name}: one ACCEPT update per credit that did not finish`);
  }
});

t.test('change in coins: settled with the change due, paid from the hoppers, then the receipt', async (t) => {
  let pay!: () => void;
  const run = await atCash({
    lookup: due(2950),
    coins: COINS,
    change: [hopper(100, 3), hopper(50, 1)],
    receipt: true,
    payChange: async ({ amount }) => {
      await new Promise<void>((r) => (pay = r));
      return { paid: amount, owed: 0 };
    },
  });
  t.same(run.seen.inputs, [[100, 500, 1000, 2000]], 'a 50.00 note would overpay past the limit');
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  t.same(run.seen.updates, [[100, 500, 1000]], '9.50 left: a 20.00 note needs 10.50 change, the hoppers hold 3.50');
  t.same(run.seen.coinUpdates, [[10, 50, 100]]);
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  const paying = await run.reach('payingChange');
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 3000, changeDue: 50 }]);
  t.same(run.calls.payChange, [{ id: 'tx-1', amount: 50 }]);
  t.equal(paying.context.changeOwed, 50, 'owed until the hoppers say otherwise');
  t.equal(paying.context.changePaid, 0);
  t.equal(run.seen.stops, 1, 'cash taking stopped before the payout');
  t.notOk(isAcceptingCash(paying));
  t.same(run.calls.printReceipt, [], 'no receipt before the change is out');
  pay();
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3000, changePaid: 50, changeOwed: 0 });
  t.same(run.calls.order, ['settle', 'payChange', 'printReceipt']);
  t.same(run.calls.printReceipt, [{ id: 'tx-1' }]);
  t.ok(balances(out, 2950), 'cash in = amount due + change paid + change owed');
});

t.test('a short payout still completes, with the rest owed', async (t) => {
  const run = await atCash({
    lookup: due(2850),
    change: [hopper(100, 5), hopper(50, 5)],
    receipt: true,
    payChange: async ({ amount }) => ({ paid: amount - 50, owed: 50 }),
  });
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3000, changePaid: 100, changeOwed: 50 });
  t.same(run.calls.payChange, [{ id: 'tx-1', amount: 150 }]);
  t.same(run.calls.order, ['settle', 'payChange', 'printReceipt'], 'the receipt carries the claim for what is owed');
  t.ok(balances(out, 2850));
});

t.test('the payout failing: completed, the whole change owed, the receipt still printed', async (t) => {
  const run = await atCash({
    lookup: due(2850),
    change: [hopper(100, 5), hopper(50, 5)],
    receipt: true,
    payChange: () => Promise.reject(new Error('hopper jammed')),
  });
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3000, changePaid: 0, changeOwed: 150 });
  t.equal(run.actor.getSnapshot().context.error, 'hopper jammed');
  t.same(run.calls.order, ['settle', 'payChange', 'printReceipt']);
  t.ok(balances(out, 2850));
});

t.test('a receipt that fails to print does not undo the payment', async (t) => {
  const cases: [string, HopperSupply[] | undefined, string[], number][] = [
    ['without change', undefined, ['settle', 'printReceipt'], 0],
    ['after change', [hopper(100, 5)], ['settle', 'payChange', 'printReceipt'], 100],
  ];
  for (const [name, change, order, changePaid] of cases) {
    const run = await atCash({
      lookup: due(2900),
      change,
      receipt: true,
      printReceipt: () => Promise.reject(new Error('paper-out')),
    });
    run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
    run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3000, changePaid, changeOwed: 0 }, name);
    const ctx = run.actor.getSnapshot().context;
    t.equal(ctx.receiptError, 'paper-out', name);
    t.equal(ctx.error, null, `${name}: a receipt failure is not a payment error`);
    t.same(run.calls.order, order, name);
  }
});

t.test('no usable printer: nothing printed, with or without change', async (t) => {
  for (const receipt of [false, undefined]) {
    for (const change of [undefined, [hopper(100, 5)]]) {
      const name = `receipt ${receipt}, ${change ? 'change' : 'no change'}`;
      const run = await atCash({ lookup: due(2900), change, receipt });
      run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
      run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
      const out = await run.done();
      t.equal(out.status, 'completed', name);
      t.same(run.calls.order, change ? ['settle', 'payChange'] : ['settle'], name);
      t.equal(run.actor.getSnapshot().context.receiptError, null, name);
    }
  }
});

t.test('a partial ending in coins mode pays no change', async (t) => {
  const endings = [
    ['CANCEL', 'customer-cancel-partial'],
    ['CASH_UNAVAILABLE', 'device-fault-partial'],
    ['timeout', 'timeout-partial'],
  ] as const;
  for (const [how, endReason] of endings) {
    const run = await atCash({
      coins: COINS,
      change: [hopper(100, 50), hopper(50, 50)],
      receipt: true,
      timeouts: how === 'timeout' ? { ...SLOW, cashMs: 30 } : SLOW,
    });
    run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
    run.actor.send({ type: 'COIN_CREDITED', value: 50 });
    if (how === 'CANCEL') run.actor.send({ type: 'CANCEL' });
    if (how === 'CASH_UNAVAILABLE') run.actor.send({ type: 'CASH_UNAVAILABLE', reason: 'jam' });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason, credited: 1050, changePaid: 0, changeOwed: 0 }, how);
    t.same(run.calls.settle, [{ id: 'tx-1', endReason, credited: 1050, changeDue: 0 }], how);
    t.same(run.calls.order, ['settle', 'printReceipt'], `${how}: no payout; the money taken is on the receipt`);
  }
});

t.test('a top-up never pays change', async (t) => {
  const change = [hopper(50, 1)];
  const online = start({ service: 'topup', coins: COINS, change, receipt: true });
  online.actor.send({ type: 'NUMBER', phone: PHONE });
  await online.reach('review');
  online.actor.send({ type: 'CONFIRM' });
  await online.reach('cash');
  t.same(online.seen.inputs, [NOTES], 'the hoppers do not limit what a top-up takes');
  t.same(online.seen.coinInputs, [COINS]);
  online.actor.send({ type: 'NOTE_CREDITED', value: 5000 });
  online.actor.send({ type: 'COIN_CREDITED', value: 50 });
  online.actor.send({ type: 'DONE' });
  const a = await online.done();
  t.same(a, { id: 'tx-1', status: 'completed', endReason: 'topped-up', credited: 5050, changePaid: 0, changeOwed: 0 });
  t.same(online.calls.settle, [{ id: 'tx-1', endReason: 'topped-up', credited: 5050, changeDue: 0 }]);
  t.same(online.calls.order, ['settle', 'printReceipt']);

  // A payment whose look-up failed becomes an offline top-up: its hoppers must not start paying.
  const fallback = start({ service: 'pay', change, lookup: () => Promise.reject(new Error('link down')) });
  fallback.actor.send({ type: 'NUMBER', phone: PHONE });
  await fallback.reach('lookupFailed');
  fallback.actor.send({ type: 'TOPUP_OFFLINE' });
  await fallback.reach('cash');
  fallback.actor.send({ type: 'NOTE_CREDITED', value: 10000 });
  fallback.actor.send({ type: 'DONE' });
  const b = await fallback.done();
  t.equal(b.endReason, 'topped-up');
  t.same(fallback.calls.settle, [{ id: 'tx-1', endReason: 'topped-up', credited: 10000, changeDue: 0 }]);
  t.same(fallback.calls.payChange, []);
});

t.test('no hoppers or only empty ones: the excess is credited to the account', async (t) => {
  for (const change of [[], [hopper(100, 0), hopper(50, 0)]]) {
    const name = change.length === 0 ? 'no hoppers' : 'empty hoppers';
    const run = await atCash({ lookup: due(2950), change });
    t.equal(run.actor.getSnapshot().context.change, null, name);
    run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
    t.same(run.seen.updates, [[100, 500, 1000, 2000]], `${name}: 10.50 over is allowed, it goes to the account`);
    run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3000, changePaid: 0, changeOwed: 0 }, name);
    t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 3000, changeDue: 0 }], name);
    t.same(run.calls.payChange, [], name);
  }
});

t.test('coins are enabled only when the hoppers can give their change', async (t) => {
  const run = await atCash({ lookup: due(2950), coins: COINS, change: [hopper(100, 5)] });
  for (const value of [2000, 500, 100, 100, 100, 100]) run.actor.send({ type: 'NOTE_CREDITED', value });
  t.ok(run.actor.getSnapshot().matches('cash'), '29.00 of 29.50');
  t.same(run.seen.updates.at(-1), [], 'a 1.00 note would need 0.50 change and there are only 1.00 coins');
  t.same(run.seen.coinUpdates.at(-1), [10, 50], 'same for a 1.00 coin');
  run.actor.send({ type: 'COIN_CREDITED', value: 50 });
  const out = await run.done();
  t.equal(out.credited, 2950);
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 2950, changeDue: 0 }]);
  t.same(run.calls.payChange, [], 'paid exactly: nothing to pay back');
});

t.test('settlement failing in coins mode pays no change and prints nothing', async (t) => {
  const run = await atCash({
    lookup: due(2950),
    change: [hopper(50, 5)],
    receipt: true,
    settle: () => Promise.reject(new Error('disk full')),
  });
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'settle-failed', endReason: 'paid', credited: 3000, changePaid: 0, changeOwed: 0 });
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 3000, changeDue: 50 }], 'recovery finds the change due in the journal');
  t.same(run.calls.order, ['settle']);
});

t.test('a top-up with coins ends by itself only when neither a note nor a coin fits', async (t) => {
  const run = start({ service: 'topup', offline: true, coins: COINS, limits: { ...LIMITS, maxTopup: 4000 } });
  run.actor.send({ type: 'NUMBER', phone: PHONE });
  await run.reach('cash');
  for (const value of [2000, 1000, 500]) run.actor.send({ type: 'NOTE_CREDITED', value });
  for (let i = 0; i < 4; i++) run.actor.send({ type: 'COIN_CREDITED', value: 100 });
  run.actor.send({ type: 'COIN_CREDITED', value: 50 });
  t.ok(run.actor.getSnapshot().matches('cash'), '39.50 of 40.00: no note fits, but a 0.50 coin does');
  t.same(run.seen.updates.at(-1), []);
  t.same(run.seen.coinUpdates.at(-1), [10, 50]);
  run.actor.send({ type: 'COIN_CREDITED', value: 50 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'topped-up', credited: 4000, changePaid: 0, changeOwed: 0 });
});

t.test('escrowDecision: table', async (t) => {
  const pay = (credited: number, amountDue: number | null): EscrowView => ({ service: 'pay', credited, amountDue });
  const topup = (credited: number): EscrowView => ({ service: 'topup', credited, amountDue: null });
  const cases: [string, EscrowView, number, boolean, 'stack' | 'return'][] = [
    ['not accepting', pay(0, 3000), 1000, false, 'return'],
    ['pay: fits', pay(0, 3000), 2000, true, 'stack'],
    ['pay: exact', pay(2000, 3000), 1000, true, 'stack'],
    ['pay: overpay at the limit', pay(0, 3000), 5000, true, 'stack'],
    ['pay: overpay past the limit', pay(0, 2999), 5000, true, 'return'],
    ['pay: already paid', pay(3000, 3000), 100, true, 'return'],
    ['pay: no amount known', pay(0, null), 100, true, 'return'],
    ['over the note limit', topup(0), 20000, true, 'return'],
    ['topup: fits', topup(0), 10000, true, 'stack'],
    ['topup: reaches the cap', topup(40000), 10000, true, 'stack'],
    ['topup: past the cap', topup(40001), 10000, true, 'return'],
    ['lookup never takes money', { service: 'lookup', credited: 0, amountDue: 3000 }, 100, true, 'return'],
    ['not whole fen', topup(0), 100.5, true, 'return'],
    ['zero', topup(0), 0, true, 'return'],
  ];
  for (const [name, ctx, value, accepting, want] of cases) {
    t.equal(escrowDecision(ctx, value, LIMITS, accepting), want, name);
  }
});

// Deterministic pseudo-random source so a failure reproduces.
function lcg(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

t.test('escrowDecision: properties over many cases', async (t) => {
  const rnd = lcg(20240601);
  const services: Service[] = ['pay', 'topup', 'lookup'];
  let stacked = 0;
  let failures = 0;
  for (let i = 0; i < 20000; i++) {
    const limits: TransactionLimits = {
      maxNote: NOTES[rnd(NOTES.length)]!,
      maxOverpay: rnd(6) * 1000,
      maxTopup: (1 + rnd(60)) * 1000,
    };
    const service = services[rnd(3)]!;
    const amountDue = service === 'pay' ? rnd(30000) : null;
    const credited = rnd(4) === 0 ? 0 : rnd(40000);
    const value = NOTES[rnd(NOTES.length)]!;
    const accepting = rnd(5) !== 0;
    const got = escrowDecision({ service, credited, amountDue }, value, limits, accepting);
    const allowed =
      accepting &&
      value <= limits.maxNote &&
      (service === 'pay'
        ? credited < amountDue! && credited + value - amountDue! <= limits.maxOverpay
        : service === 'topup' && credited + value <= limits.maxTopup);
    if ((got === 'stack') !== allowed) failures += 1;
    if (got === 'stack') {
      stacked += 1;
      const after = credited + value;
      if (service === 'pay' && after - amountDue! > limits.maxOverpay) failures += 1;
      if (service === 'topup' && after > limits.maxTopup) failures += 1;
    }
  }
  t.equal(failures, 0, 'every decision matches the rule and never breaks a limit');
  t.ok(stacked > 1000 && stacked < 19000, 'the cases exercise both outcomes');
});

t.test('acceptableNotes is exactly what escrowDecision would stack', async (t) => {
  t.same(acceptableNotes({ service: 'pay', credited: 0, amountDue: 3000 }, LIMITS, NOTES), [100, 500, 1000, 2000, 5000]);
  t.same(acceptableNotes({ service: 'pay', credited: 3000, amountDue: 3000 }, LIMITS, NOTES), []);
  t.same(acceptableNotes({ service: 'topup', credited: 49500, amountDue: null }, LIMITS, NOTES), [100, 500]);
  t.same(acceptableNotes({ service: 'topup', credited: 0, amountDue: null }, LIMITS, [10000, 100, 100, 500]), [100, 500, 10000], 'sorted, no repeats');
  t.same(acceptableNotes({ service: 'lookup', credited: 0, amountDue: 0 }, LIMITS, NOTES), []);
  const rnd = lcg(7);
  for (let i = 0; i < 500; i++) {
    const ctx: EscrowView = { service: 'pay', credited: rnd(10000), amountDue: rnd(20000) };
    const want = NOTES.filter((v) => escrowDecision(ctx, v, LIMITS, true) === 'stack');
    t.same(acceptableNotes(ctx, LIMITS, NOTES), want);
  }
});

t.test('escrowDecision with hoppers: a payment only takes an excess it can give back', async (t) => {
  const pay = (credited: number, amountDue: number, change: HopperSupply[] | null): EscrowView => ({
    service: 'pay',
    credited,
    amountDue,
    change,
  });
  const cases: [string, EscrowView, number, 'stack' | 'return'][] = [
    ['change the hoppers can make', pay(2000, 2950, [hopper(50, 1)]), 1000, 'stack'],
    ['change they cannot make: no 0.50 coins', pay(2000, 2950, [hopper(100, 5)]), 1000, 'return'],
    ['change they cannot make: not enough coins', pay(2000, 2950, [hopper(100, 3), hopper(50, 1)]), 2000, 'return'],
    ['change from two hoppers', pay(0, 2940, [hopper(50, 1), hopper(10, 1)]), 3000, 'stack'],
    ['exact amount needs no hopper', pay(2000, 3000, [hopper(100, 0)]), 1000, 'stack'],
    ['under the amount needs no hopper', pay(0, 3000, [hopper(100, 0)]), 2000, 'stack'],
    ['no hoppers: excess credited', pay(2000, 2950, null), 2000, 'stack'],
    ['payable but past the overpay limit', pay(0, 2999, [hopper(100, 100), hopper(10, 100)]), 5000, 'return'],
    ['already paid', pay(2950, 2950, [hopper(100, 100)]), 100, 'return'],
  ];
  for (const [name, ctx, value, want] of cases) {
    t.equal(escrowDecision(ctx, value, LIMITS, true), want, name);
  }
  const topup: EscrowView = { service: 'topup', credited: 0, amountDue: null, change: [hopper(50, 0)] };
  t.equal(escrowDecision(topup, 10000, LIMITS, true), 'stack', 'a top-up ignores the hoppers');
  t.equal(escrowDecision(pay(0, 2950, [hopper(50, 9)]), 1000, LIMITS, false), 'return', 'not accepting');
});

/** Whether the hoppers can pay `amount` exactly, by trying every combination of coins. */
function payable(amount: number, hoppers: readonly HopperSupply[]): boolean {
  const reach = (i: number, left: number): boolean => {
    if (left === 0) return true;
    if (i === hoppers.length) return false;
    const h = hoppers[i]!;
    for (let k = 0; k <= h.available && k * h.coinValue <= left; k++) if (reach(i + 1, left - k * h.coinValue)) return true;
    return false;
  };
  return reach(0, amount);
}

t.test('escrowDecision with hoppers: properties against brute force', async (t) => {
  const rnd = lcg(20250311);
  let stacked = 0;
  let stackedWithChange = 0;
  let refusedForChange = 0;
  let failures = 0;
  for (let i = 0; i < 5000; i++) {
    const change = Array.from({ length: 1 + rnd(3) }, () => hopper(COINS[rnd(COINS.length)]!, rnd(12)));
    const amountDue = 10 * rnd(3000);
    // Mostly close below the amount due, where change comes into play.
    const credited = rnd(4) === 0 ? 10 * rnd(3000) : Math.max(0, amountDue - 10 * (1 + rnd(300)));
    const value = rnd(2) === 0 ? NOTES[rnd(NOTES.length)]! : COINS[rnd(COINS.length)]!;
    const got = escrowDecision({ service: 'pay', credited, amountDue, change }, value, LIMITS, true);
    const excess = credited + value - amountDue;
    const withinLimits = credited < amountDue && excess <= LIMITS.maxOverpay;
    const allowed = withinLimits && (excess <= 0 || payable(excess, change));
    if ((got === 'stack') !== allowed) failures += 1;
    if (got === 'stack') stacked += 1;
    if (got === 'stack' && excess > 0) stackedWithChange += 1;
    if (withinLimits && !allowed) refusedForChange += 1;
  }
  t.equal(failures, 0, 'stacked exactly when within the limits and the change can be made');
  t.ok(stacked > 500 && stackedWithChange > 100, 'the cases often stack, also with change to give');
  t.ok(refusedForChange > 100, 'and are often refused only for want of change');
});

t.test('acceptableNotes for coins', async (t) => {
  const view = (credited: number, amountDue: number | null, change: HopperSupply[] | null, service: Service = 'pay'): EscrowView => ({
    service,
    credited,
    amountDue,
    change,
  });
  t.same(acceptableNotes(view(0, 2950, null), LIMITS, COINS), [10, 50, 100]);
  t.same(acceptableNotes(view(2900, 2950, [hopper(100, 5)]), LIMITS, COINS), [10, 50], 'a 1.00 coin would need 0.50 back');
  t.same(acceptableNotes(view(2900, 2950, [hopper(100, 5), hopper(50, 1)]), LIMITS, COINS), [10, 50, 100]);
  t.same(acceptableNotes(view(2900, 2950, null), LIMITS, COINS), [10, 50, 100], 'without hoppers the excess is credited');
  t.same(acceptableNotes(view(2900, 2950, null), { ...LIMITS, maxOverpay: 0 }, COINS), [10, 50]);
  t.same(acceptableNotes(view(2950, 2950, null), LIMITS, COINS), [], 'paid');
  t.same(acceptableNotes(view(49950, null, null, 'topup'), LIMITS, COINS), [10, 50], 'under the top-up cap');
  t.same(acceptableNotes(view(0, 0, null, 'lookup'), LIMITS, COINS), []);
  t.same(acceptableNotes(view(0, 2950, null), LIMITS, [100, 10, 50, 10]), [10, 50, 100], 'sorted, no repeats');
});

t.test('without real actors the machine refuses to take money', async (t) => {
  const actor = createActor(transactionMachine, {
    input: { id: 'tx-2', service: 'topup', offline: true, limits: LIMITS, timeouts: SLOW },
  });
  live.push(actor);
  actor.start();
  actor.send({ type: 'NUMBER', phone: PHONE });
  const snap = await waitFor(actor, isFinished, WAIT);
  t.equal(snap.output?.endReason, 'device-fault');
  t.equal(snap.output?.status, 'settle-failed', 'the default cancel actor fails too, leaving it to recovery');
});
