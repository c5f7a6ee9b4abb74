import t, { type Test } from 'tap';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Coin, Note } from '../../drivers/types.js';
import { Journal } from '../../src/journal/index.js';
import { testKey } from './keys.js';

const yuan100: Note = { value: 10000, currency: 'CNY', code: 0x67 };
const yuan50: Note = { value: 5000, currency: 'CNY', code: 0x66 };
const yuan20: Note = { value: 2000, currency: 'CNY', code: 0x65 };
const coin100: Coin = { value: 100, currency: 'CNY', code: 3 };
const coin50: Coin = { value: 50, currency: 'CNY', code: 2 };

function clock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2025, 0, 1, 8, 0, tick++));
}

function openJournal(t: Test): Journal {
  const j = Journal.open(join(t.testdir(), 'journal.db'), { key: testKey, now: clock() });
  t.teardown(() => j.close());
  return j;
}

/** The money invariant for one transaction, plus the journal-wide audit. */
function balanced(t: Test, j: Journal, id: string, step: string): void {
  const r = j.transaction(id)!;
  t.equal(r.cashIn, r.credited + r.changePaid + r.changeOwed, `${step}: cash in = credited + change paid + owed`);
  t.same(j.verify(), [], `${step}: verify`);
}

/** A completed pay transaction of one 20 yuan note that owes `changeDue`. */
function owing(j: Journal, id: string, changeDue: number): void {
  j.startTransaction(id, 'pay');
  j.noteStacked(id, yuan20);
  j.settle(id, { endReason: 'paid', changeDue, claimCode: `claim-${id}` });
}

