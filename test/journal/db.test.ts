import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Journal, latestVersion, migrate, migrations, openDatabase } from '../../src/journal/index.js';
import { testKey } from './keys.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a throw');
}

t.test('pragmas are set for durability and integrity', async (t) => {
  const dir = t.testdir();
  const db = openDatabase(join(dir, 'nested', 'deeper', 'journal.db'));
  t.teardown(() => db.close());
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  t.ok((db.pragma('busy_timeout', { simple: true }) as number) > 0);
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  t.ok(latestVersion >= 1);
});

t.test('the page cache is SQLite\'s 2 MB, not the 16 MB better-sqlite3 builds in (issue 20)', async (t) => {
  const dir = t.testdir();
  const db = openDatabase(join(dir, 'journal.db'));
  t.teardown(() => db.close());
  // A 16 MB cache fills as the journal grows and stays in the kiosk's RSS (soak, outbox drain).
  t.equal(db.pragma('cache_size', { simple: true }), -2000);
});

t.test('reopening does not re-run migrations and keeps data', async (t) => {
  const file = join(t.testdir(), 'journal.db');
  const a = openDatabase(file);
  a.prepare(`INSERT INTO cashbox (currency, value, count) VALUES ('CNY', 10000, 3)`).run();
  a.close();
  const b = openDatabase(file);
  t.teardown(() => b.close());
  t.equal(b.pragma('user_version', { simple: true }), latestVersion);
  t.same(b.prepare('SELECT currency, value, count FROM cashbox').all(), [{ currency: 'CNY', value: 10000, count: 3 }]);
  t.equal(b.pragma('synchronous', { simple: true }), 2, 'per-connection pragma set again on reopen');
});

t.test('a file that is not SQLite gives an error naming the file', async (t) => {
  const file = join(t.testdir(), 'garbage.db');
  writeFileSync(file, 'this is certainly not a database file, just some text '.repeat(100));
  const msg = errorOf(() => openDatabase(file));
  t.ok(msg.includes(file), msg);
  t.match(msg, /is not a SQLite database/);
});

t.test('a schema newer than this code is refused', async (t) => {
  const file = join(t.testdir(), 'future.db');
  const db = openDatabase(file);
  db.pragma(`user_version = ${latestVersion + 1}`);
  db.close();
  const msg = errorOf(() => openDatabase(file));
  t.ok(msg.includes(file), msg);
  t.ok(msg.includes(`schema version ${latestVersion + 1} is newer`), msg);
});

t.test('a path whose folder cannot be created gives an error naming it', async (t) => {
  const dir = t.testdir({ blocker: 'a plain file' });
  const file = join(dir, 'blocker', 'journal.db');
  const msg = errorOf(() => openDatabase(file));
  t.ok(msg.includes(file), msg);
  t.match(msg, /cannot create its folder/);
});

t.test('a failing migration leaves the previous version and no half-applied schema', async (t) => {
  const file = join(t.testdir(), 'mig.db');
  const db = openDatabase(file);
  t.teardown(() => db.close());
  const next = latestVersion + 1;
  t.throws(
    () => migrate(db, file, [{ version: next, sql: 'CREATE TABLE half (x INTEGER); THIS IS NOT SQL;' }]),
    new RegExp(`migration ${next} failed`),
  );
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  t.same(db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'half'`).get(), { n: 0 });

  migrate(db, file, [{ version: next, sql: 'CREATE TABLE later (x INTEGER)' }]);
  t.equal(db.pragma('user_version', { simple: true }), next);
});

t.test('money columns refuse floats and negatives at the SQL level', async (t) => {
  const db = openDatabase(join(t.testdir(), 'checks.db'));
  t.teardown(() => db.close());
  const insert = db.prepare(
    `INSERT INTO transactions (id, service, status, cash_in, credited, created_at, updated_at)
     VALUES (?, 'pay', 'open', ?, ?, 'x', 'x')`,
  );
  insert.run('ok', 500, 500);
  t.throws(() => insert.run('float', 0.5, 0.5), /CHECK constraint failed/);
  t.throws(() => insert.run('neg', -100, -100), /CHECK constraint failed/);
  t.throws(() => insert.run('text', 'ten', 'ten'), /CHECK constraint failed/);
  t.throws(() => insert.run('unbalanced', 500, 400), /CHECK constraint failed/);
});

t.test('a version-1 file is brought up to date with its data kept and sealed', async (t) => {
  const file = join(t.testdir(), 'v1.db');
  const old = new BetterSqlite3(file);
  old.pragma('journal_mode = WAL');
  migrate(old, file, migrations.filter((m) => m.version === 1));
  t.equal(old.pragma('user_version', { simple: true }), 1);
  const at = '2024-12-31T23:00:00.000Z';
  const txn = old.prepare(
    `INSERT INTO transactions (id, service, phone, status, end_reason, cash_in, credited, change_owed, created_at,
     updated_at) VALUES (?, 'pay', '13800138000', 'completed', 'paid', ?, ?, ?, ?, ?)`,
  );
  const stacked = old.prepare(`INSERT INTO events (txn_id, type, data, at) VALUES (?, 'note.stacked', ?, ?)`);
  const event = old.prepare(`INSERT INTO events (txn_id, type, data, at) VALUES (?, ?, ?, ?)`);
  const outbox = old.prepare(
    `INSERT INTO outbox (message_id, txn_id, kind, payload, created_at) VALUES (?, ?, 'payment', ?, ?)`,
  );
  for (const [id, owed] of [
    ['old-1', 0],
    ['old-owes', 500],
  ] as const) {
    txn.run(id, 5000, 5000 - owed, owed, at, at);
    event.run(id, 'txn.started', JSON.stringify({ service: 'pay' }), at);
    event.run(id, 'txn.lookup', JSON.stringify({ phone: '13800138000', amountDue: null }), at);
    stacked.run(id, JSON.stringify({ note: { value: 5000, currency: 'CNY', code: 0x66 } }), at);
    event.run(id, 'txn.settled', JSON.stringify({ endReason: 'paid', cashIn: 5000, credited: 5000 - owed, changeDue: owed }), at);
    outbox.run(`${id}:payment`, id, JSON.stringify({ amount: 5000 - owed }), at);
  }
  old.prepare(`INSERT INTO cashbox (currency, value, count) VALUES ('CNY', 5000, 2)`).run();
  old.close();

  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  const db = new BetterSqlite3(file, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  t.match(j.transaction('old-1'), { status: 'completed', cashIn: 5000, credited: 5000, claimCode: null });
  t.same(j.cashbox(), [{ currency: 'CNY', value: 5000, count: 2 }]);
  t.same(j.coinbox(), []);
  t.same(j.hopperLevels(), []);
  t.equal(j.outboxStats().pending, 2);
  t.same(
    j.verify(),
    ['transaction "old-owes": owes change 500 without a claim code'],
    'change owed before claim codes existed is reported, not lost',
  );

  j.startTransaction('new-1', 'topup');
  j.coinAccepted('new-1', { value: 100, currency: 'CNY', code: 3 });
  t.match(j.settle('new-1', { endReason: 'paid' }), { credited: 100, claimCode: null });
});
