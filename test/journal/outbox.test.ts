import t, { type Test } from 'tap';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';
import { testKey } from './keys.js';

function clock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2025, 0, 1, 8, 0, tick++));
}

function openJournal(t: Test): { j: Journal; path: string } {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey, now: clock() });
  t.teardown(() => j.close());
  return { j, path };
}

function settledPayment(j: Journal, id: string, amount: number): void {
  j.startTransaction(id, 'topup');
  j.recordLookup(id, { phone: '13800138000', amountDue: null, offline: true });
  j.noteStacked(id, { value: amount, currency: 'CNY', code: 1 });
  j.settle(id, { endReason: 'topped-up' });
}

t.test('a reversal is journalled and queued in one commit, once per reversed request', async (t) => {
  const { j, path } = openJournal(t);
  j.startTransaction('card-1', 'pay');
  const r = j.queueReversal('card-1', { reverses: 'card-1:authorise', amount: 5000, reason: 'no answer to the authorisation' });
  t.same(r, {
    messageId: 'card-1:reversal:card-1:authorise',
    txnId: 'card-1',
    reverses: 'card-1:authorise',
    amount: 5000,
    currency: 'CNY',
    reason: 'no answer to the authorisation',
    createdAt: r.createdAt,
  });
  const [row] = j.outboxPending(10);
  t.match(row, { messageId: r.messageId, txnId: 'card-1', kind: 'reversal', payload: r, attempts: 0 });
  const events = j.events('card-1').map((e) => e.type);
  t.same(events, ['txn.started', 'txn.reversal', 'outbox.queued']);

  t.same(j.queueReversal('card-1', { reverses: 'card-1:authorise', amount: 5000, reason: 'asked again' }), r, 'asking again returns the first');
  t.equal(j.outboxStats().pending, 1);
  t.equal(j.events('card-1').length, 3, 'and journals nothing new');

  t.throws(() => j.queueReversal('nope', { reverses: 'x', amount: 1, reason: 'r' }), /unknown transaction/);
  t.throws(() => j.queueReversal('card-1', { reverses: '', amount: 1, reason: 'r' }), /reverses/);
  t.throws(() => j.queueReversal('card-1', { reverses: 'x', amount: 0, reason: 'r' }), /amount/);
  // @ts-expect-error a money type is written by its own method, never by append()
  t.throws(() => j.append('card-1', 'txn.reversal', {}), /written only by its own Journal method/);
  t.equal(j.outboxStats().pending, 1, 'refused calls queued nothing');
  t.same(j.verify(), [], 'a reversal does not upset the money invariants');

  // A reversal that cannot be journalled is not queued either.
  const broken = new (await import('better-sqlite3')).default(path);
  broken.exec(`CREATE TRIGGER no_reversal BEFORE INSERT ON outbox WHEN NEW.kind = 'reversal' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);
  broken.close();
  t.throws(() => j.queueReversal('card-1', { reverses: 'card-1:second', amount: 100, reason: 'r' }), /disk trouble/);
  t.equal(j.events('card-1').length, 3, 'the event rolled back with the outbox row');
});

t.test('markSentAll records a whole batch; unknown and already-acked ids change nothing', async (t) => {
  const { j } = openJournal(t);
  for (const id of ['a', 'b', 'c']) settledPayment(j, id, 1000);
  t.equal(j.outboxOldestPendingAt(), j.outboxPending(1)[0]!.createdAt);
  j.markSentAll([
    { messageId: 'a:payment', result: { ok: true, serverRef: 'R1' } },
    { messageId: 'b:payment', result: { ok: false, error: 'no ack' } },
    { messageId: 'ghost', result: { ok: true, serverRef: 'R9' } },
  ]);
  j.markSentAll([
    { messageId: 'a:payment', result: { ok: false, error: 'late failure' } },
    { messageId: 'b:payment', result: { ok: true, serverRef: 'R2' } },
  ]);
  const pending = j.outboxPending(10);
  t.same(pending.map((p) => [p.messageId, p.attempts]), [['c:payment', 0]]);
  t.equal(j.outboxOldestPendingAt(), pending[0]!.createdAt, 'the oldest is now c');
  t.match(j.outboxStats(), { pending: 1, acked: 2 });
  t.throws(() => j.markSentAll([{ messageId: 'c:payment', result: { ok: false, error: '' } }]), /error/);
  j.markSent('c:payment', { ok: true, serverRef: 'R3' });
  t.equal(j.outboxOldestPendingAt(), null);
});
