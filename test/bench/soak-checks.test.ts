import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { Journal } from '../../src/journal/index.js';
import { checkCash, checkJournal, checkServer, type HostRecords } from '../../hw-sim/soak/checks.js';
import type { Payment } from '../../hw-sim/soak/customer.js';
import { testKey } from '../journal/keys.js';

const NOTE = { value: 5000, currency: 'CNY', code: 0x65 };
const ONE_NOTE: Payment = { kind: 'one note', amountDue: 5000, notes: [5000], coins: [] };
const CHANGE: Payment = { kind: 'change in coins', amountDue: 4850, notes: [5000], coins: [] };

/** A journal holding the two payments as the runtime writes them: one exact, one with 1.50 change in two coins. */
function journalOfTwo(t: Test): { path: string; done: { id: string; payment: Payment }[] } {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey });
  j.setHopperLevel('h100', 100, 200, 'test');
  j.setHopperLevel('h50', 50, 200, 'test');
  for (const [id, due] of [['t1', 5000], ['t2', 4850]] as const) {
    j.startTransaction(id, 'pay');
    j.recordLookup(id, { phone: '13900000001', amountDue: due });
    j.noteEscrowed(id, NOTE);
    j.noteStacked(id, NOTE);
  }
  j.settle('t1', { endReason: 'paid' });
  j.settle('t2', { endReason: 'paid', changeDue: 150, claimCode: 'ABCD-EFGH' });
  for (const [hopper, value] of [['h100', 100], ['h50', 50]] as const) {
    const seq = j.payoutIntended('t2', { hopper, coinValue: value, count: 1, eventBefore: 0 });
    j.payoutStarted(seq, { event: 1 });
    j.payoutDone(seq, { paid: 1, unpaid: 0, via: 'await-payout' });
  }
  j.close();
  return { path, done: [{ id: 't1', payment: ONE_NOTE }, { id: 't2', payment: CHANGE }] };
}

const SERVER: HostRecords = {
  payments: [
    { txnId: 't1', amount: 5000 },
    { txnId: 't2', amount: 4850 },
  ],
  anomalies: [],
};
const EMULATOR_LINE = 'state running, status 0x1A, inhibited, …; cash box: 5000x2 (total 10000 fen)';
const DROPPED = new Map([
  ['h100', 1],
  ['h50', 1],
]);

t.test('two payments that went as planned pass every check', async (t) => {
  const { path, done } = journalOfTwo(t);
  t.same(checkJournal(path, testKey, done), []);
  t.same(checkServer(path, SERVER), []);
  t.same(checkCash(path, done, EMULATOR_LINE, DROPPED), []);
});

t.test('a credit edited behind the journal is unbalanced, unplanned and breaks the money check', async (t) => {
  const { path, done } = journalOfTwo(t);
  const db = new Database(path);
  // The schema refuses an unbalanced row; a damaged file or a bug that got past it is what the soak looks for.
  db.pragma('ignore_check_constraints = ON');
  db.prepare("UPDATE transactions SET credited = credited - 100 WHERE id = 't1'").run();
  db.close();
  const problems = checkJournal(path, testKey, done).join('\n');
  t.match(problems, /transaction t1: cash in 5000 \+ card in 0 \+ mobile in 0 ≠ credited 4900/);
  t.match(problems, /transaction t1 \(one note\) ended as/);
  t.match(problems, /journal verify:/);
});

t.test('an open transaction, a stranger and a missing one are reported', async (t) => {
  const { path, done } = journalOfTwo(t);
  const j = Journal.open(path, { key: testKey });
  j.startTransaction('t3', 'pay');
  j.close();
  const problems = checkJournal(path, testKey, [...done, { id: 't4', payment: ONE_NOTE }]).join('\n');
  t.match(problems, /transaction t3 is still open/);
  t.match(problems, /transaction t3 in the journal was not started by the soak/);
  t.match(problems, /transaction t4 \(one note\) is missing from the journal/);
});

t.test('the server must hold each credited payment once, for its amount, and nothing else', async (t) => {
  const { path } = journalOfTwo(t);
  const problems = checkServer(path, {
    payments: [
      { txnId: 't1', amount: 5000 },
      { txnId: 't1', amount: 5000 },
      { txnId: 'tx', amount: 100 },
    ],
    anomalies: [{ kind: 'conflicting-duplicate', txnId: 't1', detail: 'amount differs' }],
  }).join('\n');
  t.match(problems, /holds 2 payments for t1/);
  t.match(problems, /payment for tx, which credited nothing/);
  t.match(problems, /never received the payment of t2/);
  t.match(problems, /anomaly: conflicting-duplicate/);
  t.match(checkServer(path, { payments: [{ txnId: 't1', amount: 4000 }, SERVER.payments[1]!], anomalies: [] }).join('\n'), /holds 4000 for t1, the journal credited 5000/);
});

t.test("the validator's cash box and the hoppers' coins must match the journal", async (t) => {
  const { path, done } = journalOfTwo(t);
  const problems = checkCash(path, done, 'cash box: 5000x1 (total 5000 fen)', new Map([['h100', 1]])).join('\n');
  t.match(problems, /the validator's cash box holds 5000 fen, the soak put in 10000 fen/);
  t.match(problems, /the hoppers dropped 100 fen of coins, the journal says 150 fen/);
  t.match(checkCash(path, [...done, { id: 't3', payment: ONE_NOTE }], EMULATOR_LINE, DROPPED).join('\n'), /journal's cash box holds 10000 fen, the soak put in 15000/);
});

t.test("a wallet payment the gateway refunded because it came after the kiosk's revoke or close is not a server anomaly to the checks", async (t) => {
  const { path } = journalOfTwo(t);
  const late = (kind: string) => ({ ...SERVER, anomalies: [{ kind, txnId: 't9', detail: 'refunded' }] });
  t.same(checkServer(path, late('wallet-paid-before-revoke')), []);
  t.same(checkServer(path, late('wallet-paid-after-close')), []);
  t.match(checkServer(path, late('mobile-payment-unproven')).join('\n'), /anomaly: mobile-payment-unproven/);
});
