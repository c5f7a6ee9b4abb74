import t, { type Test } from 'tap';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Coin, Note } from '../../drivers/types.js';
import { GENESIS, Journal, latestVersion, migrate, migrations } from '../../src/journal/index.js';
import { otherKey, testKey } from './keys.js';

const yuan100: Note = { value: 10000, currency: 'CNY', code: 0x67 };
const yuan50: Note = { value: 5000, currency: 'CNY', code: 0x66 };
const yuan20: Note = { value: 2000, currency: 'CNY', code: 0x65 };
const coin1: Coin = { value: 100, currency: 'CNY', code: 3 };

function clock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2025, 0, 1, 8, 0, tick++));
}

function openJournal(t: Test, key = testKey): Journal {
  const j = Journal.open(join(t.testdir(), 'journal.db'), { key, now: clock() });
  t.teardown(() => j.close());
  return j;
}

/** Two paid transactions, one with change paid from a hopper, receipts and an operator event. */
function busyDay(j: Journal): void {
  j.setHopperLevel('hopper-100', 100, 50, 'filled');
  j.startTransaction('d-1', 'pay');
  j.recordLookup('d-1', { phone: '13800138000', amountDue: 14700 });
  j.noteEscrowed('d-1', yuan100);
  j.noteStacked('d-1', yuan100, 'vend-valid');
  j.noteEscrowed('d-1', yuan50);
  j.noteStacked('d-1', yuan50);
  j.settle('d-1', { endReason: 'paid', changeDue: 300, claimCode: 'C-1' });
  const p = j.payoutIntended('d-1', { hopper: 'hopper-100', coinValue: 100, count: 3, eventBefore: 7 });
  j.payoutStarted(p, { event: 8 });
  j.payoutDone(p, { paid: 3, unpaid: 0, via: 'await-payout' });
  j.receiptPrinted('d-1');
  j.startTransaction('d-2', 'topup');
  j.coinAccepted('d-2', coin1);
  j.noteEscrowed('d-2', yuan20);
  j.noteReturned('d-2', yuan20, 'customer');
  j.noteStacked('d-2', yuan20);
  j.settle('d-2', { endReason: 'paid' });
  j.receiptFailed('d-2', 'paper out');
  j.append(null, 'operator.in-service', { by: 'li' });
}

/** A second connection that can do what an attacker with the file can: triggers dropped first. */
function attacker(t: Test, j: Journal): BetterSqlite3.Database {
  const db = new BetterSqlite3(j.path);
  t.teardown(() => db.close());
  db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; DROP TRIGGER events_chained;');
  return db;
}

function seqOf(db: BetterSqlite3.Database, type: string, nth = 0): number {
  const rows = db.prepare('SELECT seq FROM events WHERE type = ? ORDER BY seq').all(type) as { seq: number }[];
  return rows[nth]!.seq;
}

function eventCount(db: BetterSqlite3.Database): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
}

t.test('every event is chained and the chain verifies after a realistic mix of writes', async (t) => {
  const j = openJournal(t);
  t.same(j.verifyChain(), { ok: true, events: 0 }, 'an empty journal');
  busyDay(j);
  const db = new BetterSqlite3(j.path, { readonly: true });
  t.teardown(() => db.close());
  const rows = db.prepare('SELECT seq, prev_hash, hash FROM events ORDER BY seq').all() as {
    seq: number;
    prev_hash: string;
    hash: string;
  }[];
  t.equal(rows[0]!.prev_hash, GENESIS, 'the first event chains to the genesis value');
  t.ok(rows.every((r, i) => i === 0 || r.prev_hash === rows[i - 1]!.hash), 'each event chains to the one before');
  t.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash)));
  t.equal(new Set(rows.map((r) => r.hash)).size, rows.length);
  t.same(j.verifyChain(), { ok: true, events: rows.length });
  t.same(j.verify(), []);
  t.same(db.prepare('SELECT seq, hash FROM chain_head').get(), { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash });
});

t.test('an event written around the journal without a hash is refused by the schema', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  const db = new BetterSqlite3(j.path);
  t.teardown(() => db.close());
  t.throws(
    () => db.prepare(`INSERT INTO events (type, data, at) VALUES ('note.stacked', '{}', 'x')`).run(),
    /must carry their chain hash/,
  );
  t.throws(() => db.prepare(`UPDATE events SET data = '{}' WHERE seq = 3`).run(), /append-only/);
});

