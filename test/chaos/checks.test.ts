import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { Journal } from '../../src/journal/index.js';
import { Ledger } from '../../hw-sim/chaos/ledger.js';
import { generatePlan, type CashStep } from '../../hw-sim/chaos/plan.js';
import type { StepRecord } from '../../hw-sim/chaos/session.js';
import { checkSteps } from '../../hw-sim/chaos/step-checks.js';
import { checkCounters, journalProblems } from '../../hw-sim/soak/checks.js';
import { testKey } from '../journal/keys.js';

const NOTE = { value: 5000, currency: 'CNY', code: 0x65 };
const COIN = { value: 100, currency: 'CNY', code: 1 };
const STEP: CashStep = {
  kind: 'cash',
  phone: '13900000001',
  amountDue: 4950,
  pieces: [
    { device: 'coin', value: 100 },
    { device: 'validator', value: 5000 },
  ],
  ending: { kind: 'pay' },
};
/** A plan whose fault is no jam, so a lost note is always a finding. */
const PLAN = { ...generatePlan(1), fault: { kind: 'hopper-empty', step: 0, hopper: 'h50' } } as const;

/**
 * Step 1 as the runtime journals it: a coin and a note for 49.50 due, 1.50 change in two coins.
 * Step 2 was killed between the journal's start and the kiosk's answer, and took no money.
 */
function world(t: Test): { path: string; records: StepRecord[]; ledger: Ledger } {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey });
  j.setHopperLevel('h100', 100, 200, 'test');
  j.setHopperLevel('h50', 50, 200, 'test');
  j.startTransaction('t1', 'pay');
  j.recordLookup('t1', { phone: STEP.phone, amountDue: 4950 });
  j.coinAccepted('t1', COIN);
  j.noteEscrowed('t1', NOTE);
  j.noteStacked('t1', NOTE);
  j.settle('t1', { endReason: 'paid', changeDue: 150, claimCode: 'ABCD-EFGH' });
  for (const [hopper, value] of [['h100', 100], ['h50', 50]] as const) {
    const seq = j.payoutIntended('t1', { hopper, coinValue: value, count: 1, eventBefore: 0 });
    j.payoutStarted(seq, { event: 1 });
    j.payoutDone(seq, { paid: 1, unpaid: 0, via: 'await-payout' });
  }
  j.startTransaction('t2', 'pay');
  j.cancel('t2', 'recovered');
  j.close();

  const ledger = new Ledger();
  for (const [device, line] of [
    ['coin', 'coin 100 fen accepted (channel 1, event 1)'],
    ['validator', 'escrow 5000 fen (code 0x65)'],
    ['validator', 'stacked 5000 fen'],
    ['h100', 'paid coin 1/1'],
    ['h50', 'paid coin 1/1'],
  ]) ledger.line(device!, line!);
  ledger.current = 1;
  const records: StepRecord[] = [
    { index: 0, step: STEP, id: 't1', startSent: true, service: 'pay', inserted: STEP.pieces, outcome: 'paid' },
    { index: 1, step: { ...STEP, phone: '13900000002' }, id: null, startSent: true, service: 'pay', inserted: [], outcome: 'interrupted by a kill' },
  ];
  return { path, records, ledger };
}

const COUNTERS = { cashbox: 5000, coinsAccepted: 100, hoppersPaid: 150 };

t.test('a run as the runtime journals it passes; the unanswered start is matched to its transaction', async (t) => {
  const { path, records, ledger } = world(t);
  t.same(journalProblems(path, testKey), []);
  t.same(checkCounters(path, COUNTERS), []);
  const steps = checkSteps(path, records, ledger, PLAN);
  t.same(steps.violations, []);
  t.same(steps.ids, ['t1', 't2']);
});

t.test('a coin edited out of the journal breaks the chain, the coin box count and the step', async (t) => {
  const { path, records, ledger } = world(t);
  const db = new Database(path);
  // The triggers stand for the runtime's own rules; someone editing the file drops them first.
  db.exec("DROP TRIGGER events_no_delete; DELETE FROM events WHERE type = 'coin.accepted'");
  db.prepare('UPDATE coinbox SET count = count - 1').run();
  db.close();
  t.match(journalProblems(path, testKey).join('\n'), /journal verify: hash chain broken/);
  t.match(checkCounters(path, COUNTERS).join('\n'), /the coin acceptor took 100 fen, the journal accounts for 0 fen/);
  t.match(checkSteps(path, records, ledger, PLAN).violations.join('\n'), /step 1 \(t1\): the coin acceptor took 100 fen, the journal credited 0 fen of coins to it/);
});

