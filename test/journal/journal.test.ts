import t, { type Test } from 'tap';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Note } from '../../drivers/types.js';
import { Journal, openDatabase } from '../../src/journal/index.js';
import { testKey } from './keys.js';

const yuan100: Note = { value: 10000, currency: 'CNY', code: 0x67 };
const yuan50: Note = { value: 5000, currency: 'CNY', code: 0x66 };
const yuan20: Note = { value: 2000, currency: 'CNY', code: 0x65 };

/** A clock that moves one second per reading, so timestamps are distinct and predictable. */
function clock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2025, 0, 1, 8, 0, tick++));
}

function openJournal(t: Test, name = 'journal.db'): Journal {
  const j = Journal.open(join(t.testdir(), name), { key: testKey, now: clock() });
  t.teardown(() => j.close());
  return j;
}

function counts(file: string): { events: number; outbox: number } {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const events = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    const outbox = (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
    return { events, outbox };
  } finally {
    db.close();
  }
}

t.test('a full cash payment: rows, events in order, cash box, one outbox message', async (t) => {
  const j = openJournal(t);
  const started = j.startTransaction('tx-1', 'pay');
  t.match(started, { id: 'tx-1', service: 'pay', status: 'open', cashIn: 0, credited: 0, phone: null });

  j.recordLookup('tx-1', { phone: '13800138000', amountDue: 15000, holder: 'Zhang' });
  j.noteEscrowed('tx-1', yuan100);
  t.same(j.pendingEscrow('tx-1'), yuan100);
  j.noteStacked('tx-1', yuan100, 'vend-valid');
  t.equal(j.pendingEscrow('tx-1'), null);
  j.noteEscrowed('tx-1', yuan50);
  j.noteStacked('tx-1', yuan50);

  const open = j.transaction('tx-1')!;
  t.match(open, { status: 'open', cashIn: 15000, credited: 15000, phone: '13800138000', amountDue: 15000 });

  const done = j.settle('tx-1', { endReason: 'paid' });
  t.match(done, {
    status: 'completed',
    endReason: 'paid',
    cashIn: 15000,
    credited: 15000,
    changePaid: 0,
    changeOwed: 0,
  });

  const events = j.events('tx-1');
  t.same(
    events.map((e) => e.type),
    ['txn.started', 'txn.lookup', 'note.escrowed', 'note.stacked', 'note.escrowed', 'note.stacked', 'txn.settled', 'outbox.queued'],
  );
  t.ok(events.every((e, i) => i === 0 || e.seq > events[i - 1]!.seq), 'seq increases');
  t.same(events[1]!.data, { phone: '13800138000', amountDue: 15000, holder: 'Zhang' });
  t.same(events[3]!.data, { note: yuan100, via: 'vend-valid' });
  t.same(events[6]!.data, { endReason: 'paid', cashIn: 15000, credited: 15000, changeDue: 0 });
  t.equal(done.claimCode, null);

  t.same(j.cashbox(), [
    { currency: 'CNY', value: 5000, count: 1 },
    { currency: 'CNY', value: 10000, count: 1 },
  ]);
  t.equal(j.cashboxTotal(), 15000);

  const outbox = j.outboxPending(10);
  t.equal(outbox.length, 1);
  t.match(outbox[0], { messageId: 'tx-1:payment', txnId: 'tx-1', kind: 'payment', attempts: 0, ackedAt: null });
  t.same(outbox[0]!.payload, {
    messageId: 'tx-1:payment',
    txnId: 'tx-1',
    service: 'pay',
    phone: '13800138000',
    amount: 15000,
    currency: 'CNY',
    cashIn: 15000,
    settledAt: events[6]!.at,
  });
  t.same(j.openTransactions(), []);
  t.same(j.verify(), []);
});

t.test('settle with change due moves it from the credit to change owed, under a claim code', async (t) => {
  const j = openJournal(t);
  j.startTransaction('tx-c', 'pay');
  j.noteStacked('tx-c', yuan100);
  const done = j.settle('tx-c', { endReason: 'paid', changeDue: 2500, claimCode: 'K7Q2' });
  t.match(done, { cashIn: 10000, credited: 7500, changePaid: 0, changeOwed: 2500, claimCode: 'K7Q2' });
  t.same(j.events('tx-c').at(-2)!.data, {
    endReason: 'paid',
    cashIn: 10000,
    credited: 7500,
    changeDue: 2500,
    claimCode: 'K7Q2',
  });
  t.equal(j.outboxPending(5)[0]!.payload.amount, 7500);
  t.same(j.verify(), []);

  j.startTransaction('tx-over', 'pay');
  j.noteStacked('tx-over', yuan20);
  t.throws(() => j.settle('tx-over', { endReason: 'paid', changeDue: 2001, claimCode: 'X1' }), /exceeds cash in 2000/);
  t.throws(() => j.settle('tx-over', { endReason: 'paid', changeDue: 500 }), /claimCode \(needed when change is due\)/);
  t.throws(
    () => j.settle('tx-over', { endReason: 'paid', changeDue: 500, claimCode: 'K7Q2' }),
    /claim code "K7Q2" is already used by "tx-c"/,
  );
  t.equal(j.transaction('tx-over')!.status, 'open');

  const exact = j.settle('tx-over', { endReason: 'paid', claimCode: 'UNUSED' });
  t.match(exact, { credited: 2000, changeOwed: 0, claimCode: null }, 'a code without change due is not kept');
  t.same(j.verify(), []);
});