t.test('(a) an event edited after the triggers were dropped', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  const db = attacker(t, j);
  const seq = seqOf(db, 'note.stacked');
  db.prepare(`UPDATE events SET data = json_set(data, '$.note.value', 5000) WHERE seq = ?`).run(seq);
  const r = j.verifyChain();
  t.match(r, { ok: false, seq, problem: 'edited', event: { type: 'note.stacked', txnId: 'd-1' } });
  t.match(j.verify()[0], new RegExp(`^hash chain broken at event ${seq} \\(edited\\)`));

  // Changing only the time, or the last event, is caught the same way.
  db.prepare(`UPDATE events SET data = json_set(data, '$.note.value', 10000) WHERE seq = ?`).run(seq);
  t.same(j.verifyChain(), { ok: true, events: eventCount(db) }, 'put back as it was, the chain holds again');
  const last = eventCount(db);
  db.prepare(`UPDATE events SET at = '2025-01-02T00:00:00.000Z' WHERE seq = ?`).run(last);
  t.match(j.verifyChain(), { ok: false, seq: last, problem: 'edited' });
});

t.test('(b) an event deleted in the middle, and events cut from the end', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  const db = attacker(t, j);
  const total = eventCount(db);
  const seq = seqOf(db, 'note.stacked', 1);
  db.prepare('DELETE FROM events WHERE seq = ?').run(seq);
  t.match(j.verifyChain(), { ok: false, seq, problem: 'deleted', detail: new RegExp(`event ${seq} is missing`) });
  t.notOk('event' in j.verifyChain(), 'no row to describe');

  const tail = openJournal(t);
  busyDay(tail);
  const db2 = attacker(t, tail);
  db2.prepare('DELETE FROM events WHERE seq >= ?').run(total - 1);
  t.match(tail.verifyChain(), { ok: false, seq: total - 1, problem: 'deleted' }, 'caught by sqlite_sequence');
  // Hiding the cut from sqlite_sequence too still leaves the chain head pointing past the end.
  db2.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'`).run(total - 2);
  t.match(tail.verifyChain(), { ok: false, seq: total - 1, problem: 'deleted' }, 'caught by the chain head');
});

t.test('(c) a forged event inserted with a made-up hash', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  const db = attacker(t, j);
  const head = db.prepare('SELECT seq, hash FROM chain_head').get() as { seq: number; hash: string };
  const forged = db
    .prepare(
      `INSERT INTO events (txn_id, type, data, at, prev_hash, hash) VALUES ('d-2', 'note.stacked', ?, ?, ?, ?)`,
    )
    .run(JSON.stringify({ note: yuan100 }), '2025-01-01T08:01:00.000Z', head.hash, 'f'.repeat(64));
  const seq = Number(forged.lastInsertRowid);
  t.match(j.verifyChain(), { ok: false, seq, problem: 'inserted', event: { type: 'note.stacked' } });

  // The kiosk writes on; its events chain past the forgery, which stays reported.
  j.append(null, 'operator.out-of-service', { by: 'li', reason: 'collection' });
  t.match(j.verifyChain(), { ok: false, seq, problem: 'inserted' });
  t.equal(j.verify().length > 1, true, 'the money invariants see the forged note too');
});

t.test('events moved to other positions', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  const db = attacker(t, j);
  db.exec('UPDATE events SET seq = -5 WHERE seq = 5; UPDATE events SET seq = 5 WHERE seq = 6; UPDATE events SET seq = 6 WHERE seq = -5;');
  t.match(j.verifyChain(), { ok: false, seq: 5, problem: 'reordered', detail: /now at 6/ });
});

t.test('a wrong key: verification says so, and writing with it does not re-chain older events', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'journal.db');
  const a = Journal.open(file, { key: testKey, now: clock() });
  busyDay(a);
  const before = a.verifyChain();
  a.close();
  t.equal(before.ok, true);
  const written = before.ok ? before.events : 0;

  const wrong = Journal.open(file, { key: otherKey, now: clock() });
  t.match(wrong.verifyChain(), { ok: false, seq: 1, problem: 'edited', detail: /wrong one/ });
  wrong.append(null, 'operator.in-service', { by: 'wang' });
  wrong.close();

  const right = Journal.open(file, { key: testKey });
  t.teardown(() => right.close());
  t.match(right.verifyChain(), { ok: false, seq: written + 1, problem: 'edited' }, 'the first event under the wrong key');
  t.throws(() => Journal.open(file, { key: Buffer.alloc(16) }), /32 bytes/);
});