t.test('money the devices moved but the journal does not hold is found per step and in total', async (t) => {
  const { path, records, ledger } = world(t);
  ledger.line('validator', 'stacked 2000 fen (reset completed the stack, no VEND VALID)');
  ledger.line('h100', 'paid coin 1/1');
  const steps = checkSteps(path, records, ledger, PLAN).violations.join('\n');
  t.match(steps, /step 2 \(t2\): 2000 fen of notes went into the cash box, the journal credited 0 fen/);
  t.match(steps, /step 2 \(t2\): the hoppers dropped 100 fen, the journal says 0 fen/);
  t.match(steps, /step 2: the customer put in 0 fen of notes; the validator stacked 2000/);
  const totals = checkCounters(path, { cashbox: 7000, coinsAccepted: 100, hoppersPaid: 250 }).join('\n');
  t.match(totals, /the validator's cash box holds 7000 fen, the journal accounts for 5000 fen/);
  t.match(totals, /the hoppers dropped 250 fen of coins, the journal says 150 fen/);
});

t.test('a transaction nobody started, and a note lost without a record, are violations', async (t) => {
  const { path, records, ledger } = world(t);
  const j = Journal.open(path, { key: testKey });
  j.startTransaction('t3', 'topup');
  j.cancel('t3', 'timeout');
  j.close();
  ledger.line('validator', 'jam in acceptor (0x4A): 1000 fen note lost in the path');
  const v = checkSteps(path, [records[0]!, { ...records[1]!, inserted: [{ device: 'validator', value: 1000 }] }], ledger, PLAN).violations.join('\n');
  t.match(v, /transaction t3 is in the journal, but no step of the session started it/);
  t.match(v, /step 2 \(t2\): 1000 fen of notes were lost in the validator, the journal recorded 0 fen unresolved/);
});

t.test('every claim is accounted for: change left owed without a claim message is a violation, with it none', async (t) => {
  const { path } = world(t);
  const j = Journal.open(path, { key: testKey });
  j.startTransaction('t4', 'pay');
  j.recordLookup('t4', { phone: '13900000004', amountDue: 4500 });
  j.noteEscrowed('t4', NOTE);
  j.noteStacked('t4', NOTE);
  j.settle('t4', { endReason: 'paid', changeDue: 500, claimCode: 'WXYZ-2345' });
  const seq = j.payoutIntended('t4', { hopper: 'h100', coinValue: 100, count: 5, eventBefore: 1 });
  j.payoutDone(seq, { paid: 0, unpaid: 5, via: 'dispense not accepted' });
  j.close();
  t.match(journalProblems(path, testKey).join('\n'), /claims: transaction "t4": owes change 500, claims in the outbox cover 0/);
  const again = Journal.open(path, { key: testKey });
  again.settleOwedChange('t4', 'claim');
  again.close();
  t.same(journalProblems(path, testKey), []);
});

t.test('the ledger counts a note into the cash box once, on every protocol', async (t) => {
  const windowOf = (lines: string[]) => {
    const ledger = new Ledger();
    for (const line of lines) ledger.line('validator', line);
    return ledger.window(0);
  };
  // ID-003 and eSSP: in the box when reported stacked.
  t.equal(windowOf(['escrow 1000 fen (code 0x63)', 'stacking 1000 fen', 'stacked 1000 fen']).stacked, 1000);
  // CCNET: in the box before the host acknowledges; the acknowledgement is not a second note.
  const acked = ['stacking 500 fen', 'in the cash box: 500 fen (bill stacked, 0x81 repeated until the host ACKs)', 'bill stacked acknowledged', 'stacked 500 fen'];
  t.equal(windowOf(acked).stacked, 500);
  t.equal(windowOf([...acked, ...acked]).stacked, 1000, 'two notes of one value');
  // CCNET: the runtime killed before it acknowledged; the reset drops the event, the note stays in the box.
  const dropped = windowOf([
    'in the cash box: 500 fen (bill stacked, 0x81 repeated until the host ACKs)',
    'reset: the bill stacked event for 500 fen was never acknowledged; it stays in the box',
    ...acked.slice(0, 2),
    'stacked 500 fen',
  ]);
  t.equal(dropped.stacked, 1000, 'the next note of that value is counted once, its acknowledgement not again');
  t.equal(windowOf(['stacked 1000 fen (reset completed the stack, no bill stacked event)']).stacked, 1000);
  // eSSP: a fault after the credit keeps the note in the box; before it, the note is lost.
  const essp = windowOf(['credit 2000 fen (repeated until EVENT ACK when polled with ACK)', 'jam (0xC1): 2000 fen note already credited, kept in the cash box']);
  t.same([essp.stacked, essp.lost], [2000, 0]);
  t.same([windowOf(['jam (0xC1): 2000 fen note lost in the path']).lost], [2000]);
});