t.test('notes and coins in, change out of two hoppers, one of them short', async (t) => {
  const j = openJournal(t);
  j.setHopperLevel('hopper-100', 100, 50, 'filled');
  j.setHopperLevel('hopper-50', 50, 3, 'filled');

  j.startTransaction('tx', 'pay');
  j.recordLookup('tx', { phone: '13800138000', amountDue: 14700 });
  balanced(t, j, 'tx', 'started');
  j.noteStacked('tx', yuan100);
  balanced(t, j, 'tx', 'note 100');
  j.noteStacked('tx', yuan50);
  balanced(t, j, 'tx', 'note 50');
  j.coinAccepted('tx', coin100);
  balanced(t, j, 'tx', 'coin 1');
  j.coinAccepted('tx', coin50);
  balanced(t, j, 'tx', 'coin 0.5');
  t.match(j.transaction('tx'), { status: 'open', cashIn: 15150, credited: 15150 });

  const settled = j.settle('tx', { endReason: 'paid', changeDue: 450, claimCode: 'C-0001' });
  t.match(settled, { status: 'completed', cashIn: 15150, credited: 14700, changePaid: 0, changeOwed: 450 });
  t.equal(j.outboxPending(5)[0]!.payload.amount, 14700, 'the server is told the credited amount');
  balanced(t, j, 'tx', 'settled');

  const p1 = j.payoutIntended('tx', { hopper: 'hopper-100', coinValue: 100, count: 3, eventBefore: 7 });
  balanced(t, j, 'tx', 'payout 1 intended');
  t.throws(
    () => j.payoutIntended('tx', { hopper: 'hopper-50', coinValue: 50, count: 4, eventBefore: 0 }),
    /cannot pay 200 to "tx": change owed 450, of which 300 is already being paid/,
  );
  j.payoutStarted(p1, { event: 8 });
  balanced(t, j, 'tx', 'payout 1 started');
  t.match(j.payoutDone(p1, { paid: 3, unpaid: 0, via: 'await-payout' }), { changePaid: 300, changeOwed: 150 });
  balanced(t, j, 'tx', 'payout 1 done');

  const p2 = j.payoutIntended('tx', { hopper: 'hopper-50', coinValue: 50, count: 3, eventBefore: 254 });
  t.ok(p2 > p1);
  j.payoutStarted(p2, { event: 255 });
  const short = j.payoutDone(p2, { paid: 1, unpaid: 2, via: 'await-payout' });
  t.match(short, { cashIn: 15150, credited: 14700, changePaid: 350, changeOwed: 100, claimCode: 'C-0001' });
  balanced(t, j, 'tx', 'payout 2 done short');

  // The outbox binding written with the settle is checked in the outbox tests.
  t.equal(j.events('tx').filter((e) => e.type === 'outbox.queued').length, 1);
  const events = j.events('tx').filter((e) => e.type !== 'outbox.queued');
  const at = (i: number) => events[i]!.at;
  t.same(j.payouts('tx'), [
    {
      seq: p1,
      txnId: 'tx',
      hopper: 'hopper-100',
      coinValue: 100,
      count: 3,
      eventBefore: 7,
      event: 8,
      paid: 3,
      unpaid: 0,
      status: 'done',
      via: 'await-payout',
      createdAt: at(7),
      doneAt: at(9),
    },
    {
      seq: p2,
      txnId: 'tx',
      hopper: 'hopper-50',
      coinValue: 50,
      count: 3,
      eventBefore: 254,
      event: 255,
      paid: 1,
      unpaid: 2,
      status: 'done',
      via: 'await-payout',
      createdAt: at(10),
      doneAt: at(12),
    },
  ]);
  t.same(j.pendingPayouts(), []);
  t.same(j.hopperLevels(), [
    { name: 'hopper-100', coinValue: 100, level: 47 },
    { name: 'hopper-50', coinValue: 50, level: 2 },
  ]);
  t.same(j.cashbox(), [
    { currency: 'CNY', value: 5000, count: 1 },
    { currency: 'CNY', value: 10000, count: 1 },
  ]);
  t.same(j.coinbox(), [
    { currency: 'CNY', value: 50, count: 1 },
    { currency: 'CNY', value: 100, count: 1 },
  ]);
  t.equal(j.cashboxTotal(), 15000, 'the note cash box does not count coins');

  t.same(
    events.map((e) => e.type),
    [
      'txn.started',
      'txn.lookup',
      'note.stacked',
      'note.stacked',
      'coin.accepted',
      'coin.accepted',
      'txn.settled',
      'payout.intended',
      'payout.started',
      'payout.done',
      'payout.intended',
      'payout.started',
      'payout.done',
    ],
  );
  t.same(events[4]!.data, { coin: coin100 });
  t.same(events[7]!.data, { payout: p1, hopper: 'hopper-100', coinValue: 100, count: 3, eventBefore: 7 });
  t.same(events[8]!.data, { payout: p1, hopper: 'hopper-100', event: 8 });
  t.same(events[12]!.data, {
    payout: p2,
    hopper: 'hopper-50',
    coinValue: 50,
    count: 3,
    paid: 1,
    unpaid: 2,
    amountPaid: 50,
    via: 'await-payout',
  });

  // What stays owed may still be paid later, but never more than that.
  t.throws(
    () => j.payoutIntended('tx', { hopper: 'hopper-50', coinValue: 50, count: 3, eventBefore: 255 }),
    /cannot pay 150 to "tx": change owed 100/,
  );
  const p3 = j.payoutIntended('tx', { hopper: 'hopper-50', coinValue: 50, count: 2, eventBefore: 255 });
  t.same(
    j.pendingPayouts().map((p) => [p.seq, p.status, p.event]),
    [[p3, 'intended', null]],
  );
  balanced(t, j, 'tx', 'payout 3 intended');
});