t.test('a version-2 file: its events are sealed by the migration and the chain goes on from them', async (t) => {
  const file = join(t.testdir(), 'v2.db');
  const old = new BetterSqlite3(file);
  old.pragma('journal_mode = WAL');
  migrate(old, file, migrations.filter((m) => m.version <= 2));
  const at = '2024-12-31T23:00:00.000Z';
  old.prepare(
    `INSERT INTO transactions (id, service, status, end_reason, cash_in, credited, created_at, updated_at)
     VALUES ('old-1', 'pay', 'completed', 'paid', 5000, 5000, ?, ?)`,
  ).run(at, at);
  const ev = old.prepare('INSERT INTO events (txn_id, type, data, at) VALUES (?, ?, ?, ?)');
  ev.run('old-1', 'txn.started', JSON.stringify({ service: 'pay' }), at);
  ev.run('old-1', 'note.stacked', JSON.stringify({ note: yuan50 }), at);
  ev.run('old-1', 'txn.settled', JSON.stringify({ endReason: 'paid', cashIn: 5000, credited: 5000, changeDue: 0 }), at);
  old.prepare(
    `INSERT INTO outbox (message_id, txn_id, kind, payload, created_at) VALUES ('old-1:payment', 'old-1', 'payment', ?, ?)`,
  ).run(JSON.stringify({ amount: 5000 }), at);
  old.prepare(`INSERT INTO cashbox (currency, value, count) VALUES ('CNY', 5000, 1)`).run();
  old.close();

  t.throws(() => Journal.open(file, { key: Buffer.from('short') }), /32 bytes/);
  const j = Journal.open(file, { key: testKey, now: clock() });
  t.teardown(() => j.close());
  t.same(j.verifyChain(), { ok: true, events: 4 }, 'the old outbox row is bound by one more event');
  t.same(j.verify(), []);
  t.same(j.events('old-1').map((e) => e.type), ['txn.started', 'note.stacked', 'txn.settled', 'outbox.queued'], 'data kept');
  t.same(j.cashbox(), [{ currency: 'CNY', value: 5000, count: 1 }]);

  busyDay(j);
  t.match(j.verifyChain(), { ok: true });
  t.same(j.verify(), []);
  const db = new BetterSqlite3(file, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  t.equal((db.prepare('SELECT prev_hash FROM events WHERE seq = 1').get() as { prev_hash: string }).prev_hash, GENESIS);
});

t.test('a version-2 file with events is not migrated without the key', async (t) => {
  const file = join(t.testdir(), 'v2.db');
  const old = new BetterSqlite3(file);
  old.pragma('journal_mode = WAL');
  migrate(old, file, migrations.filter((m) => m.version <= 2));
  old.prepare(`INSERT INTO events (type, data, at) VALUES ('operator.in-service', '{}', 'x')`).run();
  t.throws(() => migrate(old, file, migrations), /migration 3 failed: 1 events .* must be sealed with the journal key/);
  t.equal(old.pragma('user_version', { simple: true }), 2, 'left as it was');
  old.close();
});

t.test('cash collection that agrees with the journal', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  // @ts-expect-error a money type is written by its own method, never by append()
  t.throws(() => j.append(null, 'cashbox.collected', {}), /own Journal method/);
  // @ts-expect-error a money type is written by its own method, never by append()
  t.throws(() => j.append(null, 'hopper.refill', {}), /own Journal method/);

  const r = j.cashCollected('zhang', { 10000: 1, 5000: 1, 2000: 1 });
  t.same(r, {
    expected: { 2000: 1, 5000: 1, 10000: 1 },
    counted: { 2000: 1, 5000: 1, 10000: 1 },
    difference: { 2000: 0, 5000: 0, 10000: 0 },
    ok: true,
    confirmed: [],
  });
  t.same(j.cashbox(), [], 'a new, empty cash box');
  t.equal(j.cashboxTotal(), 0);
  const db = new BetterSqlite3(j.path, { readonly: true });
  t.teardown(() => db.close());
  const types = (db.prepare('SELECT type FROM events ORDER BY seq DESC LIMIT 2').all() as { type: string }[]).map((e) => e.type);
  t.same(types, ['cashbox.collected', 'operator.in-service'], 'no alarm');
  const ev = db.prepare(`SELECT data FROM events WHERE type = 'cashbox.collected'`).get() as { data: string };
  t.match(JSON.parse(ev.data), { by: 'zhang', currency: 'CNY', expectedTotal: 17000, countedTotal: 17000, ok: true });
  t.same(j.verify(), []);

  j.startTransaction('after', 'pay');
  j.noteStacked('after', yuan100);
  j.settle('after', { endReason: 'paid' });
  t.same(j.cashbox(), [{ currency: 'CNY', value: 10000, count: 1 }]);
  t.same(j.verify(), [], 'the new box holds only the notes stacked since the collection');
  t.match(j.verifyChain(), { ok: true });
});

