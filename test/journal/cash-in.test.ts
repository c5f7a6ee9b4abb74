import t from 'tap';
import { CashIn } from '../../src/journal/cash-in.js';
import { Transactions } from '../../src/journal/transactions.js';
import { ledger, yuan } from './ledger-fixture.js';

t.test('a stacked note and an accepted coin count for the transaction and their boxes', async (t) => {
  const { l, outbox } = ledger(t);
  new Transactions(l, outbox).start('a', 'topup');
  const cash = new CashIn(l);
  cash.noteEscrowed('a', yuan(10000));
  t.same(cash.pendingEscrow('a'), yuan(10000));
  cash.noteStacked('a', yuan(10000), 'recovery');
  t.equal(cash.pendingEscrow('a'), null);
  t.same(cash.lastNoteEvent(), { txnId: 'a', type: 'note.stacked', note: yuan(10000) });
  cash.coinAccepted('a', yuan(100, 5), 7);
  t.match(l.transaction('a'), { cashIn: 10100, credited: 10100 });
  t.same(cash.coinbox(), [{ currency: 'CNY', value: 100, count: 1 }]);
  t.same(l.eventsOf('a', 'note.stacked')[0]!.data, { note: yuan(10000), via: 'recovery' });
});

t.test('the coin counter is the newest one journalled, of a coin or on its own', async (t) => {
  const { l, outbox } = ledger(t);
  new Transactions(l, outbox).start('a', 'topup');
  const cash = new CashIn(l);
  t.equal(cash.coinCounter(), undefined);
  cash.coinAccepted('a', yuan(100), 3);
  t.equal(cash.coinCounter(), 3);
  cash.coinCounterSeen(9);
  t.equal(cash.coinCounter(), 9);
  t.throws(() => cash.coinCounterSeen(256), /event counter/);
  t.throws(() => cash.noteStacked('a', { ...yuan(100), value: 1.5 }), /whole number of fen/);
});
