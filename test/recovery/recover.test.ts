/**
 * Recovery of a note the journal shows in escrow at a restart, on a real journal file: only the
 * validator's own positive report decides it stacked or returned; anything else is unresolved.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import type { Note } from '../../drivers/types.js';
import { Journal } from '../../src/journal/index.js';
import { recoverOpenTransactions, type RecoveryFacts } from '../../src/recovery/recover.js';
import { testKey } from '../journal/keys.js';

const yuan50: Note = { value: 5000, currency: 'CNY', code: 0x66 };
const yuan20: Note = { value: 2000, currency: 'CNY', code: 0x65 };

/** A transaction killed with a 50 yuan note in escrow, after `stacked` notes were credited. */
function crashedWithNoteInEscrow(t: Test, stacked: Note[] = []): Journal {
  const j = Journal.open(join(t.testdir(), 'journal.db'), { key: testKey });
  t.teardown(() => j.close());
  j.startTransaction('k1', 'pay');
  j.recordLookup('k1', { phone: '13800138000', amountDue: 10000 });
  for (const n of stacked) {
    j.noteEscrowed('k1', n);
    j.noteStacked('k1', n, 'vend-valid');
  }
  j.noteEscrowed('k1', yuan50);
  return j;
}

const types = (j: Journal) => j.events('k1').map((e) => e.type);
const ready: RecoveryFacts = { validatorReady: true, noteInStacker: false };

t.test('a jam (or any report that is not a hand-back): unresolved, never returned', async (t) => {
  const j = crashedWithNoteInEscrow(t);
  const decisions = recoverOpenTransactions(j, ready);
  t.same(decisions, [{ txnId: 'k1', action: 'cancelled', unresolved: 5000 }]);
  t.notOk(types(j).includes('note.returned'), 'not journalled as handed back');
  t.match(j.events('k1').find((e) => e.type === 'note.unresolved')?.data, { value: 5000 });
  t.match(j.transaction('k1'), { status: 'cancelled', cashIn: 0 });
  t.same(j.cashbox(), []);
  t.same(j.verify(), []);
});

t.test('unresolved after notes already credited: the transaction settles with those', async (t) => {
  const j = crashedWithNoteInEscrow(t, [yuan20]);
  t.same(recoverOpenTransactions(j, { ...ready, noteHandedBack: false }), [
    { txnId: 'k1', action: 'settled', credited: 2000, returned: 0, unresolved: 5000 },
  ]);
  t.match(j.transaction('k1'), { status: 'completed', cashIn: 2000, credited: 2000 });
  t.same(j.verify(), []);
});

t.test('power-up with the bill in the stacker: stacked and credited', async (t) => {
  const j = crashedWithNoteInEscrow(t);
  t.same(recoverOpenTransactions(j, { validatorReady: true, noteInStacker: true }), [
    { txnId: 'k1', action: 'settled', credited: 5000, returned: 0 },
  ]);
  t.ok(types(j).includes('note.stacked'));
  t.notOk(types(j).includes('note.unresolved'));
});

t.test('the validator handed it back (bill in the acceptor at power-up, or seen coming out): returned', async (t) => {
  const j = crashedWithNoteInEscrow(t);
  t.same(recoverOpenTransactions(j, { ...ready, noteHandedBack: true }), [{ txnId: 'k1', action: 'cancelled' }]);
  t.match(j.events('k1').find((e) => e.type === 'note.returned')?.data, { note: { value: 5000 } });
  t.notOk(types(j).includes('note.unresolved'));
});

t.test('no answer from the validator: deferred, nothing decided', async (t) => {
  const j = crashedWithNoteInEscrow(t);
  t.match(recoverOpenTransactions(j, { validatorReady: false, noteInStacker: false, noteHandedBack: true }), [
    { txnId: 'k1', action: 'deferred' },
  ]);
  t.match(j.transaction('k1'), { status: 'open' });
  t.notOk(types(j).some((e) => e === 'note.returned' || e === 'note.unresolved'));
});
