import t from 'tap';
import { crashAfter, parseCrashAfter } from '../../hw-sim/crash-seam.js';

t.test('a crash point is a type, or a type and which of its commits', async (t) => {
  t.same(parseCrashAfter('note.stacked'), { type: 'note.stacked', nth: 1 });
  t.same(parseCrashAfter('payout.started#3'), { type: 'payout.started', nth: 3 });
  for (const bad of ['', 'note.stacked#0', 'note.stacked#', 'a b', '#2']) t.throws(() => parseCrashAfter(bad), /is not "type" or "type#n"/, JSON.stringify(bad));
});

t.test('the observer kills after the nth commit of its type, and only then', async (t) => {
  let kills = 0;
  const observe = crashAfter('note.stacked#2', () => (kills += 1));
  observe({ type: 'note.escrowed', txnId: 'T1' });
  observe({ type: 'note.stacked', txnId: 'T1' });
  t.equal(kills, 0, 'the first is not the second');
  observe({ type: 'note.escrowed', txnId: 'T1' });
  t.equal(kills, 0, 'other types do not count');
  observe({ type: 'note.stacked', txnId: 'T1' });
  t.equal(kills, 1);
  observe({ type: 'note.stacked', txnId: 'T1' });
  t.equal(kills, 1, 'once');
});
