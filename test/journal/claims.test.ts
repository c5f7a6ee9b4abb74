import t, { type Test } from 'tap';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';
import { claimPayloadSchema } from '../../src/uplink/messages.js';
import { testKey } from './keys.js';

const note = (value: number) => ({ value, currency: 'CNY', code: 1 });

function openJournal(t: Test): Journal {
  const j = Journal.open(join(t.testdir(), 'journal.db'), { key: testKey });
  t.teardown(() => j.close());
  return j;
}

function claimMessages(j: Journal) {
  return j.outboxPending(100).filter((m) => m.kind === 'claim');
}

/** A payment of 45 with a 50 note: 5 yuan change due, settled with `code`. */
function overpaid(j: Journal, id: string, code = 'ABCD-EFGH'): void {
  j.startTransaction(id, 'pay');
  j.recordLookup(id, { phone: '13800138000', amountDue: 4500 });
  j.noteEscrowed(id, note(5000));
  j.noteStacked(id, note(5000));
  j.settle(id, { endReason: 'paid', changeDue: 500, claimCode: code });
}

t.test('an unresolved note is journalled with its claim and the claim message in one commit', async (t) => {
  const j = openJournal(t);
  j.startTransaction('a', 'pay');
  j.recordLookup('a', { phone: '13800138003', amountDue: 5000 });
  j.noteEscrowed('a', note(5000));
  // @ts-expect-error an unresolved note is written with its claim, never by append()
  t.throws(() => j.append('a', 'note.unresolved', { value: 5000, why: 'x' }), /own Journal method/);
  const claim = j.noteUnresolved('a', 5000, 'jam');
  t.match(claim, { txnId: 'a', reason: 'note-unresolved', amount: 5000, denomination: 5000, status: 'open' });
  const txn = j.transaction('a')!;
  t.equal(claim.claimCode, txn.claimCode, 'the transaction is given the claim code');
  t.match(claim.claimCode, /^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
  t.match(j.eventsOf('a', 'note.unresolved')[0]?.data, { value: 5000, why: 'jam', claimId: claim.id });
  const [m] = claimMessages(j);
  t.ok(m, 'a claim message waits in the outbox');
  t.equal(m!.messageId, claim.id);
  const parsed = claimPayloadSchema.safeParse(m!.payload);
  t.ok(parsed.success, 'the message is what the forwarder sends');
  t.match(m!.payload, { status: 'open', phone: '13800138003', amount: 5000, claimCode: claim.claimCode, denomination: 5000 });

  j.cancel('a', 'device-fault');
  t.same(j.verify(), []);
  t.same(j.claimProblems(), []);
  t.match(j.faultSlip('a'), { reasons: ['note-unresolved'], unresolved: [5000], owed: 0, claimCode: claim.claimCode, slip: 'none' });
});

t.test('change owed after the payouts becomes one claim for what is left, once', async (t) => {
  const j = openJournal(t);
  j.setHopperLevel('h100', 100, 10, 'test');
  overpaid(j, 'b');
  const seq = j.payoutIntended('b', { hopper: 'h100', coinValue: 100, count: 5, eventBefore: 0 });
  t.equal(j.settleOwedChange('b', 'claim'), null, 'a payout under way may still pay: no claim yet');
  t.same(j.claimProblems(), [], 'not while the payout is undecided');
  j.payoutStarted(seq, { event: 1 });
  j.payoutDone(seq, { paid: 2, unpaid: 3, via: 'hopper' });
  t.match(j.claimProblems(), [/owes change 300, claims in the outbox cover 0/], 'owed change without a claim is a finding');
  const claim = j.settleOwedChange('b', 'claim');
  t.match(claim, { reason: 'change-owed', amount: 300, status: 'open', claimCode: 'ABCD-EFGH', denomination: null });
  t.equal(j.settleOwedChange('b', 'claim'), null, 'asking again claims nothing more');
  t.match(j.eventsOf('b', 'claim.opened')[0]?.data, { claimId: claim!.id, amount: 300, reason: 'change-owed' });
  t.match(claimMessages(j).map((m) => m.payload), [{ status: 'open', reason: 'change-owed', amount: 300 }]);
  t.same(j.claimProblems(), []);
  t.same(j.verify(), []);
  t.match(j.faultSlip('b'), { reasons: ['change-owed'], owed: 300, claimCode: 'ABCD-EFGH' });
});

t.test('credit-account: the owed change goes to the phone account at once, and the money still adds up', async (t) => {
  const j = openJournal(t);
  overpaid(j, 'c');
  const claim = j.settleOwedChange('c', 'credit-account');
  t.match(claim, { status: 'credited', amount: 500 });
  t.match(j.transaction('c'), { credited: 5000, changeOwed: 0, changePaid: 0 });
  t.match(j.eventsOf('c', 'change.credited')[0]?.data, { amount: 500, claimCode: 'ABCD-EFGH' });
  const m = claimMessages(j)[0]!;
  t.ok(claimPayloadSchema.safeParse(m.payload).success);
  t.match(m.payload, { status: 'credited', phone: '13800138000', amount: 500 });
  t.match(j.outboxPending(10).find((o) => o.kind === 'payment')?.payload, { amount: 4500 }, 'the payment itself is unchanged');
  t.same(j.verify(), [], 'credited = payment + change credited');
  t.same(j.claimProblems(), []);
  t.match(j.faultSlip('c'), { reasons: ['change-credited'], changeCredited: 500, owed: 0 });
});

t.test('a note claim given first keeps its code when the transaction later settles with change', async (t) => {
  const j = openJournal(t);
  j.startTransaction('d', 'pay');
  j.recordLookup('d', { phone: '13800138000', amountDue: 4500 });
  j.noteEscrowed('d', note(5000));
  j.noteStacked('d', note(5000));
  j.noteEscrowed('d', note(1000));
  const first = j.noteUnresolved('d', 1000, 'jam');
  j.settle('d', { endReason: 'paid', changeDue: 500, claimCode: 'OTHE-RCOD' });
  t.equal(j.transaction('d')?.claimCode, first.claimCode, 'one code per transaction');
  t.equal(j.settleOwedChange('d', 'claim')?.claimCode, first.claimCode);
  t.same(j.verify(), []);
});

t.test('a cash count that finds the jammed note confirms the oldest open claim of its value', async (t) => {
  const j = openJournal(t);
  for (const id of ['e1', 'e2']) {
    j.startTransaction(id, 'pay');
    j.recordLookup(id, { phone: '13800138000', amountDue: 5000 });
    j.noteEscrowed(id, note(5000));
    j.noteUnresolved(id, 5000, 'jam');
    j.cancel(id, 'device-fault');
  }
  overpaid(j, 'e3');
  j.settleOwedChange('e3', 'claim');
  const r = j.cashCollected('wang', { 5000: 2 });
  t.same(r.difference, { 5000: 1 });
  t.equal(r.ok, false, 'the count differs from the journal');
  t.match(r.confirmed, [{ txnId: 'e1', status: 'confirmed', denomination: 5000 }], 'the oldest claim, only one');
  t.same(j.claimsOf('e2').map((c) => c.status), ['open'], 'the other note was not found: its claim stays open');
  const collected = j.lastEventOfType('cashbox.collected')!;
  t.same(collected.data.confirmedClaims, [r.confirmed[0]!.id], 'the collection records which claims it confirmed');
  t.match(j.eventsOf('e1', 'claim.confirmed')[0]?.data, { collection: collected.seq, denomination: 5000 });
  t.equal(j.lastEventOfType('alarm.cash-difference'), undefined, 'a surplus the claims explain raises no alarm');
  const confirmation = claimMessages(j).find((m) => m.messageId === `${r.confirmed[0]!.id}:confirmed`);
  t.match(confirmation?.payload, { status: 'confirmed', claimId: r.confirmed[0]!.id, collection: collected.seq });
  t.ok(claimPayloadSchema.safeParse(confirmation?.payload).success);
  t.same(j.verify(), []);
  t.same(j.claimProblems(), []);

  const r2 = j.cashCollected('wang', { 5000: 1, 1000: 1 });
  t.match(r2.confirmed, [{ txnId: 'e2' }]);
  t.match(j.lastEventOfType('alarm.cash-difference')?.data, { difference: { 1000: 1 } }, 'what the claims do not explain is still an alarm');
});

t.test('a fault slip that could not be printed waits in the reprint queue until printed', async (t) => {
  const j = openJournal(t);
  overpaid(j, 'f');
  j.settleOwedChange('f', 'claim');
  j.slipFailed('f', 'paper out');
  t.same(j.slipsToReprint(), ['f']);
  t.equal(j.faultSlip('f')?.slip, 'queued');
  j.slipPrinted('f', { reprint: true });
  t.same(j.slipsToReprint(), []);
  t.equal(j.faultSlip('f')?.slip, 'printed');
  // @ts-expect-error slips are written by their own method
  t.throws(() => j.append('f', 'slip.printed', { reprint: false }), /own Journal method/);
});

t.test('no fault slip for a transaction that delivered everything', async (t) => {
  const j = openJournal(t);
  j.startTransaction('g', 'pay');
  j.recordLookup('g', { phone: '13800138000', amountDue: 5000 });
  j.noteEscrowed('g', note(5000));
  j.noteStacked('g', note(5000));
  j.settle('g', { endReason: 'paid' });
  t.equal(j.faultSlip('g'), null);
  j.startTransaction('h', 'pay');
  j.cancel('h', 'recovered');
  t.equal(j.faultSlip('h'), null, 'recovery closed it, but it took nothing');
});
