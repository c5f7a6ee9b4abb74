import t from 'tap';
import { createActor, fromCallback, fromPromise, waitFor } from 'xstate';
import {
  transactionMachine,
  type AcceptCashInput,
  type AcceptCashUpdate,
  type AuthoriseCardInput,
  type CardMethod,
  type CardProgress,
  type CardResult,
  type CloseInput,
  type LookupResult,
  type SettleInput,
  type StopCard,
  type TransactionSnapshot,
  type TransactionTimeouts,
} from '../../states/transaction.js';

const LIMITS = { maxNote: 10000, maxOverpay: 2000, maxTopup: 50000 };
const SLOW: TransactionTimeouts = { inputMs: 60_000, lookupMs: 60_000, cashMs: 60_000, cardMs: 60_000, cardAuthMs: 60_000 };
const WAIT = { timeout: 5000 };

const live: { stop(): unknown }[] = [];
t.afterEach(() => {
  for (const a of live.splice(0)) a.stop();
});

/**
 * A stand-in authoriser the test drives: `send` plays the actor's reports, `stops` records what the
 * machine asked it, `cleanups` counts how often the machine let it go (reader disabled, terminal freed).
 */
function fakeCard() {
  const seen = { inputs: [] as AuthoriseCardInput[], stops: [] as StopCard['why'][], cleanups: 0 };
  let send: ((e: CardProgress | CardResult) => void) | undefined;
  const logic = fromCallback<StopCard, AuthoriseCardInput>(({ input, sendBack, receive }) => {
    seen.inputs.push(input);
    send = sendBack;
    receive((e) => seen.stops.push(e.why));
    return () => {
      seen.cleanups += 1;
    };
  });
  return { logic, seen, send: (e: CardProgress | CardResult) => send?.(e) };
}

function start(opts: { card?: CardMethod | null; timeouts?: TransactionTimeouts; amountDue?: number; service?: 'pay' | 'topup' } = {}) {
  const calls = { settle: [] as SettleInput[], cancel: [] as CloseInput[], cashStarts: 0 };
  const card = fakeCard();
  const machine = transactionMachine.provide({
    actors: {
      lookup: fromPromise<LookupResult, { phone: string }>(async () => ({ amountDue: opts.amountDue ?? 3000 })),
      acceptCash: fromCallback<AcceptCashUpdate, AcceptCashInput>(() => {
        calls.cashStarts += 1;
      }),
      authoriseCard: card.logic,
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
    input: {
      id: 'tx-card',
      service: opts.service ?? 'pay',
      limits: LIMITS,
      timeouts: opts.timeouts ?? SLOW,
      card: opts.card === undefined ? 'reader' : opts.card,
    },
  });
  live.push(actor);
  actor.start();
  const reach = (test: (s: TransactionSnapshot) => boolean) => waitFor(actor, test, WAIT);
  const toReview = async () => {
    actor.send({ type: 'NUMBER', phone: '13800138000' });
    await reach((s) => s.matches('review'));
  };
  return { actor, calls, card, reach, toReview };
}

t.test('approved: the card pays exactly the amount due and the payment settles', async (t) => {
  const { actor, calls, card, reach, toReview } = start();
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches({ card: 'customer' }));
  t.equal(actor.getSnapshot().context.cardStage, 'present-card');
  t.same(card.seen.inputs, [{ id: 'tx-card', method: 'reader', amount: 3000 }]);
  card.send({ type: 'CARD_PROGRESS', stage: 'authorising', maskedPan: '411111******1111', authorising: true });
  await reach((s) => s.matches({ card: 'authorising' }));
  t.equal(actor.getSnapshot().context.maskedPan, '411111******1111');
  card.send({ type: 'CARD_RESULT', outcome: 'approved' });
  const done = await reach((s) => s.status === 'done');
  t.match(done.output, { status: 'completed', endReason: 'paid', cardIn: 3000, credited: 0 });
  t.same(calls.settle, [{ id: 'tx-card', endReason: 'paid', credited: 0, changeDue: 0 }]);
  t.equal(calls.cashStarts, 0, 'the validator was never opened');
  t.equal(card.seen.cleanups, 1, 'the authoriser was let go');
});

t.test('declined: back to the review with an error; the customer may then pay cash', async (t) => {
  const { actor, calls, card, reach, toReview } = start();
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  card.send({ type: 'CARD_PROGRESS', stage: 'authorising', authorising: true });
  card.send({ type: 'CARD_RESULT', outcome: 'declined', reason: '05' });
  const back = await reach((s) => s.matches('review'));
  t.equal(back.context.error, 'card-declined');
  t.equal(back.context.cardStage, null);
  t.equal(back.context.cardIn, 0);
  actor.send({ type: 'CONFIRM' });
  await reach((s) => s.matches('cash'));
  t.equal(calls.cashStarts, 1);
  t.same(calls.settle, []);
});

t.test('unavailable (link down when sent): back to the review with card-unavailable', async (t) => {
  const { actor, card, reach, toReview } = start();
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  card.send({ type: 'CARD_RESULT', outcome: 'unavailable', reason: 'unreachable' });
  t.equal((await reach((s) => s.matches('review'))).context.error, 'card-unavailable');
});

