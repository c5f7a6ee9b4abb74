import t from 'tap';
import { createActor, fromCallback, fromPromise, waitFor } from 'xstate';
import {
  transactionMachine,
  type AcceptCashInput,
  type AcceptCashUpdate,
  type CloseInput,
  type LookupResult,
  type MobileMode,
  type MobileProgress,
  type MobileResult,
  type QueryMobileInput,
  type QueryMobileOutput,
  type RevokeMobileInput,
  type RevokeMobileOutput,
  type SettleInput,
  type StartMobileInput,
  type StopMobile,
  type TransactionSnapshot,
  type TransactionTimeouts,
} from '../../states/transaction.js';

const LIMITS = { maxNote: 10000, maxOverpay: 2000, maxTopup: 50000 };
const SLOW: TransactionTimeouts = { inputMs: 60_000, lookupMs: 60_000, cashMs: 60_000, mobileQueryIntervalMs: 60_000, mobileQueryLimitMs: 60_000 };
const WAIT = { timeout: 5000 };

const live: { stop(): unknown }[] = [];
t.afterEach(() => {
  for (const a of live.splice(0)) a.stop();
});

interface Opts {
  mobile?: readonly MobileMode[];
  timeouts?: TransactionTimeouts;
  /** What each query answers, in turn; the last one repeats. */
  queries?: QueryMobileOutput[];
  revoke?: RevokeMobileOutput;
}

/** The machine with fake actors: the test plays the startMobile actor's reports. */
function start(opts: Opts = {}) {
  const calls = {
    settle: [] as SettleInput[],
    cancel: [] as CloseInput[],
    cashStarts: 0,
    starts: [] as StartMobileInput[],
    stops: 0,
    cleanups: 0,
    queries: [] as QueryMobileInput[],
    revokes: [] as RevokeMobileInput[],
  };
  let send: ((e: MobileProgress | MobileResult) => void) | undefined;
  const answers = opts.queries ?? [{ outcome: 'confirming' }];
  const machine = transactionMachine.provide({
    actors: {
      lookup: fromPromise<LookupResult, { phone: string }>(async () => ({ amountDue: 3000 })),
      acceptCash: fromCallback<AcceptCashUpdate, AcceptCashInput>(() => {
        calls.cashStarts += 1;
      }),
      startMobile: fromCallback<StopMobile, StartMobileInput>(({ input, sendBack, receive }) => {
        calls.starts.push(input);
        send = sendBack;
        receive(() => (calls.stops += 1));
        return () => {
          calls.cleanups += 1;
        };
      }),
      queryMobile: fromPromise<QueryMobileOutput, QueryMobileInput>(async ({ input }) => {
        calls.queries.push(input);
        return answers[Math.min(calls.queries.length - 1, answers.length - 1)]!;
      }),
      revokeMobile: fromPromise<RevokeMobileOutput, RevokeMobileInput>(async ({ input }) => {
        calls.revokes.push(input);
        return opts.revoke ?? { outcome: 'revoked' };
      }),
      settle: fromPromise<unknown, SettleInput>(async ({ input }) => {
        calls.settle.push(input);
      }),
      cancel: fromPromise<unknown, CloseInput>(async ({ input }) => {
        calls.cancel.push(input);
      }),
      finish: fromPromise<unknown, CloseInput>(async () => undefined),
      printReceipt: fromPromise<unknown, { id: string }>(async () => undefined),
    },
  });
  const actor = createActor(machine, {
    input: { id: 'tx-m', service: 'pay', limits: LIMITS, timeouts: opts.timeouts ?? SLOW, mobile: opts.mobile ?? ['code', 'qr'] },
  });
  live.push(actor);
  actor.start();
  const reach = (test: (s: TransactionSnapshot) => boolean) => waitFor(actor, test, WAIT);
  const toMobile = async (mode: MobileMode = 'code') => {
    actor.send({ type: 'NUMBER', phone: '13800138000' });
    await reach((s) => s.matches('review'));
    actor.send({ type: 'MOBILE', mode });
    await reach((s) => s.matches('mobile'));
  };
  const sent = async () => {
    send?.({ type: 'MOBILE_PROGRESS', stage: 'requesting', paymentId: 'P1', maskedCode: '13************1234' });
    await reach((s) => s.matches({ mobile: 'requesting' }));
  };
  return { actor, calls, reach, toMobile, sent, send: (e: MobileProgress | MobileResult) => send?.(e) };
}