t.test('a settle that credits nothing queues no message', async (t) => {
  const j = openJournal(t);
  j.startTransaction('tx-l', 'lookup');
  j.recordLookup('tx-l', { phone: '13900000000', amountDue: null, offline: true });
  t.match(j.settle('tx-l', { endReason: 'shown' }), { status: 'completed', credited: 0 });
  t.equal(j.outboxStats().pending, 0);
  t.same(j.verify(), []);
});

t.test('events are append-only', async (t) => {
  const j = openJournal(t);
  j.startTransaction('tx-a', 'pay');
  const db = openDatabase(j.path);
  t.teardown(() => db.close());
  t.throws(() => db.prepare(`UPDATE events SET type = 'forged'`).run(), /append-only/);
  t.throws(() => db.prepare('DELETE FROM events').run(), /append-only/);
  t.same(
    j.events('tx-a').map((e) => e.type),
    ['txn.started'],
  );
});

t.test('settling twice throws and writes nothing', async (t) => {
  const j = openJournal(t);
  j.startTransaction('tx-2', 'topup');
  j.noteStacked('tx-2', yuan50);
  j.settle('tx-2', { endReason: 'paid' });
  const before = counts(j.path);
  const row = j.transaction('tx-2');
  t.throws(() => j.settle('tx-2', { endReason: 'again' }), /cannot settle transaction "tx-2": it is completed/);
  t.same(counts(j.path), before);
  t.same(j.transaction('tx-2'), row);
  t.same(j.verify(), []);
});

t.test('status changes need an open transaction; money in cannot be cancelled', async (t) => {
  const j = openJournal(t);
  j.startTransaction('tx-3', 'pay');
  j.noteStacked('tx-3', yuan20);
  t.throws(() => j.cancel('tx-3', 'timeout'), /cannot cancel "tx-3": it holds cash in 2000/);
  t.equal(j.transaction('tx-3')!.status, 'open');

  j.startTransaction('tx-4', 'pay');
  j.noteEscrowed('tx-4', yuan20);
  t.match(j.cancel('tx-4', 'timeout'), { status: 'cancelled', endReason: 'timeout' });
  // The escrowed note physically leaves after the cancel; that fact must still be recorded.
  j.noteReturned('tx-4', yuan20, 'cancelled');
  t.equal(j.pendingEscrow('tx-4'), null);
  t.throws(() => j.cancel('tx-4', 'again'), /it is cancelled/);
  t.throws(() => j.noteStacked('tx-4', yuan20), /it is cancelled/);
  t.throws(() => j.noteEscrowed('tx-4', yuan20), /it is cancelled/);
  t.throws(() => j.recordLookup('tx-4', { phone: '1', amountDue: 1 }), /it is cancelled/);
  t.throws(() => j.startTransaction('tx-4', 'pay'), /already exists/);
  t.same(j.verify(), []);
});

t.test('unknown transaction ids are clear errors', async (t) => {
  const j = openJournal(t);
  const unknown = /unknown transaction "nope"/;
  t.throws(() => j.noteStacked('nope', yuan20), unknown);
  t.throws(() => j.noteEscrowed('nope', yuan20), unknown);
  t.throws(() => j.noteReturned('nope', yuan20, 'x'), unknown);
  t.throws(() => j.settle('nope', { endReason: 'x' }), unknown);
  t.throws(() => j.cancel('nope', 'x'), unknown);
  t.throws(() => j.recordLookup('nope', { phone: '1', amountDue: null }), unknown);
  t.throws(() => j.append('nope', 'operator.in-service', { by: 'li' }), unknown);
  t.throws(() => j.events('nope'), unknown);
  t.throws(() => j.pendingEscrow('nope'), unknown);
  t.equal(j.transaction('nope'), undefined);
  t.equal(counts(j.path).events, 0);
});