t.test('cash collection with a difference raises an alarm, and the box still restarts at zero', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  const r = j.cashCollected('zhang', { 10000: 1, 2000: 2, 500: 0 });
  t.same(r, {
    expected: { 2000: 1, 5000: 1, 10000: 1 },
    counted: { 2000: 2, 10000: 1 },
    difference: { 2000: 1, 5000: -1, 10000: 0 },
    ok: false,
    confirmed: [],
  });
  t.same(j.cashbox(), []);
  const db = new BetterSqlite3(j.path, { readonly: true });
  t.teardown(() => db.close());
  const [alarm, collected] = (db.prepare('SELECT seq, type, data FROM events ORDER BY seq DESC LIMIT 2').all() as {
    seq: number;
    type: string;
    data: string;
  }[]);
  t.equal(collected!.type, 'cashbox.collected');
  t.equal(alarm!.type, 'alarm.cash-difference');
  t.same(JSON.parse(alarm!.data), {
    by: 'zhang',
    collection: collected!.seq,
    difference: { 2000: 1, 5000: -1 },
    expectedTotal: 17000,
    countedTotal: 14000,
    shortBy: 3000,
  });
  t.same(j.verify(), [], 'a difference is an alarm, not a broken journal');

  j.startTransaction('after', 'topup');
  j.noteStacked('after', yuan20);
  j.settle('after', { endReason: 'paid' });
  t.same(j.verify(), []);

  // A collection whose recorded expectation does not match the notes stacked before it is caught.
  const w = new BetterSqlite3(j.path);
  t.teardown(() => w.close());
  w.prepare(`UPDATE cashbox SET count = 2 WHERE value = 2000`).run();
  t.match(j.verify(), [/cash box CNY 2000: counter 2 != notes stacked since the last collection 1/]);
});

t.test('cash collection refuses bad counts and changes nothing', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  const before = j.cashbox();
  t.throws(() => j.cashCollected('zhang', { 10000: -1 }), /whole number >= 0/);
  t.throws(() => j.cashCollected('zhang', { 10000: 1.5 }), /whole number >= 0/);
  t.throws(() => j.cashCollected('zhang', { 0: 1 }), /above 0/);
  t.throws(() => j.cashCollected('zhang', { [-100]: 1 }), /above 0/);
  t.throws(() => j.cashCollected('zhang', { 10000: '1' as unknown as number }), /whole number >= 0/);
  t.throws(() => j.cashCollected('', { 10000: 1 }), /by must be/);
  t.same(j.cashbox(), before);
  t.same(j.verify(), []);
});

t.test('hopper refill', async (t) => {
  const j = openJournal(t);
  busyDay(j);
  t.same(j.hopperLevels(), [{ name: 'hopper-100', coinValue: 100, level: 47 }]);
  t.equal(j.hopperRefilled('hopper-100', 200, 'zhang'), 247);
  t.same(j.hopperLevels(), [{ name: 'hopper-100', coinValue: 100, level: 247 }]);
  t.throws(() => j.hopperRefilled('hopper-50', 10, 'zhang'), /unknown hopper "hopper-50"/);
  t.throws(() => j.hopperRefilled('hopper-100', 0, 'zhang'), />= 1/);
  t.throws(() => j.hopperRefilled('hopper-100', -5, 'zhang'), />= 1/);
  t.throws(() => j.hopperRefilled('hopper-100', 2.5, 'zhang'), />= 1/);
  t.same(j.verify(), [], 'the refill is counted by the hopper level check');

  const db = new BetterSqlite3(j.path);
  t.teardown(() => db.close());
  const ev = db.prepare(`SELECT data FROM events WHERE type = 'hopper.refill'`).get() as { data: string };
  t.same(JSON.parse(ev.data), { hopper: 'hopper-100', coinValue: 100, added: 200, previous: 47, level: 247, by: 'zhang' });
  db.prepare(`UPDATE hoppers SET level = 300`).run();
  t.match(j.verify(), [/hopper "hopper-100": level 300 != last set level plus refills minus coins paid 247/]);
});
