/** The reference host's card records: approved − reversed against paid, per transaction, in its own SQLite file. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { hostCommand } from '../../hw-sim/host/command.js';
import { HostStore, type IncomingPayment } from '../../hw-sim/host/store.js';

const approve = { outcome: 'approved' } as const;

function auth(requestId: string, txnId: string, amount: number) {
  return { requestId, txnId, phone: '13800138000', amount, currency: 'CNY', maskedPan: '411111******1111' };
}

function pay(txnId: string, cardIn: number, card?: IncomingPayment['card']): IncomingPayment {
  return {
    messageId: `${txnId}:payment`,
    txnId,
    service: 'pay',
    phone: '13800138000',
    amount: cardIn,
    currency: 'CNY',
    cashIn: 0,
    cardIn,
    ...(card ? { card } : {}),
    settledAt: '2025-01-02T03:04:05.000Z',
  };
}

function reverse(requestId: string, txnId: string, amount: number) {
  return { messageId: `${txnId}:reversal:${requestId}`, txnId, reverses: requestId, amount, currency: 'CNY', reason: 'outcome unknown', createdAt: '2025-01-02T03:04:05.000Z' };
}

t.test('cardBalance: approved − reversed = paid for every card transaction the kiosk settled right', async (t) => {
  const path = join(t.testdir(), 'host.db');
  const store = new HostStore(path);
  t.teardown(() => store.close());

  // Paid: one approval, its payment.
  store.authoriseCard(auth('A-1', 'A', 5000), approve, 'approve');
  store.recordPayment(pay('A', 5000, { method: 'reader', requestId: 'A-1', maskedPan: '411111******1111' }));
  // Time-out, reversed, then a second attempt approved and paid.
  store.authoriseCard(auth('B-1', 'B', 3000), approve, 'timeout');
  store.recordReversal(reverse('B-1', 'B', 3000));
  store.authoriseCard(auth('B-2', 'B', 3000), approve, 'approve');
  store.recordPayment(pay('B', 3000, { method: 'reader', requestId: 'B-2' }));
  // Declined, nothing paid.
  store.authoriseCard(auth('C-1', 'C', 800), { outcome: 'declined', reason: 'insufficient-funds' }, 'decline');
  // Approved and never paid nor reversed: the customer would be charged for nothing.
  store.authoriseCard(auth('D-1', 'D', 1200), approve, 'drop-after-approve');
  // Reversed before it arrived.
  store.recordReversal(reverse('E-1', 'E', 400));
  t.match(store.authoriseCard(auth('E-1', 'E', 400), approve, 'approve'), { status: 'duplicate', answer: { outcome: 'declined', reason: 'reversed' } });
  // Both reversed and paid: the outcome the kiosk must never produce.
  store.authoriseCard(auth('F-1', 'F', 600), approve, 'approve');
  store.recordPayment(pay('F', 600, { method: 'reader', requestId: 'F-1' }));
  store.recordReversal(reverse('F-1', 'F', 600));
  // The terminal path: not this host's to balance.
  store.recordPayment(pay('G', 900, { method: 'terminal', receiptNo: 3 }));

  t.same(store.cardBalance(), [
    { txnId: 'A', approved: 5000, reversed: 0, paid: 5000, balanced: true },
    { txnId: 'B', approved: 6000, reversed: 3000, paid: 3000, balanced: true },
    { txnId: 'C', approved: 0, reversed: 0, paid: 0, balanced: true },
    { txnId: 'D', approved: 1200, reversed: 0, paid: 0, balanced: false },
    { txnId: 'F', approved: 600, reversed: 600, paid: 600, balanced: false },
  ]);
  t.same(
    store.records().anomalies.map((a) => [a.kind, a.txnId]),
    [
      ['authorisation-after-reversal', 'E'],
      ['reversal-of-paid-authorisation', 'F'],
    ],
  );
  t.match(store.records().cardAuthorisations.find((a) => a.requestId === 'E-1'), { outcome: 'tombstone', reversed: true, duplicates: 1 });

  // A kiosk that put a full number where the masked one goes still leaves none in this file.
  store.authoriseCard(auth('H-1', 'H', 100), approve, 'approve');
  store.recordPayment(pay('H', 100, { method: 'reader', requestId: 'H-1', maskedPan: '4111111111111111' }));
  t.equal(store.records().payments.find((p) => p.txnId === 'H')!.card!.maskedPan, '411111******1111');
  store.close();
  const bytes = [path, `${path}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('');
  t.ok(bytes.includes('411111******1111'), 'the scan reads what the store holds');
  t.notOk(bytes.includes('4111111111111111'), 'no full card number in the database file');

  const lines: string[] = [];
  t.equal(await hostCommand({ print: true, db: path } as Parameters<typeof hostCommand>[0], (l) => lines.push(l)), 0);
  const printed = JSON.parse(lines.join('\n'));
  t.equal(printed.cardAuthorisations.length, 8, 'kiosk-sim host --print shows the card authorisations');
  t.same(printed.cardBalance.map((b: { txnId: string; balanced: boolean }) => [b.txnId, b.balanced]), [['A', true], ['B', true], ['C', true], ['D', false], ['F', false], ['H', true]]);
});

t.test('a version 2 database gains the card columns and table; its payments read as cash', async (t) => {
  const path = join(t.testdir(), 'v2.db');
  new HostStore(path).close();
  const db = new Database(path);
  db.exec(`ALTER TABLE payments DROP COLUMN card_in; ALTER TABLE payments DROP COLUMN card_method; ALTER TABLE payments DROP COLUMN card_request_id;
    ALTER TABLE payments DROP COLUMN card_receipt_no; ALTER TABLE payments DROP COLUMN card_masked_pan; DROP TABLE card_authorisations; DROP TABLE claims; DROP TABLE claim_messages;
    INSERT INTO payments (seq, txn_id, message_id, phone, service, amount, currency, cash_in, settled_at, server_ref, received_at)
      VALUES (1, 'OLD', 'OLD:payment', '13800138000', 'pay', 100, 'CNY', 100, '2024-01-01T00:00:00Z', 'P000001', '2024-01-01T00:00:01Z');
    PRAGMA user_version = 2;`);
  db.close();
  const store = new HostStore(path);
  t.teardown(() => store.close());
  t.match(store.records(), { payments: [{ txnId: 'OLD', cardIn: 0, card: null }], cardAuthorisations: [], cardBalance: [] });
  t.equal(store.db.pragma('user_version', { simple: true }), 4, 'through version 3 (cards) and 4 (claims)');
  t.match(store.recordPayment({ ...pay('OLD', 0), cashIn: 100, amount: 100 }), { status: 'duplicate' }, 'a resent cash payment without cardIn is still the same payment');
});
