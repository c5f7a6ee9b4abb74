import t from 'tap';
import BetterSqlite3 from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, latestVersion, migrate, migrations, revokeMessageId } from '../../src/journal/index.js';
import { testKey } from './keys.js';

const PHONE = '13800138000';
// A test payment code: it must never be found in the journal file.
const FULL_CODE = '130012345678901234';
const MASKED = '13************1234';

function openJournal(t: Tap.Test, name = 'journal.db') {
  const file = join(t.testdir(), name);
  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  return { j, file };
}

function bill(j: Journal, id: string, amountDue = 3000) {
  j.startTransaction(id, 'pay');
  j.recordLookup(id, { phone: PHONE, amountDue });
}

const request = (paymentId = 'm-1', amount = 3000) => ({ paymentId, mode: 'code' as const, wallet: 'wechat', amount, maskedCode: MASKED });

t.test('migration 9 rebuilds a version-8 file: rows kept, mobile_in added under the wider invariant', async (t) => {
  const file = join(t.testdir(), 'v8.db');
  const old = new BetterSqlite3(file);
  old.pragma('journal_mode = WAL');
  migrate(old, file, migrations.filter((m) => m.version <= 8), { key: testKey });
  old.exec(`INSERT INTO transactions (id, service, phone, amount_due, status, end_reason, cash_in, card_in, credited, change_paid,
              change_owed, created_at, updated_at)
            VALUES ('old-1', 'pay', '${PHONE}', 2500, 'completed', 'paid', 0, 2500, 2500, 0, 0, 'a', 'b')`);
  old.close();
  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  t.match(j.transaction('old-1'), { cardIn: 2500, mobileIn: 0, credited: 2500 });
  const db = new BetterSqlite3(file);
  t.teardown(() => db.close());
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  t.throws(() => db.prepare(`UPDATE transactions SET mobile_in = 100 WHERE id = 'old-1'`).run(), /CHECK constraint failed/);
});

t.test('a paid wallet payment is credited once, settled with its payment message, and the invariant holds', async (t) => {
  const { j, file } = openJournal(t);
  bill(j, 'T1');
  j.mobile.requested('T1', request());
  t.equal(j.transaction('T1')?.credited, 0, 'nothing is credited at the request');
  t.equal(j.mobile.paid('T1', { paymentId: 'm-1', gatewayRef: 'G1' }), 'credited');
  t.equal(j.mobile.paid('T1', { paymentId: 'm-1', gatewayRef: 'G1' }), 'credited', 'told twice');
  t.match(j.transaction('T1'), { mobileIn: 3000, credited: 3000 });
  t.equal(j.eventsOf('T1', 'mobile.paid').length, 1, 'credited once');
  const row = j.settle('T1', { endReason: 'paid' });
  t.match(row, { status: 'completed', mobileIn: 3000, credited: 3000, cashIn: 0 });
  const payment = j.outboxPending(10).find((m) => m.kind === 'payment');
  t.match(payment?.payload, { amount: 3000, cashIn: 0, mobileIn: 3000, mobile: { paymentId: 'm-1', mode: 'code', wallet: 'wechat' } });
  t.same(j.verify(), []);
  t.notOk(readFileSync(file).includes(FULL_CODE), 'the full code is not in the file');
});

t.test('the request refuses a full code, a wrong amount, money already taken and a second open request', async (t) => {
  const { j } = openJournal(t);
  bill(j, 'T2');
  t.throws(() => j.mobile.requested('T2', { ...request(), maskedCode: FULL_CODE }), /maskedCode must show at most/);
  t.throws(() => j.mobile.requested('T2', { ...request(), maskedCode: undefined }), /maskedCode/);
  t.throws(() => j.mobile.requested('T2', request('m-1', 2999)), /not the amount due/);
  j.mobile.requested('T2', request());
  t.throws(() => j.mobile.requested('T2', request('m-2')), /has no outcome yet/);
  t.throws(() => j.cancel('T2', 'customer-cancel'), /mobile payment "m-1" has no outcome/);
  t.throws(() => j.cardRequested('T2', { requestId: 'c', method: 'reader', amount: 3000 }), /wallet payment "m-1" has no outcome/, 'no card while a wallet request is open');
  j.mobile.failed('T2', { paymentId: 'm-1', reason: 'insufficient-balance' });
  t.throws(() => j.mobile.paid('T2', { paymentId: 'm-1' }), /failed before/);
  j.startTransaction('TOP', 'topup');
  t.throws(() => j.mobile.requested('TOP', request()), /only a bill payment/);
  t.throws(() => j.append('T2', 'mobile.paid' as never, { paymentId: 'x', amount: 1 } as never), /only by its own Journal method/);
});

