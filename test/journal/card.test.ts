import t from 'tap';
import BetterSqlite3 from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Journal, latestVersion, migrate, migrations } from '../../src/journal/index.js';
import { recoverOpenTransactions } from '../../src/recovery/recover.js';
import { testKey } from './keys.js';

const PHONE = '13800138000';
// A test card number: it must never be found in the journal file.
const FULL_PAN = '4111111111111111';
const MASKED = '411111******1111';

function openJournal(t: Tap.Test, name = 'journal.db') {
  const file = join(t.testdir(), name);
  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  return { j, file };
}

/** A bill payment at the review: looked up, nothing taken yet. */
function bill(j: Journal, id: string, amountDue = 3000) {
  j.startTransaction(id, 'pay');
  j.recordLookup(id, { phone: PHONE, amountDue });
}

t.test('migration 5 rebuilds a version-4 file: rows, references and constraints kept, card_in added', async (t) => {
  const file = join(t.testdir(), 'v4.db');
  const old = new BetterSqlite3(file);
  old.pragma('journal_mode = WAL');
  old.pragma('foreign_keys = ON');
  migrate(old, file, migrations.filter((m) => m.version <= 4), { key: testKey });
  t.equal(old.pragma('user_version', { simple: true }), 4);
  old.exec(`INSERT INTO transactions (id, service, phone, amount_due, status, end_reason, cash_in, credited, change_paid,
              change_owed, created_at, updated_at, claim_code)
            VALUES ('old-1', 'pay', '${PHONE}', 2500, 'completed', 'paid', 3000, 2500, 300, 200, 'a', 'b', 'ABCD-EFGH'),
                   ('old-2', 'topup', NULL, NULL, 'open', NULL, 0, 0, 0, 0, 'c', 'd', NULL)`);
  old.exec(`INSERT INTO payouts (txn_id, hopper, coin_value, count, event_before, status, created_at)
            VALUES ('old-1', 'h100', 100, 2, 7, 'intended', 'e')`);
  old.close();

  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  t.match(j.transaction('old-1'), { status: 'completed', cashIn: 3000, cardIn: 0, credited: 2500, changePaid: 300, changeOwed: 200, claimCode: 'ABCD-EFGH' });
  t.same(j.openTransactions().map((r) => r.id), ['old-2']);
  t.equal(j.pendingPayouts()[0]?.txnId, 'old-1', 'the payout still refers to its transaction');

  const db = new BetterSqlite3(file);
  t.teardown(() => db.close());
  db.pragma('foreign_keys = ON');
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  t.same(db.pragma('foreign_key_check'), []);
  const indexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transactions'`).all() as { name: string }[]).map((r) => r.name);
  t.ok(indexes.includes('transactions_open') && indexes.includes('transactions_claim_code'), indexes.join(', '));
  t.throws(
    () => db.prepare(`UPDATE transactions SET card_in = 100 WHERE id = 'old-1'`).run(),
    /CHECK constraint failed/,
    'the new row invariant cash_in + card_in = credited + change_paid + change_owed holds',
  );
  t.throws(
    () => db.prepare(`INSERT INTO payouts (txn_id, hopper, coin_value, count, event_before, status, created_at) VALUES ('nobody', 'h', 100, 1, 0, 'intended', 'x')`).run(),
    /FOREIGN KEY/,
    'references to the rebuilt table are still enforced',
  );
  t.throws(() => db.prepare(`UPDATE transactions SET claim_code = 'ABCD-EFGH' WHERE id = 'old-2'`).run(), /UNIQUE/);
});

t.test('reader path approved: card money in, settled, the payment message carries card and masked PAN only', async (t) => {
  const { j, file } = openJournal(t);
  bill(j, 'c1');
  j.cardRequested('c1', { requestId: 'r1', method: 'reader', amount: 3000, maskedPan: MASKED });
  t.match(j.cardAttempts('c1'), [{ requestId: 'r1', status: 'requested' }]);
  t.throws(() => j.cancel('c1', 'customer-cancel'), /has no outcome/, 'an unresolved request blocks a cancel');
  j.cardApproved('c1', { requestId: 'r1', authCode: 'A12345', serverRef: 'srv-9' });
  t.match(j.transaction('c1'), { cashIn: 0, cardIn: 3000, credited: 3000 });
  t.throws(() => j.cardApproved('c1', { requestId: 'r1', authCode: 'X' }), /already approved/);
  t.throws(() => j.cancel('c1', 'x'), /approved card payment/);
  const row = j.settle('c1', { endReason: 'paid' });
  t.match(row, { status: 'completed', cardIn: 3000, credited: 3000, changePaid: 0, changeOwed: 0 });
  const [msg] = j.outboxPending(10);
  t.match(msg?.payload, {
    kind: undefined,
    amount: 3000,
    cashIn: 0,
    cardIn: 3000,
    card: { method: 'reader', requestId: 'r1', maskedPan: MASKED },
  });
  t.same(j.verify(), []);
  j.close();
  for (const f of [file, `${file}-wal`]) if (existsSync(f)) t.notOk(readFileSync(f).includes(FULL_PAN), `no full PAN in ${f}`);
});

