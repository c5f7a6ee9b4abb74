import { join } from 'node:path';
import t from 'tap';
import type { IncomingClaim } from '../../hw-sim/host/claim-store.js';
import { HostStore } from '../../hw-sim/host/store.js';

const open = (over: Partial<IncomingClaim> = {}): IncomingClaim => ({
  messageId: 'T1:claim:1',
  claimId: 'T1:claim:1',
  txnId: 'T1',
  claimCode: 'ABCD-EFGH',
  reason: 'note-unresolved',
  status: 'open',
  phone: '13800138003',
  amount: 5000,
  currency: 'CNY',
  denomination: 5000,
  createdAt: '2025-01-01T00:00:00Z',
  ...over,
});

t.test('the reference server keeps each claim once, and a confirmation marks it', async (t) => {
  const store = new HostStore(join(t.testdir(), 'host.db'));
  t.teardown(() => store.close());
  t.match(store.recordClaim(open(), 'KIOSK-1'), { status: 'accepted', serverRef: /^K\d{6}$/ });
  t.match(store.recordClaim(open(), 'KIOSK-1'), { status: 'duplicate' }, 'a resend changes nothing');
  t.match(store.records().claims, [{ claimId: 'T1:claim:1', status: 'open', phone: '13800138003', amount: 5000, claimCode: 'ABCD-EFGH', duplicates: 1, terminalId: 'KIOSK-1' }]);
  t.match(store.recordClaim(open({ amount: 1000 })), { status: 'conflict' }, 'the same message with another amount');

  const confirmation = open({ messageId: 'T1:claim:1:confirmed', status: 'confirmed', collection: 42 });
  t.match(store.recordClaim(confirmation), { status: 'accepted' });
  t.match(store.recordClaim(confirmation), { status: 'duplicate' });
  t.match(store.records().claims, [{ status: 'confirmed', collection: 42 }]);
  t.match(store.records().anomalies.map((a) => a.kind), ['conflicting-duplicate']);
});

t.test('a credited claim tops the phone account up exactly once', async (t) => {
  const store = new HostStore(join(t.testdir(), 'host.db'));
  t.teardown(() => store.close());
  store.upsertAccount({ phone: '13800138000', amountDue: 0 });
  const credit = open({ messageId: 'T2:claim:1', claimId: 'T2:claim:1', txnId: 'T2', reason: 'change-owed', status: 'credited', phone: '13800138000', amount: 350, denomination: undefined });
  store.recordClaim(credit);
  store.recordClaim(credit);
  t.equal(store.account('13800138000')?.balance, 350);
  t.match(store.recordClaim({ ...credit, messageId: 'T2:claim:other' }), { status: 'conflict' }, 'one claim id, one message');
  t.equal(store.account('13800138000')?.balance, 350);
});