t.test('payouts are refused on open or cancelled transactions and beyond the change owed', async (t) => {
  const j = openJournal(t);
  const p = { hopper: 'hopper-100', coinValue: 100, count: 1, eventBefore: 0 };

  j.startTransaction('open', 'pay');
  j.noteStacked('open', yuan20);
  t.throws(() => j.payoutIntended('open', p), /cannot pay change for transaction "open": it is open, not completed/);

  j.startTransaction('gone', 'pay');
  j.cancel('gone', 'customer');
  t.throws(() => j.payoutIntended('gone', p), /it is cancelled, not completed/);

  j.startTransaction('exact', 'topup');
  j.noteStacked('exact', yuan20);
  j.settle('exact', { endReason: 'paid' });
  t.throws(() => j.payoutIntended('exact', p), /cannot pay 100 to "exact": change owed 0/);

  owing(j, 'owes', 500);
  t.throws(() => j.payoutIntended('owes', { ...p, count: 6 }), /cannot pay 600 to "owes": change owed 500/);
  t.throws(() => j.payoutIntended('owes', { ...p, count: 0 }), /count must be a whole number from 1 to 255/);
  t.throws(() => j.payoutIntended('owes', { ...p, count: 256 }), /count must be a whole number from 1 to 255/);
  t.throws(() => j.payoutIntended('owes', { ...p, count: 1.5 }), /count/);
  t.throws(() => j.payoutIntended('owes', { ...p, eventBefore: 256 }), /eventBefore must be a whole number from 0/);
  t.throws(() => j.payoutIntended('owes', { ...p, coinValue: 0 }), /coinValue must be a whole number >= 1/);
  t.throws(() => j.payoutIntended('owes', { ...p, hopper: '' }), /hopper must be a non-empty string/);
  t.throws(() => j.payoutIntended('nope', p), /unknown transaction "nope"/);

  j.setHopperLevel('hopper-100', 100, 10, 'filled');
  t.throws(
    () => j.payoutIntended('owes', { ...p, coinValue: 50 }),
    /hopper "hopper-100" holds coins of 100, not 50/,
  );
  t.same(j.pendingPayouts(), [], 'nothing refused was written');
  t.match(j.transaction('owes'), { changeOwed: 500, changePaid: 0 });
  t.same(j.verify(), []);
});

t.test('one unfinished payout per hopper, so its event counter stays unambiguous', async (t) => {
  const j = openJournal(t);
  owing(j, 'a', 500);
  owing(j, 'b', 500);
  const first = j.payoutIntended('a', { hopper: 'hopper-100', coinValue: 100, count: 2, eventBefore: 4 });
  t.throws(
    () => j.payoutIntended('b', { hopper: 'hopper-100', coinValue: 100, count: 1, eventBefore: 4 }),
    new RegExp(`hopper "hopper-100" still has payout ${first} \\(transaction "a"\\) unfinished`),
  );
  const other = j.payoutIntended('b', { hopper: 'hopper-50', coinValue: 50, count: 1, eventBefore: 0 });
  t.same(
    j.pendingPayouts().map((p) => [p.seq, p.txnId]),
    [
      [first, 'a'],
      [other, 'b'],
    ],
    'oldest first',
  );
  j.payoutDone(first, { paid: 0, unpaid: 0, via: 'recovery-not-accepted' });
  t.ok(j.payoutIntended('b', { hopper: 'hopper-100', coinValue: 100, count: 1, eventBefore: 4 }));
  t.match(j.transaction('a'), { changePaid: 0, changeOwed: 500 }, 'a dispense never accepted pays nothing');
  t.same(j.verify(), []);
});

t.test('payoutStarted and payoutDone guard their payout', async (t) => {
  const j = openJournal(t);
  owing(j, 'tx', 1000);
  const seq = j.payoutIntended('tx', { hopper: 'hopper-100', coinValue: 100, count: 5, eventBefore: 9 });
  t.throws(() => j.payoutDone(seq, { paid: 4, unpaid: 2, via: 'x' }), /paid 4 \+ unpaid 2 exceeds the 5 coins/);
  t.throws(() => j.payoutDone(seq, { paid: -1, unpaid: 0, via: 'x' }), /paid must be a whole number/);
  t.throws(() => j.payoutDone(seq, { paid: 1, unpaid: 0, via: '' }), /via must be a non-empty string/);
  t.throws(() => j.payoutDone(seq + 100, { paid: 1, unpaid: 0, via: 'x' }), /unknown payout/);
  t.throws(() => j.payoutStarted(seq, { event: 300 }), /event must be a whole number from 0 to 255/);

  j.payoutStarted(seq, { event: 10 });
  t.throws(() => j.payoutStarted(seq, { event: 10 }), new RegExp(`payout ${seq} cannot start: it is started`));
  j.payoutDone(seq, { paid: 5, unpaid: 0, via: 'await-payout' });
  const after = j.transaction('tx');
  const events = j.events('tx').length;
  t.throws(() => j.payoutDone(seq, { paid: 5, unpaid: 0, via: 'again' }), new RegExp(`payout ${seq} is already done`));
  t.throws(() => j.payoutStarted(seq, { event: 11 }), /cannot start: it is done/);
  t.same(j.transaction('tx'), after, 'a second payoutDone pays nothing twice');
  t.equal(j.events('tx').length, events);
  t.match(after, { changePaid: 500, changeOwed: 500 });
  t.same(j.verify(), []);
});