t.test('paid at once: the wallet pays exactly the amount due and the payment settles', async (t) => {
  const m = start();
  await m.toMobile();
  t.equal(m.actor.getSnapshot().context.mobileStage, 'show-code');
  t.same(m.calls.starts, [{ id: 'tx-m', mode: 'code', amount: 3000 }]);
  await m.sent();
  t.match(m.actor.getSnapshot().context, { paymentId: 'P1', maskedCode: '13************1234', mobileStage: 'requesting' });
  m.send({ type: 'MOBILE_RESULT', outcome: 'paid' });
  const done = await m.reach((s) => s.status === 'done');
  t.match(done.output, { status: 'completed', endReason: 'paid', mobileIn: 3000, credited: 0 });
  t.same(m.calls.settle, [{ id: 'tx-m', endReason: 'paid', credited: 0, changeDue: 0 }]);
  t.equal(m.calls.cashStarts, 0, 'the validator was never opened');
  t.equal(m.calls.cleanups, 1, 'the scanner actor was let go');
  t.same(m.calls.queries, [], 'nothing to ask');
});

t.test('failed: back to the review with the reason; the customer may then pay cash', async (t) => {
  const m = start();
  await m.toMobile();
  await m.sent();
  m.send({ type: 'MOBILE_RESULT', outcome: 'failed', reason: 'insufficient-balance' });
  const back = await m.reach((s) => s.matches('review'));
  t.match(back.context, { error: 'mobile-failed', mobileReason: 'insufficient-balance', mobileIn: 0, mobileStage: null });
  m.actor.send({ type: 'CONFIRM' });
  await m.reach((s) => s.matches('cash'));
  m.actor.send({ type: 'MOBILE', mode: 'code' });
  t.equal(m.actor.getSnapshot().context.error, 'mobile-not-after-cash');
});

t.test('confirming: the kiosk asks every interval until the gateway says paid', async (t) => {
  const m = start({
    timeouts: { ...SLOW, mobileQueryIntervalMs: 20, mobileQueryLimitMs: 5000 },
    queries: [{ outcome: 'confirming' }, { outcome: 'unknown' }, { outcome: 'paid' }],
  });
  await m.toMobile();
  await m.sent();
  m.send({ type: 'MOBILE_RESULT', outcome: 'confirming' });
  await m.reach((s) => s.matches({ mobile: 'confirming' }));
  t.equal(m.actor.getSnapshot().context.mobileStage, 'confirming');
  const done = await m.reach((s) => s.status === 'done');
  t.match(done.output, { status: 'completed', mobileIn: 3000 });
  t.same(m.calls.queries.map((q) => q.paymentId), ['P1', 'P1', 'P1']);
  t.same(m.calls.revokes, []);
});

t.test('confirming for ever: revoked at the limit, never paid; the queries spaced by the interval', async (t) => {
  const m = start({ timeouts: { ...SLOW, mobileQueryIntervalMs: 40, mobileQueryLimitMs: 300 } });
  await m.toMobile();
  await m.sent();
  m.send({ type: 'MOBILE_RESULT', outcome: 'confirming' });
  const done = await m.reach((s) => s.status === 'done');
  t.match(done.output, { status: 'cancelled', endReason: 'mobile-revoked' });
  t.notOk(done.output?.mobileIn);
  t.same(m.calls.revokes, [{ id: 'tx-m', paymentId: 'P1', reason: 'query-limit' }]);
  t.ok(m.calls.queries.length >= 2 && m.calls.queries.length <= 8, `${m.calls.queries.length} queries in 300 ms at 40 ms`);
  t.same(m.calls.cancel, [{ id: 'tx-m', endReason: 'mobile-revoked' }]);
});

