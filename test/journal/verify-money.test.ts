import t from 'tap';
import { CashIn } from '../../src/journal/cash-in.js';
import { Transactions } from '../../src/journal/transactions.js';
import { MoneyCheck } from '../../src/journal/verify-money.js';
import { ledger, yuan } from './ledger-fixture.js';

t.test('a sound journal has no money problems; a counter out of step with its events is one', async (t) => {
  const { l, outbox } = ledger(t);
  const txns = new Transactions(l, outbox);
  txns.start('a', 'topup');
  new CashIn(l).noteStacked('a', yuan(10000));
  txns.settle('a', { endReason: 'paid' });
  const check = new MoneyCheck(l);
  t.same(check.problems(), []);
  l.db.prepare('UPDATE cashbox SET count = count + 1').run();
  t.same(check.problems(), ['cash box CNY 10000: counter 2 != notes stacked since the last collection 1']);
});

t.test('a credited transaction without its payment message is reported', async (t) => {
  const { l, outbox } = ledger(t);
  const txns = new Transactions(l, outbox);
  txns.start('a', 'topup');
  new CashIn(l).noteStacked('a', yuan(5000));
  txns.settle('a', { endReason: 'paid' });
  l.db.prepare('DELETE FROM outbox').run();
  t.match(new MoneyCheck(l).problems(), [/transaction "a": credited 5000 but 0 payment messages/]);
});
