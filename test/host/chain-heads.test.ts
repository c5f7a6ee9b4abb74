import t from 'tap';
import Database from 'better-sqlite3';
import { ChainHeadBook } from '../../hw-sim/host/chain-heads.js';

// What a reference server keeps of each terminal's chain head (issue 15, item 2).

const h = (seq: number, c: string) => ({ seq, hash: c.repeat(64) });

t.test('the highest head per terminal; an older or forked report is an anomaly', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  const book = new ChainHeadBook(db, 'heads');
  const at = '2025-01-01T00:00:00.000Z';
  t.same(book.report('K1', h(5, 'a'), at), { highest: h(5, 'a'), anomaly: null }, 'a terminal never heard of');
  t.same(book.report('K1', h(9, 'b'), at), { before: h(5, 'a'), highest: h(9, 'b'), anomaly: null }, 'it moves on');
  t.same(book.report('K1', h(9, 'b'), at), { before: h(9, 'b'), highest: h(9, 'b'), anomaly: null }, 'the same head again');
  t.match(book.report('K1', h(7, 'c'), at), { highest: h(9, 'b'), anomaly: { kind: 'chain-rolled-back', detail: /ending at event 7; it reported event 9 before/ } });
  t.match(book.report('K1', h(5, 'd'), at), { highest: h(9, 'b'), anomaly: { kind: 'chain-forked' } }, 'a seq seen before with another hash');
  t.same(book.report('K2', h(1, 'e'), at), { highest: h(1, 'e'), anomaly: null }, 'each terminal on its own');
  t.same(
    book.all().map((r) => [r.terminalId, r.seq]),
    [
      ['K1', 5],
      ['K1', 7],
      ['K1', 9],
      ['K2', 1],
    ],
  );
});

t.test('reset: the operator forgets one terminal\'s heads after a journal replaced on purpose', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  const book = new ChainHeadBook(db, 'heads');
  const at = '2025-01-01T00:00:00.000Z';
  book.report('K1', h(5, 'a'), at);
  book.report('K1', h(9, 'b'), at);
  book.report('K2', h(3, 'c'), at);
  t.match(book.report('K1', h(4, 'd'), at), { anomaly: { kind: 'chain-rolled-back' } }, 'the new journal is below the old head');
  t.equal(book.reset('K1'), 3, 'the rows forgotten');
  t.same(book.report('K1', h(5, 'e'), at), { highest: h(5, 'e'), anomaly: null }, 'the new journal starts the record afresh, even at a seq seen before');
  t.same(
    book.all().map((r) => [r.terminalId, r.seq]),
    [
      ['K1', 5],
      ['K2', 3],
    ],
    'other terminals are untouched',
  );
});