t.test('mixing and wrong amounts are refused; a full PAN cannot be journalled', async (t) => {
  const { j } = openJournal(t);
  bill(j, 'm1');
  t.throws(() => j.cardRequested('m1', { requestId: 'r', method: 'reader', amount: 2000 }), /not the amount due/);
  t.throws(() => j.cardRequested('m1', { requestId: 'r', method: 'reader', amount: 3000, maskedPan: FULL_PAN }), /maskedPan/);
  t.throws(() => j.cardRequested('m1', { requestId: 'r', method: 'reader', amount: 3000, maskedPan: '4111111111**1111' }), /maskedPan/);
  j.noteStacked('m1', { value: 1000, currency: 'CNY', code: 1 });
  t.throws(() => j.cardRequested('m1', { requestId: 'r', method: 'reader', amount: 3000 }), /money was already taken/);
  j.startTransaction('m2', 'topup');
  t.throws(() => j.cardRequested('m2', { requestId: 'r2', method: 'terminal', amount: 3000 }), /only a bill payment/);
  bill(j, 'm3');
  j.cardRequested('m3', { requestId: 'r3', method: 'terminal', amount: 3000 });
  t.throws(() => j.cardRequested('m3', { requestId: 'r4', method: 'terminal', amount: 3000 }), /has no outcome yet/);
  // @ts-expect-error a money type is written by its own method, never by append()
  t.throws(() => j.append('m3', 'card.approved', { requestId: 'r3', amount: 3000 }), /written only by its own Journal method/);
  j.cardDeclined('m3', { requestId: 'r3', reason: 'declined' });
  j.cardRequested('m3', { requestId: 'r4', method: 'terminal', amount: 3000 });
  t.match(j.cardAttempts('m3'), [{ requestId: 'r3', status: 'declined' }, { requestId: 'r4', status: 'requested' }]);
});

t.test('unknown outcome (reader): the reversal is queued in the same write; an approval is taken back', async (t) => {
  const { j } = openJournal(t);
  bill(j, 'u1');
  j.cardRequested('u1', { requestId: 'r1', method: 'reader', amount: 3000, maskedPan: MASKED });
  j.cardApproved('u1', { requestId: 'r1', authCode: 'OK1' });
  const before = j.events('u1').length;
  t.same(j.cardUnknown('u1', { requestId: 'r1', reason: 'link-lost' }), { reversal: 'server', withdrawn: 3000 });
  const added = j.events('u1').slice(before).map((e) => e.type);
  t.same(added, ['card.unknown', 'txn.reversal', 'outbox.queued']);
  t.match(j.transaction('u1'), { cardIn: 0, credited: 0 });
  t.match(j.outboxPending(10), [{ kind: 'reversal', messageId: 'u1:reversal:r1', payload: { reverses: 'r1', amount: 3000 } }]);
  t.throws(() => j.cardApproved('u1', { requestId: 'r1', authCode: 'late' }), /already unknown/, 'a late approval is never booked');
  j.cancel('u1', 'card-unknown');
  t.same(j.verify(), []);
});

t.test('unknown outcome (terminal): a terminal reversal by receipt number, retried until final; none without a receipt', async (t) => {
  const { j } = openJournal(t);
  bill(j, 't1');
  j.cardRequested('t1', { requestId: 'r1', method: 'terminal', amount: 3000 });
  j.cardApproved('t1', { requestId: 'r1', receiptNo: 42, trace: 7 });
  t.same(j.cardUnknown('t1', { requestId: 'r1', reason: 'no-completion' }), { reversal: 'terminal', withdrawn: 3000 });
  t.match(j.pendingTerminalReversals(), [{ requestId: 'r1', txnId: 't1', receiptNo: 42, amount: 3000, status: 'pending' }]);
  j.terminalReversalAttempt('r1', { outcome: 'unknown', code: 'timeout', detail: 'no answer' });
  t.match(j.pendingTerminalReversals(), [{ attempts: 1, lastError: 'timeout: no answer' }]);
  t.match(j.terminalReversalAttempt('r1', { outcome: 'reversed', code: 'reversed', detail: 'ok' }), { status: 'reversed', attempts: 2 });
  t.same(j.pendingTerminalReversals(), []);
  j.cancel('t1', 'card-unknown');

  bill(j, 't2');
  j.cardRequested('t2', { requestId: 'r2', method: 'terminal', amount: 3000 });
  j.cardApproved('t2', { requestId: 'r2', receiptNo: 43 });
  j.cardUnknown('t2', { requestId: 'r2', reason: 'link-lost' });
  j.terminalReversalAttempt('r2', { outcome: 'refused', code: 'refused', detail: 'B5' });
  t.ok(j.events('t2').some((e) => e.type === 'alarm.card-reversal-refused'));
  j.cancel('t2', 'card-unknown');

  bill(j, 't3');
  j.cardRequested('t3', { requestId: 'r3', method: 'terminal', amount: 3000 });
  t.same(j.cardUnknown('t3', { requestId: 'r3', reason: 'link-lost' }), { reversal: 'none', withdrawn: 0 });
  t.match(j.events('t3').at(-1), { type: 'alarm.card-unresolved', data: { requestId: 'r3' } });
  j.cancel('t3', 'card-unknown');
  t.same(j.verify(), []);
});

