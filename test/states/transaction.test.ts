import t from 'tap';
import { createActor, fromCallback, fromPromise, SimulatedClock, waitFor } from 'xstate';
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

/** A validator stand-in that remembers what it was enabled for and whether it was switched off. */
function fakeValidator() {
  const seen = { starts: 0, stops: 0, enabled: null as number[] | null, inputs: [] as number[][], updates: [] as number[][] };
  const logic = fromCallback<AcceptCashUpdate, AcceptCashInput>(({ input, receive }) => {
    seen.starts += 1;
    seen.enabled = input.accept;
    seen.inputs.push(input.accept);
    receive((update) => {
      seen.updates.push(update.accept);
      seen.enabled = update.accept;
    });
    return () => {
      seen.stops += 1;
      seen.enabled = null;
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
  clock?: SimulatedClock;
}

function start(opts: Options = {}) {
  const calls = { lookup: [] as string[], settle: [] as SettleInput[], cancel: [] as CloseInput[], finish: [] as CloseInput[] };
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
        if (opts.settle) await opts.settle(input);
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
  run.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  t.ok(run.actor.getSnapshot().matches('cash'));
  t.same(run.seen.updates, [[100, 500, 1000, 2000]], 'after 20.00, at most 10.00 + 20.00 overpay');
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  const out = await run.done();
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'paid', credited: 3000 });
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'paid', credited: 3000 }]);
  t.same(run.actor.getSnapshot().context.notes, [2000, 1000]);
  t.equal(run.seen.starts, 1, 'the validator was enabled once, not re-enabled per note');
  t.equal(run.seen.stops, 1, 'cleanup ran when cash was left');
  t.equal(run.seen.enabled, null);
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
    t.same(out, { id: 'tx-1', status: 'cancelled', endReason: 'customer-cancel', credited: 0 }, where);
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
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'customer-cancel-partial', credited: 1000 });
  t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'customer-cancel-partial', credited: 1000 }]);
  t.same(run.calls.cancel, []);
  t.equal(run.seen.stops, 1);
});

t.test('inactivity timeouts', async (t) => {
  t.test('on the number screen', async (t) => {
    const run = start({ timeouts: QUICK });
    t.same(await run.done(), { id: 'tx-1', status: 'cancelled', endReason: 'timeout', credited: 0 });
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
    t.same(out, { id: 'tx-1', status: 'cancelled', endReason: 'timeout', credited: 0 });
    t.equal(run.seen.stops, 1);
  });
  t.test('in cash with money inserted', async (t) => {
    const run = await atCash({ timeouts: { ...SLOW, cashMs: 30 } });
    run.actor.send({ type: 'NOTE_CREDITED', value: 500 });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason: 'timeout-partial', credited: 500 });
    t.same(run.calls.settle, [{ id: 'tx-1', endReason: 'timeout-partial', credited: 500 }]);
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
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'topped-up', credited: 2000 });
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
  t.same(out, { id: 'tx-1', status: 'completed', endReason: 'topped-up', credited: 4000 }, 'not even 1.00 more fits');
});

t.test('a look-up-only transaction never takes money', async (t) => {
  for (const ending of ['DONE', 'CANCEL', 'CONFIRM'] as const) {
    const run = start({ service: 'lookup', timeouts: ending === 'CONFIRM' ? { ...SLOW, inputMs: 30 } : SLOW });
    run.actor.send({ type: 'NUMBER', phone: PHONE });
    await run.reach('review');
    run.actor.send({ type: ending });
    const out = await run.done();
    t.same(out, { id: 'tx-1', status: 'completed', endReason: 'looked-up', credited: 0 }, ending);
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
  t.same(a, { id: 'tx-1', status: 'cancelled', endReason: 'device-fault', credited: 0 });
  t.equal(empty.actor.getSnapshot().context.error, 'jam');

  const some = await atCash();
  some.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  some.actor.send({ type: 'CASH_UNAVAILABLE', reason: 'offline' });
  const b = await some.done();
  t.same(b, { id: 'tx-1', status: 'completed', endReason: 'device-fault-partial', credited: 1000 });
  t.equal(some.seen.stops, 1);
});

t.test('the journal failing to settle or cancel ends in settle-failed', async (t) => {
  const settle = await atCash({ settle: () => Promise.reject(new Error('disk full')) });
  settle.actor.send({ type: 'NOTE_CREDITED', value: 5000 });
  const a = await settle.done();
  t.same(a, { id: 'tx-1', status: 'settle-failed', endReason: 'paid', credited: 5000 });
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

t.test('a note credited after cash closed still shows in the output', async (t) => {
  let release!: () => void;
  const run = await atCash({ cancel: () => new Promise<void>((r) => (release = r)) });
  run.actor.send({ type: 'CANCEL' });
  await run.reach('cancelling');
  run.actor.send({ type: 'NOTE_CREDITED', value: 1000 });
  release();
  const out = await run.done();
  t.equal(out.status, 'cancelled');
  t.equal(out.credited, 1000, 'the runtime can see money arrived and must not call it a plain cancel');
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