t.test('a late "confirming" from the charge does not restart the query limit', async (t) => {
  const m = start({ timeouts: { ...SLOW, mobileQueryIntervalMs: 1000, mobileQueryLimitMs: 200, mobileChargeMs: 10 } });
  await m.toMobile();
  await m.sent();
  await m.reach((s) => s.matches({ mobile: 'confirming' }));
  const began = Date.now();
  const nag = setInterval(() => m.send({ type: 'MOBILE_RESULT', outcome: 'confirming' }), 30);
  t.teardown(() => clearInterval(nag));
  await m.reach((s) => s.status === 'done');
  clearInterval(nag);
  t.ok(Date.now() - began < 1500, 'revoked at the limit all the same');
  t.equal(m.calls.revokes.length, 1);
});

t.test('no answer to the charge: after the charge time-out the queries decide', async (t) => {
  const m = start({ timeouts: { ...SLOW, mobileChargeMs: 20, mobileQueryIntervalMs: 10 }, queries: [{ outcome: 'paid' }] });
  await m.toMobile();
  await m.sent();
  const done = await m.reach((s) => s.status === 'done');
  t.match(done.output, { status: 'completed', mobileIn: 3000 });
  t.equal(m.calls.queries.length, 1);
});

t.test('the customer leaves while confirming: revoked at once', async (t) => {
  const m = start();
  await m.toMobile();
  await m.sent();
  m.send({ type: 'MOBILE_RESULT', outcome: 'confirming' });
  await m.reach((s) => s.matches({ mobile: 'confirming' }));
  m.actor.send({ type: 'CANCEL' });
  const done = await m.reach((s) => s.status === 'done');
  t.match(done.output, { status: 'cancelled', endReason: 'mobile-revoked' });
  t.same(m.calls.revokes, [{ id: 'tx-m', paymentId: 'P1', reason: 'customer' }]);
});

t.test('the revoke finds the payment credited just before: the transaction settles, paid', async (t) => {
  const m = start({ revoke: { outcome: 'paid' } });
  await m.toMobile();
  await m.sent();
  m.send({ type: 'MOBILE_RESULT', outcome: 'confirming' });
  await m.reach((s) => s.matches({ mobile: 'confirming' }));
  m.actor.send({ type: 'CANCEL' });
  t.match((await m.reach((s) => s.status === 'done')).output, { status: 'completed', mobileIn: 3000 });
});

t.test('the query says "revoked" (decided before): never credited', async (t) => {
  const m = start({ timeouts: { ...SLOW, mobileQueryIntervalMs: 10 }, queries: [{ outcome: 'revoked' }], revoke: { outcome: 'revoked' } });
  await m.toMobile();
  await m.sent();
  m.send({ type: 'MOBILE_RESULT', outcome: 'unknown' });
  await m.reach((s) => s.matches({ mobile: 'confirming' }) && m.calls.queries.length >= 2);
  t.equal(m.actor.getSnapshot().context.mobileIn, 0, 'a revoked payment is only asked again, never credited');
});

t.test('no code shown: the scanner actor is stopped at the time-out and the customer is back at the review', async (t) => {
  const m = start({ timeouts: { ...SLOW, mobileScanMs: 30 } });
  await m.toMobile();
  await m.reach((s) => s.matches({ mobile: 'stopping' }));
  t.equal(m.calls.stops, 1, 'told to stop');
  m.send({ type: 'MOBILE_RESULT', outcome: 'cancelled' });
  const back = await m.reach((s) => s.matches('review'));
  t.equal(back.context.error, 'mobile-timeout');
  t.equal(m.calls.cleanups, 1, 'the scanner actor was let go (scanner disabled)');
});

