import t from 'tap';
import { CashBox } from '../../src/journal/cashbox.js';
import { CashIn } from '../../src/journal/cash-in.js';
import { Claims } from '../../src/journal/claims.js';
import { Transactions } from '../../src/journal/transactions.js';
import { ledger, yuan } from './ledger-fixture.js';

t.test('a collection compares the count with the box, alarms on a difference and empties the box', async (t) => {
  const { l, outbox } = ledger(t);
  new Transactions(l, outbox).start('a', 'topup');
  const cash = new CashIn(l);
  cash.noteStacked('a', yuan(10000));
  cash.noteStacked('a', yuan(5000, 2));
  const box = new CashBox(l, new Claims(l, outbox));
  t.equal(box.total(), 15000);
  t.same(box.collected('wang', { 10000: 1 }), { expected: { 5000: 1, 10000: 1 }, counted: { 10000: 1 }, difference: { 5000: -1, 10000: 0 }, ok: false, confirmed: [] });
  t.same(box.notes(), []);
  const alarm = l.lastOfType('alarm.cash-difference')!;
  t.match(alarm.data, { by: 'wang', shortBy: 5000, difference: { 5000: -1 } });
  t.equal(alarm.data.collection, l.lastOfType('cashbox.collected')!.seq);
  t.same(box.collected('wang', {}).ok, true, 'an empty box counted empty');
  t.throws(() => box.collected('wang', { 0: 1 }), /above 0/);
});