t.test('coins need an open transaction and a sound shape', async (t) => {
  const j = openJournal(t);
  j.startTransaction('c', 'topup');
  t.throws(() => j.coinAccepted('c', { ...coin100, value: 0.5 }), /coin value must be a whole number of fen/);
  t.throws(() => j.coinAccepted('c', { ...coin100, value: 0 }), /coin value must be above 0/);
  t.throws(() => j.coinAccepted('c', { ...coin100, currency: 'rmb' }), /coin currency must be an ISO 4217/);
  t.throws(() => j.coinAccepted('nope', coin100), /unknown transaction "nope"/);
  j.coinAccepted('c', coin100);
  j.settle('c', { endReason: 'paid' });
  t.throws(() => j.coinAccepted('c', coin100), /cannot accept a coin in transaction "c": it is completed/);
  t.same(j.coinbox(), [{ currency: 'CNY', value: 100, count: 1 }]);
  t.same(j.cashbox(), []);
  t.same(j.verify(), []);
});

t.test('hopper levels: upsert, event, never below zero', async (t) => {
  const j = openJournal(t);
  t.same(j.hopperLevels(), []);
  j.setHopperLevel('hopper-100', 100, 2, 'filled');
  j.setHopperLevel('hopper-100', 100, 1, 'counted by operator');
  t.same(j.hopperLevels(), [{ name: 'hopper-100', coinValue: 100, level: 1 }]);
  t.throws(() => j.setHopperLevel('hopper-100', 100, -1, 'x'), /level must be a whole number of fen >= 0/);
  t.throws(() => j.setHopperLevel('hopper-100', 0, 1, 'x'), /coinValue must be a whole number >= 1/);
  t.throws(() => j.setHopperLevel('', 100, 1, 'x'), /hopper name/);
  t.throws(() => j.setHopperLevel('hopper-100', 100, 1, ''), /reason/);

  // The level is an estimate: a hopper that pays more than we thought it held stays at 0.
  owing(j, 'tx', 300);
  const seq = j.payoutIntended('tx', { hopper: 'hopper-100', coinValue: 100, count: 3, eventBefore: 1 });
  j.payoutDone(seq, { paid: 3, unpaid: 0, via: 'await-payout' });
  t.same(j.hopperLevels(), [{ name: 'hopper-100', coinValue: 100, level: 0 }]);

  const db = new BetterSqlite3(j.path, { readonly: true });
  t.teardown(() => db.close());
  const levelEvents = db
    .prepare(`SELECT txn_id AS txnId, data FROM events WHERE type = 'hopper.level' ORDER BY seq`)
    .all() as { txnId: string | null; data: string }[];
  t.same(
    levelEvents.map((e) => ({ txnId: e.txnId, ...JSON.parse(e.data) })),
    [
      { txnId: null, hopper: 'hopper-100', coinValue: 100, level: 2, previous: null, reason: 'filled' },
      { txnId: null, hopper: 'hopper-100', coinValue: 100, level: 1, previous: 2, reason: 'counted by operator' },
    ],
  );
  t.same(j.verify(), []);
});