t.test('a code of no known wallet restarts the clock; CANCEL before any code cancels, nothing sent', async (t) => {
  const m = start();
  await m.toMobile();
  m.send({ type: 'MOBILE_PROGRESS', stage: 'unknown-wallet' });
  await m.reach((s) => s.context.mobileStage === 'unknown-wallet');
  m.actor.send({ type: 'CANCEL' });
  await m.reach((s) => s.matches({ mobile: 'stopping' }));
  m.send({ type: 'MOBILE_RESULT', outcome: 'cancelled' });
  t.match((await m.reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'customer-cancel' });
  t.same(m.calls.revokes, []);
});

t.test('the customer cancels just as the code is sent: the answer decides, and "confirming" is revoked at once', async (t) => {
  const m = start();
  await m.toMobile();
  m.actor.send({ type: 'CANCEL' });
  await m.reach((s) => s.matches({ mobile: 'stopping' }));
  await m.sent();
  m.send({ type: 'MOBILE_RESULT', outcome: 'confirming' });
  t.match((await m.reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'mobile-revoked' });
  t.same(m.calls.revokes, [{ id: 'tx-m', paymentId: 'P1', reason: 'customer' }]);
});

t.test('not offered, or not at all when nothing is due: refused at the review', async (t) => {
  const m = start({ mobile: ['code'] });
  m.actor.send({ type: 'NUMBER', phone: '13800138000' });
  await m.reach((s) => s.matches('review'));
  m.actor.send({ type: 'MOBILE', mode: 'qr' });
  t.equal(m.actor.getSnapshot().context.error, 'mobile-not-offered');
  t.ok(m.actor.getSnapshot().matches('review'));
});

t.test('the kiosk QR: the order is shown, the queries run until paid', async (t) => {
  const m = start({ timeouts: { ...SLOW, mobileQueryIntervalMs: 10, mobileQrMs: 5000 }, queries: [{ outcome: 'confirming' }, { outcome: 'paid' }] });
  await m.toMobile('qr');
  t.equal(m.actor.getSnapshot().context.mobileStage, 'scan-qr');
  const qr = { codeUrl: 'https://pay.example.test/qr/x', expiresAt: new Date(Date.now() + 5000).toISOString() };
  m.send({ type: 'MOBILE_PROGRESS', stage: 'scan-qr', paymentId: 'O1', qr });
  await m.reach((s) => s.matches({ mobile: 'confirming' }));
  t.same(m.actor.getSnapshot().context.qr, qr);
  t.equal(m.actor.getSnapshot().context.mobileStage, 'scan-qr');
  m.send({ type: 'MOBILE_RESULT', outcome: 'confirming' });
  t.match((await m.reach((s) => s.status === 'done')).output, { status: 'completed', mobileIn: 3000 });
});

t.test('the kiosk QR expires: the order is closed, never paid', async (t) => {
  const m = start({ timeouts: { ...SLOW, mobileQueryIntervalMs: 20, mobileQrMs: 100 } });
  await m.toMobile('qr');
  m.send({ type: 'MOBILE_PROGRESS', stage: 'scan-qr', paymentId: 'O1', qr: { codeUrl: 'u', expiresAt: new Date().toISOString() } });
  t.match((await m.reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'mobile-revoked' });
  t.same(m.calls.revokes, [{ id: 'tx-m', paymentId: 'O1', reason: 'query-limit' }]);
});

t.test('the kiosk QR: no order could be made for sure: closed at once', async (t) => {
  const m = start();
  await m.toMobile('qr');
  m.send({ type: 'MOBILE_PROGRESS', stage: 'scan-qr', paymentId: 'O2' });
  m.send({ type: 'MOBILE_RESULT', outcome: 'unknown' });
  t.match((await m.reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'mobile-revoked' });
  t.same(m.calls.revokes.map((r) => r.paymentId), ['O2']);
});
