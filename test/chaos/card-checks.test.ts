import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Journal } from '../../src/journal/index.js';
import { checkCards, type CardHeld } from '../../hw-sim/chaos/card-checks.js';
import { Ledger } from '../../hw-sim/chaos/ledger.js';
import { generatePlan, type CardStep } from '../../hw-sim/chaos/plan.js';
import type { StepRecord } from '../../hw-sim/chaos/session.js';
import { checkSteps } from '../../hw-sim/chaos/step-checks.js';
import { journalProblems } from '../../hw-sim/soak/checks.js';
import type { CardAuthorisationRecord } from '../../hw-sim/host/store.js';
import { testKey } from '../journal/keys.js';

const STEP: CardStep = {
  kind: 'card',
  outcome: 'approve',
  cash: { kind: 'cash', phone: '13900000001', amountDue: 5000, pieces: [{ device: 'validator', value: 5000 }], ending: { kind: 'pay' } },
};
const PLAN = { ...generatePlan(1), fault: { kind: 'hopper-empty', step: 0, hopper: 'h50' } } as const;

/**
 * t1: a reader card approved for the 50.00 bill, settled and delivered. t2: a card whose answer
 * never came, reversed; the reversal delivered. As the runtime journals them and the server holds them.
 */
function world(t: Test): { path: string; held: CardHeld; records: StepRecord[] } {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey });
  for (const id of ['t1', 't2']) {
    j.startTransaction(id, 'pay');
    j.recordLookup(id, { phone: STEP.cash.phone, amountDue: 5000 });
    j.cardRequested(id, { requestId: `r-${id}`, method: 'reader', amount: 5000, maskedPan: '411111******1111' });
  }
  j.cardApproved('t1', { requestId: 'r-t1', authCode: 'A1', serverRef: 'S1' });
  j.settle('t1', { endReason: 'paid', changeDue: 0, claimCode: 'ABCD-EFGH' });
  j.cardUnknown('t2', { requestId: 'r-t2', reason: 'timeout' });
  j.cancel('t2', 'card-unknown');
  j.markSentAll(j.outboxPending(100).map((m) => ({ messageId: m.messageId, result: { ok: true as const, serverRef: 'x' } })));
  j.close();
  const auth = (id: string, reversed: boolean) =>
    ({ requestId: `r-${id}`, txnId: id, amount: 5000, outcome: 'approved', reversed }) as unknown as CardAuthorisationRecord;
  const held: CardHeld = {
    payments: [{ txnId: 't1', amount: 5000, cardIn: 5000, card: { method: 'reader', requestId: 'r-t1' } }],
    cardAuthorisations: [auth('t1', false), auth('t2', true)],
    cardBalance: [
      { txnId: 't1', approved: 5000, reversed: 0, paid: 5000, balanced: true },
      { txnId: 't2', approved: 5000, reversed: 5000, paid: 0, balanced: true },
    ],
    anomalies: [],
    reversals: [
      { messageId: 't2:reversal:r-t2', txnId: 't2', reverses: 'r-t2', amount: 5000, currency: 'CNY', reason: 'card-timeout', createdAt: '', serverRef: 'x', receivedAt: '', duplicates: 0, terminalId: null },
    ],
  };
  const records: StepRecord[] = [
    { index: 0, step: STEP, id: 't1', startSent: true, service: 'pay', inserted: [], outcome: 'card approve by reader: ended' },
    { index: 1, step: { ...STEP, outcome: 'auth-timeout' }, id: 't2', startSent: true, service: 'pay', inserted: [], outcome: 'card auth-timeout by reader: ended' },
  ];
  return { path, held, records };
}

t.test('a card paid and a card reversed, as the runtime and the server keep them, pass every check', async (t) => {
  const { path, held, records } = world(t);
  t.same(journalProblems(path, testKey), [], 'cash in + card in = credited + change paid + change owed');
  t.same(checkCards(path, held), { violations: [], recorded: [] });
  t.same(checkSteps(path, records, new Ledger(), PLAN).violations, []);
});

t.test('an approval neither paid for nor reversed, or both, breaks the server balance', async (t) => {
  const { path, held } = world(t);
  held.cardBalance[1] = { txnId: 't2', approved: 5000, reversed: 0, paid: 0, balanced: false };
  held.cardAuthorisations[0] = { ...held.cardAuthorisations[0]!, reversed: true };
  const v = checkCards(path, held).violations.join('\n');
  t.match(v, /transaction t2: the server approved 5000 fen by card, reversed 0, but the payment says the card paid 0/);
  t.match(v, /authorisation r-t1 \(t1\) is both paid for and reversed/);
});

t.test("a payment whose card part is not the journal's, and a reversal the server never got, are violations", async (t) => {
  const { path, held } = world(t);
  held.payments[0] = { ...held.payments[0]!, cardIn: 4000 };
  held.reversals = [];
  const v = checkCards(path, held).violations.join('\n');
  t.match(v, /the server's payment of t1 says the card paid 4000, the journal's card in is 5000/);
  t.match(v, /card request r-t2 of t2 \(outcome unknown\): the server holds no reversal t2:reversal:r-t2/);
});

t.test('a reversal still in the outbox is a violation', async (t) => {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey });
  j.startTransaction('t3', 'pay');
  j.recordLookup('t3', { phone: STEP.cash.phone, amountDue: 5000 });
  j.cardRequested('t3', { requestId: 'r-t3', method: 'reader', amount: 5000 });
  j.cardUnknown('t3', { requestId: 'r-t3', reason: 'crash' });
  j.cancel('t3', 'recovered');
  j.close();
  const held: CardHeld = { payments: [], cardAuthorisations: [], cardBalance: [], anomalies: [], reversals: [] };
  t.match(checkCards(path, held).violations.join('\n'), /card request r-t3 of t3 \(outcome unknown\): its reversal was never acknowledged/);
});

t.test('card money on a step whose card the issuer declined, or on a cash step, is a step violation', async (t) => {
  const { path, records } = world(t);
  const declined = [{ ...records[0]!, step: { ...STEP, outcome: 'decline' as const } }, records[1]!];
  t.match(checkSteps(path, declined, new Ledger(), PLAN).violations.join('\n'), /step 1 \(t1\): card in 5000, yet the customer's card was one the issuer answers 'decline'/);
  const cash = [{ ...records[0]!, step: STEP.cash }, records[1]!];
  t.match(checkSteps(path, cash, new Ledger(), PLAN).violations.join('\n'), /step 1 \(t1\): card in 5000, yet the customer's card was never presented/);
});