t.test('verify finds card money the approvals do not explain', async (t) => {
  const { j, file } = openJournal(t);
  bill(j, 'v1');
  j.cardRequested('v1', { requestId: 'r1', method: 'reader', amount: 3000 });
  j.cardApproved('v1', { requestId: 'r1', authCode: 'A' });
  j.settle('v1', { endReason: 'paid' });
  const db = new BetterSqlite3(file);
  db.prepare(`UPDATE transactions SET card_in = 5000, credited = 5000 WHERE id = 'v1'`).run();
  db.close();
  t.match(j.verify().join('\n'), /card in 5000 != card approvals 3000/);
});

// The child runs the compiled journal, as in crash.test.ts (`npx tsc -p tsconfig.json` first).
const compiled = new URL('../../dist/src/journal/index.js', import.meta.url);
const compiledCrash = new URL('../../dist/hw-sim/crash-seam.js', import.meta.url);
const compiledRecovery = new URL('../../dist/src/recovery/recover.js', import.meta.url);

t.test('SIGKILL right after the card request: recovery reverses it and never completes the payment', async (t) => {
  t.ok(existsSync(fileURLToPath(compiled)) && existsSync(fileURLToPath(compiledRecovery)), 'the compiled journal exists');
  for (const [method, approve, want] of [
    ['reader', false, 'server'],
    ['reader', true, 'server'],
    ['terminal', true, 'terminal'],
    ['terminal', false, 'none'],
  ] as const) {
    const dir = t.testdir();
    const file = join(dir, 'journal.db');
    const crashAfter = approve ? 'card.approved' : 'card.requested';
    const script = join(dir, 'child.mjs');
    writeFileSync(
      script,
      `import { Journal } from ${JSON.stringify(compiled.href)};
import { crashAfter as crashAfterObserver } from ${JSON.stringify(compiledCrash.href)};
const crash = crashAfterObserver(${JSON.stringify(crashAfter)});
const j = Journal.open(${JSON.stringify(file)}, { key: Buffer.from(${JSON.stringify(testKey.toString('hex'))}, 'hex'), onCommit: (events) => events.forEach(crash) });
j.startTransaction('k1', 'pay');
j.recordLookup('k1', { phone: '${PHONE}', amountDue: 3000 });
j.cardRequested('k1', { requestId: 'req-1', method: '${method}', amount: 3000 });
j.cardApproved('k1', { requestId: 'req-1', authCode: 'A1', receiptNo: 9 });
j.settle('k1', { endReason: 'paid' });
console.log('survived');
`,
    );
    const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
    t.equal(child.signal, 'SIGKILL', `${method} ${crashAfter}: ${child.stderr}`);

    const j = Journal.open(file, { key: testKey });
    t.match(j.transaction('k1'), { status: 'open', cardIn: approve ? 3000 : 0 });
    const decisions = recoverOpenTransactions(j, { validatorReady: true, noteInStacker: false });
    t.same(decisions, [
      { txnId: 'k1', action: 'card-reversed', requestId: 'req-1', was: approve ? 'approved' : 'requested', reversal: want },
      { txnId: 'k1', action: 'cancelled' },
    ]);
    t.match(j.transaction('k1'), { status: 'cancelled', cardIn: 0, credited: 0 });
    t.equal(j.outboxPending(10).filter((m) => m.kind === 'payment').length, 0, 'no payment is ever sent');
    if (want === 'server') t.match(j.outboxPending(10), [{ kind: 'reversal', payload: { reverses: 'req-1', amount: 3000 } }]);
    if (want === 'terminal') t.match(j.pendingTerminalReversals(), [{ requestId: 'req-1', receiptNo: 9 }]);
    if (want === 'none') t.ok(j.events('k1').some((e) => e.type === 'alarm.card-unresolved'));
    t.same(j.verify(), []);
    j.close();
  }
});