t.test('unknown outcome: the transaction ends cancelled, never paid', async (t) => {
  const { actor, calls, card, reach, toReview } = start();
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  card.send({ type: 'CARD_PROGRESS', stage: 'authorising', authorising: true });
  card.send({ type: 'CARD_RESULT', outcome: 'unknown', reason: 'outcome-unknown' });
  const done = await reach((s) => s.status === 'done');
  t.match(done.output, { status: 'cancelled', endReason: 'card-unknown' });
  t.notOk(done.output?.cardIn, 'no card money');
  t.same(calls.cancel, [{ id: 'tx-card', endReason: 'card-unknown' }]);
  t.same(calls.settle, []);
});

t.test('the customer does not present a card: the time-out stops the authoriser and the transaction', async (t) => {
  const { actor, calls, card, reach, toReview } = start({ timeouts: { ...SLOW, cardMs: 40 } });
  await toReview();
  actor.send({ type: 'CARD' });
  await waitFor(actor, () => card.seen.stops.length > 0, WAIT);
  t.same(card.seen.stops, ['timeout']);
  t.ok(actor.getSnapshot().matches({ card: 'stopping' }), 'waits for the authoriser to say what happened');
  card.send({ type: 'CARD_RESULT', outcome: 'cancelled' });
  const done = await reach((s) => s.status === 'done');
  t.match(done.output, { status: 'cancelled', endReason: 'timeout' });
  t.same(calls.cancel, [{ id: 'tx-card', endReason: 'timeout' }]);
});

t.test('a stop that finds the request already sent: the authorisation time-out still follows', async (t) => {
  const { actor, card, reach, toReview } = start({ timeouts: { ...SLOW, cardMs: 30, cardAuthMs: 60 } });
  await toReview();
  actor.send({ type: 'CARD' });
  await waitFor(actor, () => card.seen.stops.length >= 2, WAIT);
  t.same(card.seen.stops, ['timeout', 'auth-timeout'], 'the reader actor may have been mid-send at the first stop');
  card.send({ type: 'CARD_RESULT', outcome: 'unknown', reason: 'timeout' });
  t.match((await reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'card-unknown' });
});

t.test('a bad read is activity: the clock starts again and the screen says so', async (t) => {
  const { actor, card, reach, toReview } = start({ timeouts: { ...SLOW, cardMs: 300 } });
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  card.send({ type: 'CARD_PROGRESS', stage: 'read-error' });
  t.equal(actor.getSnapshot().context.cardStage, 'read-error');
  t.ok(actor.getSnapshot().matches({ card: 'customer' }));
});

t.test('the authorisation takes too long: the machine asks for an unknown outcome and cancels on it', async (t) => {
  const { actor, card, reach, toReview } = start({ timeouts: { ...SLOW, cardAuthMs: 40 } });
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  card.send({ type: 'CARD_PROGRESS', stage: 'authorising', authorising: true });
  await waitFor(actor, () => card.seen.stops.length > 0, WAIT);
  t.same(card.seen.stops, ['auth-timeout']);
  card.send({ type: 'CARD_RESULT', outcome: 'unknown', reason: 'timeout' });
  t.match((await reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'card-unknown' });
});

t.test('cancel before the card: stopped at once, transaction cancelled by the customer', async (t) => {
  const { actor, card, reach, toReview } = start();
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  actor.send({ type: 'CANCEL' });
  t.same(card.seen.stops, ['customer']);
  card.send({ type: 'CARD_RESULT', outcome: 'cancelled' });
  t.match((await reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'customer-cancel' });
});

t.test('cancel during the authorisation (terminal): asked to abort, and an approval that still comes is paid', async (t) => {
  const { actor, card, reach, toReview } = start({ card: 'terminal' });
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  t.equal(card.seen.inputs[0]?.method, 'terminal');
  card.send({ type: 'CARD_PROGRESS', stage: 'waiting-host', authorising: true });
  actor.send({ type: 'CANCEL' });
  t.same(card.seen.stops, ['customer']);
  t.ok(actor.getSnapshot().matches({ card: 'authorising' }), 'the answer decides, not the cancel');
  card.send({ type: 'CARD_RESULT', outcome: 'approved' });
  t.match((await reach((s) => s.status === 'done')).output, { status: 'completed', endReason: 'paid', cardIn: 3000 });
});

t.test('cancel during the authorisation, then declined (aborted): cancelled by the customer', async (t) => {
  const { actor, card, reach, toReview } = start({ card: 'terminal' });
  await toReview();
  actor.send({ type: 'CARD' });
  await reach((s) => s.matches('card'));
  card.send({ type: 'CARD_PROGRESS', stage: 'pin' });
  actor.send({ type: 'CANCEL' });
  card.send({ type: 'CARD_RESULT', outcome: 'declined', reason: 'aborted' });
  t.match((await reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'customer-cancel' });
});

t.test('CARD is refused once in cash, when not offered, for a top-up, and with nothing due', async (t) => {
  const a = start();
  await a.toReview();
  a.actor.send({ type: 'CONFIRM' });
  await a.reach((s) => s.matches('cash'));
  a.actor.send({ type: 'CARD' });
  const s = a.actor.getSnapshot();
  t.ok(s.matches('cash'), 'still taking cash');
  t.equal(s.context.error, 'card-not-after-cash');
  t.same(a.card.seen.inputs, [], 'the authoriser never ran');

  const b = start({ card: null });
  await b.toReview();
  b.actor.send({ type: 'CARD' });
  t.ok(b.actor.getSnapshot().matches('review'));
  t.equal(b.actor.getSnapshot().context.error, 'card-not-offered');

  const c = start({ amountDue: 0 });
  await c.toReview();
  c.actor.send({ type: 'CARD' });
  t.equal(c.actor.getSnapshot().context.error, 'card-not-offered');
  t.same(c.card.seen.inputs, []);
});
