import t from 'tap';
import { Receipts } from '../../src/journal/receipts.js';
import { Transactions } from '../../src/journal/transactions.js';
import { ledger } from './ledger-fixture.js';

t.test('a failed receipt is listed for a reprint until one comes out', async (t) => {
  const { l, outbox } = ledger(t);
  const txns = new Transactions(l, outbox);
  const receipts = new Receipts(l);
  txns.start('a', 'pay');
  t.throws(() => receipts.printed('a'), /still open/);
  txns.settle('a', { endReason: 'paid' });
  receipts.failed('a', 'paper-out');
  t.same(receipts.reprints(), ['a']);
  receipts.printed('a', { reprint: true });
  t.same(receipts.reprints(), []);
  t.same(l.eventsOf('a', 'receipt.printed').map((e) => e.data), [{ reprint: true }]);
});