t.test('a failed payment goes back to the review: another request may follow, and a cancel is allowed', async (t) => {
  const { j } = openJournal(t);
  bill(j, 'T3');
  j.mobile.requested('T3', request('m-1'));
  j.mobile.failed('T3', { paymentId: 'm-1', reason: 'code-expired' });
  j.mobile.requested('T3', request('m-2'));
  j.mobile.failed('T3', { paymentId: 'm-2', reason: 'code-used' });
  j.cancel('T3', 'customer-cancel');
  t.same(j.mobile.attempts('T3').map((a) => a.status), ['failed', 'failed']);
  t.same(j.verify(), []);
});

t.test('unknown queues its revoke in the same write; a later "paid" is never credited and the revoke stands', async (t) => {
  const seen: string[][] = [];
  const file = join(t.testdir(), 'j.db');
  const j = Journal.open(file, { key: testKey, onCommit: (events) => seen.push(events.map((e) => e.type)) });
  t.teardown(() => j.close());
  bill(j, 'T4');
  j.mobile.requested('T4', request());
  seen.length = 0;
  const m = j.mobile.unknown('T4', { paymentId: 'm-1', reason: 'query-limit' });
  t.same(seen, [['mobile.unknown', 'outbox.queued']], 'the decision and its revoke are one commit');
  t.match(m, { messageId: revokeMessageId('T4', 'm-1'), action: 'revoke', amount: 3000, paymentId: 'm-1' });
  t.same(j.mobile.unknown('T4', { paymentId: 'm-1', reason: 'again' }), m, 'asking again returns the same revoke');
  t.equal(j.mobile.paid('T4', { paymentId: 'm-1', gatewayRef: 'late' }), 'revoke-stands');
  t.match(j.transaction('T4'), { mobileIn: 0, credited: 0 });
  t.equal(j.eventsOf('T4', 'mobile.paid-after-revoke').length, 1);
  j.cancel('T4', 'mobile-revoked');
  t.same(j.verify(), []);

  // The forwarder's acknowledgement of the revoke is the revoke's outcome, journalled in its write.
  j.markSent(m.messageId, { ok: false, error: 'busy' });
  t.equal(j.mobile.attempts('T4')[0]?.status, 'revoking', 'a failed send is no outcome');
  j.markSent(m.messageId, { ok: true, serverRef: 'R1' });
  t.equal(j.mobile.attempts('T4')[0]?.status, 'revoked');
  t.match(j.eventsOf('T4', 'mobile.revoked')[0]?.data, { paymentId: 'm-1', serverRef: 'R1' });
  t.equal(j.mobile.paid('T4', { paymentId: 'm-1' }), 'revoke-stands', 'still never credited');
  t.same(j.verify(), []);
});

t.test('a QR order not paid is closed, not revoked', async (t) => {
  const { j } = openJournal(t);
  bill(j, 'T5');
  j.mobile.requested('T5', { paymentId: 'o-1', mode: 'qr', wallet: 'any', amount: 3000 });
  t.equal(j.mobile.unknown('T5', { paymentId: 'o-1', reason: 'expired' }).action, 'close');
});

t.test('unresolved() lists open transactions whose request has no outcome: what recovery queries', async (t) => {
  const { j } = openJournal(t);
  bill(j, 'A');
  j.mobile.requested('A', request('a'));
  bill(j, 'B');
  j.mobile.requested('B', request('b'));
  j.mobile.paid('B', { paymentId: 'b' });
  t.same(j.mobile.unresolved().map((a) => a.paymentId), ['a']);
});

t.test('verify() finds mobile money the events do not back, a revoke without its message, and a paid payment also revoked', async (t) => {
  const { j, file } = openJournal(t);
  bill(j, 'T6');
  j.mobile.requested('T6', request());
  j.mobile.paid('T6', { paymentId: 'm-1' });
  j.settle('T6', { endReason: 'paid' });
  bill(j, 'T7');
  j.mobile.requested('T7', request('m-7'));
  j.mobile.unknown('T7', { paymentId: 'm-7', reason: 'query-limit' });
  j.cancel('T7', 'mobile-revoked');
  t.same(j.verify(), []);

  const db = new BetterSqlite3(file);
  t.teardown(() => db.close());
  db.prepare(`UPDATE transactions SET mobile_in = 2000, credited = 2000 WHERE id = 'T6'`).run();
  db.prepare(`DELETE FROM outbox WHERE kind = 'mobile-revoke'`).run();
  const problems = j.verifyMoney().join('\n');
  t.match(problems, /"T6": mobile in 2000 != wallet payments credited 3000/);
  t.match(problems, /"T6": mobile in 2000 in its row, but 3000 in its events/);
  t.match(problems, /"m-7" of "T7": revoke decided, yet no revoke message in the outbox/);
});