t.test('floats, negatives and bad notes are rejected before touching the db', async (t) => {
  const j = openJournal(t);
  j.startTransaction('tx-5', 'pay');
  j.noteStacked('tx-5', yuan100);
  const before = counts(j.path);
  t.throws(() => j.noteStacked('tx-5', { ...yuan100, value: 100.5 }), /note value must be a whole number of fen/);
  t.throws(() => j.noteStacked('tx-5', { ...yuan100, value: -10000 }), /note value must be a whole number of fen/);
  t.throws(() => j.noteStacked('tx-5', { ...yuan100, value: 0 }), /above 0/);
  t.throws(() => j.noteEscrowed('tx-5', { ...yuan100, currency: 'yuan' }), /ISO 4217/);
  t.throws(() => j.noteEscrowed('tx-5', { ...yuan100, code: 1.5 }), /code must be an integer/);
  t.throws(() => j.settle('tx-5', { endReason: 'paid', changeDue: 0.1, claimCode: 'C' }), /changeDue must be a whole/);
  t.throws(() => j.settle('tx-5', { endReason: 'paid', changeDue: -1, claimCode: 'C' }), /changeDue must be a whole/);
  t.throws(() => j.settle('tx-5', { endReason: 'paid', changeDue: Number.NaN, claimCode: 'C' }), /changeDue/);
  t.throws(() => j.recordLookup('tx-5', { phone: '138', amountDue: 12.34 }), /amountDue/);
  t.throws(() => j.startTransaction('tx-6', 'cash' as 'pay'), /unknown service/);
  t.throws(() => j.startTransaction('', 'pay'), /transaction id must be a non-empty string/);
  t.same(counts(j.path), before);
  t.match(j.transaction('tx-5'), { status: 'open', cashIn: 10000 });
});

t.test('append: catalogue facts, with or without a transaction; money types are reserved', async (t) => {
  const j = openJournal(t);
  const alarm = j.append(null, 'device.status', { device: 'bill-validator', health: 'fault', code: 'stacker-full', detail: 'full' });
  t.match(alarm, { txnId: null, type: 'device.status', data: { device: 'bill-validator', code: 'stacker-full' } });
  j.startTransaction('tx-7', 'pay');
  const decision = j.append('tx-7', 'recovery.decision', { txnId: 'tx-7', action: 'cancelled' });
  t.ok(decision.seq > alarm.seq);
  t.same(j.events('tx-7').at(-1), decision);
  // Plain-JS callers are still checked at run time, where the compiler cannot reach.
  // @ts-expect-error the data may not be left out
  t.same(j.append('tx-7', 'operator.note').data, {});
  // @ts-expect-error a money type is written by its own method, never by append()
  t.throws(() => j.append('tx-7', 'note.stacked', { note: yuan100 }), /written only by its own Journal method/);
  // @ts-expect-error a money type is written by its own method, never by append()
  t.throws(() => j.append('tx-7', 'txn.settled'), /written only by its own Journal method/);
  const reserved = ['coin.accepted', 'hopper.level', 'payout.intended', 'payout.done', 'payout.x', 'receipt.failed'];
  for (const type of reserved) {
    // @ts-expect-error not a type append() takes
    t.throws(() => j.append('tx-7', type), /written only by its own Journal method/, type);
  }
  t.equal(j.append('tx-7', 'note.rejected', { reason: 'unknown', code: 0x71 }).type, 'note.rejected', 'other note.* facts stay free');
  // @ts-expect-error not a type append() takes
  t.throws(() => j.append(null, ''), /event type must be a non-empty string/);
  // @ts-expect-error the data must survive JSON
  t.throws(() => j.append(null, 'operator.in-service', { by: 1n }), /cannot be stored as JSON/);
  t.same(j.verify(), []);
});

t.test('pendingEscrow and lastNoteEvent', async (t) => {
  const j = openJournal(t);
  t.equal(j.lastNoteEvent(), null);
  j.startTransaction('a', 'pay');
  t.equal(j.pendingEscrow('a'), null);
  j.noteEscrowed('a', yuan100);
  t.same(j.lastNoteEvent(), { txnId: 'a', type: 'note.escrowed', note: yuan100 });
  j.noteReturned('a', yuan100, 'over-limit');
  t.equal(j.pendingEscrow('a'), null);
  t.same(j.lastNoteEvent(), { txnId: 'a', type: 'note.returned', note: yuan100 });
  j.noteEscrowed('a', yuan20);
  j.append('a', 'device.status', { device: 'validator', health: 'ok', code: 'ok', detail: 'idle' });
  t.same(j.pendingEscrow('a'), yuan20, 'other events do not hide a pending escrow');

  j.startTransaction('b', 'topup');
  j.noteEscrowed('b', yuan50);
  j.noteStacked('b', yuan50);
  t.same(j.lastNoteEvent(), { txnId: 'b', type: 'note.stacked', note: yuan50 });
  t.same(j.pendingEscrow('a'), yuan20, 'escrow state is per transaction');
  t.equal(j.pendingEscrow('b'), null);
});

