import t from 'tap';
import { Transactions } from '../../src/journal/transactions.js';
import { ledger } from './ledger-fixture.js';

t.test('start, lookup, settle: the payment message is queued with the settle', async (t) => {
  const { l, outbox } = ledger(t);
  const txns = new Transactions(l, outbox);
  t.match(txns.start('a', 'pay'), { id: 'a', status: 'open', cashIn: 0 });
  txns.lookup('a', { phone: '13800000000', amountDue: 0, holder: 'Li' });
  t.throws(() => txns.start('a', 'pay'), /already exists/);
  t.match(txns.settle('a', { endReason: 'paid' }), { status: 'completed', credited: 0 });
  t.same(outbox.pending(10), [], 'nothing credited, nothing to send');
  t.same(l.events('a').map((e) => e.type), ['txn.started', 'txn.lookup', 'txn.settled']);
  t.same(l.eventsOf('a', 'txn.lookup')[0]!.data, { phone: '13800000000', amountDue: 0, holder: 'Li' });
});

t.test('cancel: only a transaction that took nothing; listing and open ones', async (t) => {
  const { l, outbox } = ledger(t);
  const txns = new Transactions(l, outbox);
  txns.start('a', 'topup');
  txns.start('b', 'lookup');
  t.same(txns.openTransactions().map((r) => r.id), ['a', 'b']);
  t.match(txns.cancel('b', 'timeout'), { status: 'cancelled', endReason: 'timeout' });
  t.throws(() => txns.cancel('b', 'again'), /it is cancelled/);
  t.same(txns.list({ limit: 1 }).map((r) => r.id), ['b'], 'newest first');
});

t.test('the commit observer hears each committed write once, with its events, and never a rolled-back one', async (t) => {
  const { l, outbox, commits } = ledger(t);
  const txns = new Transactions(l, outbox);
  txns.start('a', 'pay');
  t.throws(() => txns.start('a', 'pay'));
  t.throws(() => txns.settle('a', { endReason: 'paid', changeDue: 100, claimCode: 'C1' }), /exceeds cash in/);
  txns.cancel('a', 'gone');
  t.same(commits.map((c) => c.map((e) => e.type)), [['txn.started'], ['txn.cancelled']]);
  t.equal(commits[1]![0]!.txnId, 'a');
});