t.test('receipts: printed, failed, reprint queue', async (t) => {
  const j = openJournal(t);
  for (const id of ['r-1', 'r-2', 'r-3', 'r-4']) {
    j.startTransaction(id, id === 'r-4' ? 'topup' : 'pay');
    j.noteStacked(id, yuan20);
    j.settle(id, { endReason: 'paid' });
  }
  j.startTransaction('look', 'lookup');
  j.settle('look', { endReason: 'shown' });
  j.startTransaction('gone', 'pay');
  j.cancel('gone', 'customer');
  j.startTransaction('open', 'pay');

  t.same(j.receiptsToReprint(), []);
  j.receiptPrinted('r-1');
  j.receiptFailed('r-2', 'paper-out');
  j.receiptFailed('r-3', 'cover-open');
  j.receiptFailed('r-3', 'paper-out');
  j.receiptPrinted('r-4');
  j.receiptFailed('r-4', 'paper-out');
  j.receiptFailed('look', 'paper-out');
  j.receiptFailed('gone', 'paper-out');
  t.same(j.receiptsToReprint(), ['r-2', 'r-3', 'r-4'], 'completed pay/top-up only, oldest first');

  j.receiptPrinted('r-3', { reprint: true });
  t.same(j.receiptsToReprint(), ['r-2', 'r-4']);
  t.same(
    j.events('r-3').slice(-3).map((e) => [e.type, e.data]),
    [
      ['receipt.failed', { reason: 'cover-open' }],
      ['receipt.failed', { reason: 'paper-out' }],
      ['receipt.printed', { reprint: true }],
    ],
  );
  t.same(j.events('r-1').at(-1)!.data, { reprint: false });

  t.throws(() => j.receiptPrinted('open'), /cannot record a receipt for transaction "open": it is still open/);
  t.throws(() => j.receiptFailed('open', 'paper-out'), /still open/);
  t.throws(() => j.receiptFailed('r-1', ''), /reason must be a non-empty string/);
  t.throws(() => j.receiptPrinted('nope'), /unknown transaction "nope"/);
  t.same(j.verify(), []);
});

t.test('verify finds tampering with coins, change and hoppers', async (t) => {
  const j = openJournal(t);
  j.setHopperLevel('hopper-100', 100, 10, 'filled');
  j.startTransaction('v', 'pay');
  j.noteStacked('v', yuan20);
  j.coinAccepted('v', coin100);
  j.settle('v', { endReason: 'paid', changeDue: 300, claimCode: 'V-1' });
  const seq = j.payoutIntended('v', { hopper: 'hopper-100', coinValue: 100, count: 2, eventBefore: 3 });
  j.payoutDone(seq, { paid: 2, unpaid: 0, via: 'await-payout' });
  t.same(j.verify(), []);

  const db = new BetterSqlite3(j.path);
  t.teardown(() => db.close());
  const tamper = (sql: string, expected: RegExp[], undo: string) => {
    db.prepare(sql).run();
    t.match(j.verify(), expected, sql);
    db.prepare(undo).run();
    t.same(j.verify(), [], `undone: ${undo}`);
  };

  tamper(
    `UPDATE coinbox SET count = 2 WHERE value = 100`,
    [/coin box CNY 100: counter 2 != accepted coins 1/],
    `UPDATE coinbox SET count = 1 WHERE value = 100`,
  );
  tamper(
    `UPDATE transactions SET cash_in = cash_in + 100, credited = credited + 100 WHERE id = 'v'`,
    [
      /"v": cash in 2200 != stacked notes 2000 \+ accepted coins 100/,
      /credited 1900 but its payment message says 1800/,
    ],
    `UPDATE transactions SET cash_in = cash_in - 100, credited = credited - 100 WHERE id = 'v'`,
  );
  tamper(
    `UPDATE transactions SET change_paid = 100, change_owed = 200 WHERE id = 'v'`,
    [/"v": change paid 100 != coins paid by its payouts 200/],
    `UPDATE transactions SET change_paid = 200, change_owed = 100 WHERE id = 'v'`,
  );
  tamper(
    `UPDATE transactions SET claim_code = NULL WHERE id = 'v'`,
    [/"v": owes change 100 without a claim code/],
    `UPDATE transactions SET claim_code = 'V-1' WHERE id = 'v'`,
  );
  tamper(
    `UPDATE hoppers SET level = 10`,
    [/hopper "hopper-100": level 10 != last set level plus refills minus coins paid 8/],
    `UPDATE hoppers SET level = 8`,
  );
  tamper(
    `INSERT INTO payouts (txn_id, hopper, coin_value, count, event_before, status, created_at)
     VALUES ('v', 'hopper-50', 50, 3, 0, 'intended', 'x')`,
    [/"v": unfinished payouts of 150 exceed change owed 100/],
    `UPDATE payouts SET count = 2 WHERE hopper = 'hopper-50'`,
  );
  db.pragma('ignore_check_constraints = ON');
  tamper(
    `UPDATE payouts SET unpaid = 1 WHERE seq = ${seq}`,
    [new RegExp(`payout ${seq}: paid 2 \\+ unpaid 1 exceeds its 2 coins`)],
    `UPDATE payouts SET unpaid = 0 WHERE seq = ${seq}`,
  );
});
