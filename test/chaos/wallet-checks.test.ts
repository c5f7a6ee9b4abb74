import { join } from 'node:path';
import t from 'tap';
import { checkWallet } from '../../hw-sim/chaos/wallet-checks.js';
import { generatePlan } from '../../hw-sim/chaos/plan.js';
import { Journal } from '../../src/journal/index.js';
import { testKey } from '../journal/keys.js';

// The campaign's wallet checks find what they are there for: a gateway that kept money the payment
// does not say, a revoke never acknowledged, mobile money the gateway did not keep.
const walletPlan = (() => {
  for (let seed = 1; ; seed++) {
    const p = generatePlan(seed);
    if (p.steps.some((s) => s.kind === 'mobile')) return p;
  }
})();

function journal(t: Tap.Test) {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey });
  t.teardown(() => j.close());
  j.startTransaction('A', 'pay');
  j.recordLookup('A', { phone: '13800138000', amountDue: 3000 });
  j.mobile.requested('A', { paymentId: 'pa', mode: 'qr', wallet: 'any', amount: 3000 });
  j.mobile.paid('A', { paymentId: 'pa' });
  j.settle('A', { endReason: 'paid' });
  j.startTransaction('B', 'pay');
  j.recordLookup('B', { phone: '13800138000', amountDue: 3000 });
  j.mobile.requested('B', { paymentId: 'pb', mode: 'qr', wallet: 'any', amount: 3000 });
  const revoke = j.mobile.unknown('B', { paymentId: 'pb', reason: 'query-limit' });
  j.cancel('B', 'mobile-revoked');
  return { path, j, revoke };
}

t.test('a clean run passes; each planted fault is found', async (t) => {
  const { path, j, revoke } = journal(t);
  const balanced = { balance: () => [{ txnId: 'A', paid: 3000, revoked: 0, settled: 3000, ok: true }, { txnId: 'B', paid: 0, revoked: 0, settled: 0, ok: true }] };
  t.match(checkWallet(path, balanced, walletPlan), [/pb of B: its revoke was never acknowledged/]);
  j.markSent(revoke.messageId, { ok: true, serverRef: 'W1' });
  t.same(checkWallet(path, balanced, walletPlan), []);
  const kept = { balance: () => [{ txnId: 'A', paid: 3000, revoked: 0, settled: 3000, ok: true }, { txnId: 'B', paid: 3000, revoked: 0, settled: 0, ok: false }] };
  t.match(checkWallet(path, kept, walletPlan), [/transaction B: the gateway kept 3000 fen/]);
  const refunded = { balance: () => [{ txnId: 'A', paid: 3000, revoked: 3000, settled: 3000, ok: false }] };
  t.match(checkWallet(path, refunded, walletPlan).join('\n'), /transaction A: mobile in 3000, the gateway kept 0/);
  const cashOnly = generatePlan(2);
  t.notOk(cashOnly.steps.some((s) => s.kind === 'mobile'), 'seed 2 has no wallet step');
  t.match(checkWallet(path, balanced, cashOnly).join('\n'), /in a run without wallet steps/);
});