t.test('outbox: failed attempt, ack, duplicate ack, unknown id', async (t) => {
  const j = openJournal(t);
  for (const id of ['o-1', 'o-2']) {
    j.startTransaction(id, 'topup');
    j.noteStacked(id, yuan20);
    j.settle(id, { endReason: 'paid' });
  }
  const first = j.outboxPending(10);
  t.same(
    first.map((m) => m.messageId),
    ['o-1:payment', 'o-2:payment'],
  );
  t.same(j.outboxPending(1).map((m) => m.messageId), ['o-1:payment']);
  t.match(j.outboxStats(), { pending: 2, acked: 0, oldestPendingAt: first[0]!.createdAt });

  j.markSent('o-1:payment', { ok: false, error: 'ECONNREFUSED' });
  t.match(j.outboxPending(10)[0], { messageId: 'o-1:payment', attempts: 1, lastError: 'ECONNREFUSED', ackedAt: null });

  j.markSent('o-1:payment', { ok: true, serverRef: 'srv-77' });
  const acked = j.outboxPending(10);
  t.same(acked.map((m) => m.messageId), ['o-2:payment']);
  t.match(j.outboxStats(), { pending: 1, acked: 1, oldestPendingAt: acked[0]!.createdAt });

  const db = openDatabase(j.path);
  t.teardown(() => db.close());
  const row = () => db.prepare(`SELECT * FROM outbox WHERE message_id = 'o-1:payment'`).get();
  const afterAck = row() as { attempts: number; acked_at: string | null; server_ref: string | null };
  t.match(afterAck, { attempts: 2, server_ref: 'srv-77' });
  t.ok(afterAck.acked_at);

  j.markSent('o-1:payment', { ok: true, serverRef: 'srv-other' });
  j.markSent('o-1:payment', { ok: false, error: 'late failure' });
  t.same(row(), afterAck, 'a second ack or a late failure changes nothing');

  j.markSent('never-sent', { ok: true });
  t.match(j.outboxStats(), { pending: 1, acked: 1 });
  t.throws(() => j.outboxPending(0), /limit/);
  t.same(j.verify(), []);
});

t.test('verify finds tampering with the money records', async (t) => {
  const j = openJournal(t);
  j.startTransaction('v-1', 'pay');
  j.noteStacked('v-1', yuan100);
  j.settle('v-1', { endReason: 'paid' });
  j.startTransaction('v-2', 'pay');
  j.noteStacked('v-2', yuan20);
  t.same(j.verify(), []);

  const db = new BetterSqlite3(j.path);
  t.teardown(() => db.close());
  db.prepare(`UPDATE cashbox SET count = count + 1 WHERE value = 2000`).run();
  t.match(j.verify(), [/cash box CNY 2000: counter 2 != notes stacked since the last collection 1/]);
  db.prepare(`UPDATE cashbox SET count = 1 WHERE value = 2000`).run();

  db.prepare(`UPDATE transactions SET cash_in = 12000, credited = 12000 WHERE id = 'v-1'`).run();
  const problems = j.verify();
  t.match(problems, [
    /"v-1": cash in 12000 != stacked notes 10000/,
    /"v-1": credited 12000 but its payment message says 10000/,
  ]);
  db.prepare(`UPDATE transactions SET cash_in = 10000, credited = 10000 WHERE id = 'v-1'`).run();

  db.prepare(`DELETE FROM outbox WHERE txn_id = 'v-1'`).run();
  t.match(j.verify(), [/"v-1": credited 10000 but 0 payment messages/]);
});

t.test('listTransactions is newest first; openTransactions lists only open ones', async (t) => {
  const j = openJournal(t);
  j.startTransaction('l-1', 'pay');
  j.startTransaction('l-2', 'topup');
  j.startTransaction('l-3', 'lookup');
  j.cancel('l-2', 'customer');
  t.same(j.listTransactions().map((r) => r.id), ['l-3', 'l-2', 'l-1']);
  t.same(j.listTransactions({ limit: 2 }).map((r) => r.id), ['l-3', 'l-2']);
  t.same(j.openTransactions().map((r) => r.id), ['l-1', 'l-3']);
});

t.test('records survive close and reopen', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'j.db');
  const a = Journal.open(file, { key: testKey });
  a.startTransaction('r-1', 'pay');
  a.noteStacked('r-1', yuan50);
  a.close();
  const b = Journal.open(file, { key: testKey });
  t.teardown(() => b.close());
  t.equal(b.path, file);
  t.match(b.transaction('r-1'), { status: 'open', cashIn: 5000 });
  t.equal(b.cashboxTotal(), 5000);
});

