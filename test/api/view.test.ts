import t from 'tap';
import { capabilities } from '../../states/terminal.js';
import type { TransactionContext } from '../../states/transaction.js';
import type { TxnRow } from '../../src/journal/index.js';
import { screenView, type ScreenInput } from '../../src/api/view.js';

const WELL = { validator: 'ok', 'coin-acceptor': 'ok', 'hopper:h100': 'ok', 'hopper:h50': 'ok', printer: 'ok' } as const;
const FITTED = { coins: true, printer: true };

function input(over: { state?: string; devices?: Record<string, 'ok' | 'degraded' | 'fault' | 'offline'>; linkUp?: boolean } & Partial<ScreenInput> = {}): ScreenInput {
  return {
    terminal: { state: over.state ?? 'inService', caps: capabilities({ devices: { ...WELL, ...over.devices }, linkUp: over.linkUp ?? true }) },
    fitted: over.fitted ?? FITTED,
    transaction: over.transaction ?? null,
    result: over.result ?? null,
    serviceNumber: over.serviceNumber ?? '10000',
  };
}

function ctx(over: Partial<TransactionContext> = {}): TransactionContext {
  return {
    id: 'T1',
    service: 'pay',
    phone: '13900139000',
    holder: 'Li Si',
    amountDue: 12350,
    credited: 0,
    notes: [],
    offline: false,
    endReason: null,
    error: null,
    limits: { maxNote: 10000, maxOverpay: 5000, maxTopup: 50000 },
    timeouts: { inputMs: 60000, lookupMs: 10000, cashMs: 90000 },
    denominations: [100, 500, 1000, 2000, 5000, 10000],
    coins: [10, 50, 100],
    change: [
      { name: 'h100', coinValue: 100, available: 100 },
      { name: 'h50', coinValue: 50, available: 100 },
    ],
    changeDue: 0,
    changePaid: 0,
    changeOwed: 0,
    receipt: true,
    receiptError: null,
    card: null,
    cardIn: 0,
    cardStage: null,
    maskedPan: null,
    cardStop: null,
    mobileModes: [],
    mobileMode: null,
    mobileIn: 0,
    mobileStage: null,
    paymentId: null,
    maskedCode: null,
    qr: null,
    mobileStop: null,
    mobileReason: null,
    ...over,
  };
}

function txn(state: string, c: TransactionContext, deadline: { at: number; totalMs: number } | null = null): ScreenInput['transaction'] {
  return { id: c.id, state, context: c, deadline };
}

function row(over: Partial<TxnRow> = {}): TxnRow {
  return {
    id: 'T1',
    service: 'pay',
    phone: '13900139000',
    amountDue: 12350,
    status: 'completed',
    endReason: 'paid',
    cashIn: 15000,
    cardIn: 0,
    mobileIn: 0,
    credited: 12350,
    changePaid: 2650,
    changeOwed: 0,
    claimCode: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:01:00.000Z',
    ...over,
  };
}

t.test('the terminal decides the screen when no customer is being served', async (t) => {
  for (const state of ['booting', 'recovering', 'selfTest', 'evaluating']) t.equal(screenView(input({ state })).screen, 'starting', state);
  const home = screenView(input());
  t.equal(home.screen, 'home');
  t.same(home.offers, { pay: true, topup: true, cash: true, coins: true, change: true, card: false, mobile: [], receipt: true });
  t.same(home.notices, []);
  t.equal(home.deadline, null);

  const maintenance = screenView(input({ state: 'outOfService.operator' }));
  t.equal(maintenance.screen, 'maintenance');
  t.equal(maintenance.reason, 'operator');
  t.same([maintenance.offers.pay, maintenance.offers.topup], [false, false], 'nothing is offered while out of service');
  t.equal(screenView(input({ state: 'outOfService.bootFailed' })).reason, 'boot-failed');
});

t.test('a validator fault leaves only the look-up: the customer sees out of service', async (t) => {
  // Services are ['lookup'] then, so the terminal machine calls it degraded, not out of service.
  const v = screenView(input({ state: 'degraded', devices: { validator: 'fault' } }));
  t.equal(v.screen, 'outOfService');
  t.equal(v.reason, 'no-cash');
  t.equal(v.offers.cash, false);
  const both = screenView(input({ state: 'outOfService.noService', devices: { validator: 'offline' }, linkUp: false }));
  t.equal(both.reason, 'no-cash');
});

t.test('degraded conditions are announced on the start screen', async (t) => {
  const offline = screenView(input({ state: 'degraded', linkUp: false }));
  t.equal(offline.screen, 'home');
  t.same([offline.offers.pay, offline.offers.topup], [false, true], 'offline: top-ups only');
  t.same(offline.notices, ['offline']);
  const broken = screenView(input({ state: 'degraded', devices: { 'hopper:h100': 'fault', 'hopper:h50': 'offline', printer: 'fault', 'coin-acceptor': 'fault' } }));
  t.same(broken.notices, ['no-change', 'no-coins', 'no-receipt']);
  // A kiosk built without a printer or coin acceptor does not complain about them.
  const bare = screenView({ ...input({ devices: { printer: 'fault', 'coin-acceptor': 'fault' } }), fitted: { coins: false, printer: false } });
  t.same(bare.notices, []);
});

t.test('the transaction screens follow the machine', async (t) => {
  const deadline = { at: 1_000_000, totalMs: 60_000 };
  const number = screenView(input({ transaction: txn('number', ctx({ phone: null, holder: null, amountDue: null, error: 'bad-number' }), deadline) }));
  t.equal(number.screen, 'number');
  t.equal(number.error, 'bad-number');
  t.same(number.deadline, deadline, "the machine's own timer");
  t.equal(number.amounts?.due, null);

  t.equal(screenView(input({ transaction: txn('lookup', ctx({ amountDue: null })) })).screen, 'lookup');
  const failed = screenView(input({ transaction: txn('lookupFailed', ctx({ amountDue: null, error: 'unknown account 13900139000 (HTTP 404 from x)' })) }));
  t.equal(failed.error, 'unknown-account');
  t.equal(screenView(input({ transaction: txn('lookupFailed', ctx({ amountDue: null, error: 'lookup-timeout' })) })).error, 'lookup-failed');

  const review = screenView(input({ transaction: txn('review', ctx(), deadline) }));
  t.equal(review.screen, 'review');
  t.equal(review.holder, 'L* S*', 'the holder masked: the full name never reaches the browser');
  t.notMatch(JSON.stringify(review), /Li Si/);
  t.same(review.amounts, { due: 12350, inserted: 0, remaining: 12350, change: 0, changePaid: 0, owed: 0, credited: 0, card: 0, mobile: 0 });
  t.same(review.notices, []);

  // An operator taking the kiosk out of service lets the running customer finish.
  t.equal(screenView(input({ state: 'outOfService.operator', transaction: txn('cash.idle', ctx()) })).screen, 'cash');
});

t.test('cash: live amounts and what may be inserted now', async (t) => {
  const v = screenView(input({ transaction: txn('cash.idle', ctx({ credited: 10000, notes: [10000] })) }));
  t.equal(v.screen, 'cash');
  t.equal(v.amounts?.inserted, 10000);
  t.equal(v.amounts?.remaining, 2350);
  // 23.50 left, change in coins up to 50.00 over: every note up to 50 fits, 100 would be 76.50 over.
  t.same(v.accepts, { notes: [100, 500, 1000, 2000, 5000], coins: [10, 50, 100] });

  const noChange = screenView(input({ transaction: txn('cash.idle', ctx({ change: null, coins: [], receipt: false })) }));
  t.same(noChange.notices, ['no-change', 'no-coins', 'no-receipt'], 'told before paying');
  const topup = screenView(input({ transaction: txn('cash.idle', ctx({ service: 'topup', amountDue: null, change: null, offline: true, credited: 2000 })) }));
  t.equal(topup.service, 'topup');
  t.same(topup.notices, ['offline'], 'a top-up has no change to give');
  t.equal(topup.amounts?.remaining, null);
  t.equal(topup.amounts?.credited, 2000);
});

t.test('finishing: the phase and the change fixed at settlement', async (t) => {
  const c = ctx({ credited: 15000, changeDue: 2650, changeOwed: 2650 });
  const paying = screenView(input({ transaction: txn('payingChange', c, { at: 1, totalMs: 1 }) }));
  t.equal(paying.screen, 'finishing');
  t.equal(paying.phase, 'change');
  t.equal(paying.amounts?.change, 2650);
  t.equal(paying.amounts?.credited, 12350);
  t.equal(paying.deadline, null, 'no count-down while the kiosk works');
  t.equal(screenView(input({ transaction: txn('printing', c) })).phase, 'printing');
  t.equal(screenView(input({ transaction: txn('cancelling', ctx()) })).phase, 'cancelling');
  t.equal(screenView(input({ transaction: txn('settling', ctx({ credited: 12350 })) })).phase, 'settling');
  // Without hoppers the excess is credited, never shown as change.
  const credited = screenView(input({ transaction: txn('settling', ctx({ credited: 15000, change: null })) }));
  t.equal(credited.amounts?.change, 0);
  t.equal(credited.amounts?.credited, 15000);
});

t.test('result: the journal record, with the claim code for change owed', async (t) => {
  const deadline = { at: 5, totalMs: 30_000 };
  const paid = screenView(input({ result: { txn: row(), receipt: 'printed', deadline, slip: null } }));
  t.equal(paid.screen, 'result');
  t.same(paid.result, { outcome: 'paid', partial: false, receipt: 'printed' });
  t.same(paid.amounts, { due: 12350, inserted: 15000, remaining: 0, change: 2650, changePaid: 2650, owed: 0, credited: 12350, card: 0, mobile: 0 });
  t.equal(paid.claimCode, null);
  t.same(paid.deadline, deadline);

  const owed = screenView(input({ result: { txn: row({ changePaid: 2600, changeOwed: 50, claimCode: 'ABCD-EFGH' }), receipt: 'failed', deadline, slip: null } }));
  t.equal(owed.claimCode, 'ABCD-EFGH');
  t.equal(owed.amounts?.owed, 50);
  t.equal(owed.result?.receipt, 'failed');

  const partial = screenView(input({ result: { txn: row({ endReason: 'customer-cancel-partial', cashIn: 5000, credited: 5000, changePaid: 0 }), receipt: 'printed', deadline, slip: null } }));
  t.same(partial.result, { outcome: 'cancelled', partial: true, receipt: 'printed' });
  t.equal(partial.amounts?.remaining, 7350);
  const timeout = screenView(input({ result: { txn: row({ status: 'cancelled', endReason: 'timeout', cashIn: 0, credited: 0, changePaid: 0 }), receipt: 'none', deadline, slip: null } }));
  t.same(timeout.result, { outcome: 'timeout', partial: false, receipt: 'none' });
  t.equal(screenView(input({ result: { txn: row({ endReason: 'device-fault-partial' }), receipt: 'none', deadline, slip: null } })).result?.outcome, 'fault');
  t.equal(screenView(input({ result: { txn: row({ status: 'open', endReason: null }), receipt: 'none', deadline, slip: null } })).result?.outcome, 'pending');
  // The summary outranks the terminal's state: the customer sees it even if the kiosk just went out of service.
  t.equal(screenView(input({ state: 'outOfService.operator', result: { txn: row(), receipt: 'none', deadline, slip: null } })).screen, 'result');
});

t.test('a card is offered only where it can pay: a usable terminal, or a reader with the link up', async (t) => {
  t.equal(screenView(input({ devices: { 'payment-terminal': 'ok' } })).offers.card, true, 'terminal');
  t.equal(screenView(input({ devices: { 'payment-terminal': 'ok' }, linkUp: false, state: 'degraded' })).offers.card, true, 'a terminal needs no link of ours');
  t.equal(screenView(input({ devices: { 'card-reader': 'ok' } })).offers.card, true, 'reader online');
  t.equal(screenView(input({ devices: { 'card-reader': 'ok' }, linkUp: false, state: 'degraded' })).offers.card, false, 'reader offline: the server authorises, so no card');
  t.equal(screenView(input({ devices: { 'card-reader': 'fault' } })).offers.card, false, 'reader fault: cash only');
  t.equal(screenView(input({ devices: { 'payment-terminal': 'offline' } })).offers.card, false, 'terminal gone: cash only');
});

t.test('the card screen follows the authoriser\'s stages; the review says why a card failed', async (t) => {
  const review = screenView(input({ transaction: txn('review', ctx({ card: 'terminal' })) }));
  t.equal(review.offers.card, true, 'offered at the review of a pay transaction');
  const cash = screenView(input({ transaction: txn('cash.idle', ctx({ card: 'terminal', credited: 5000 })) }));
  t.equal(cash.offers.card, false, 'never once cash is in');
  const stages: [string | null, string][] = [
    [null, 'present'],
    ['present-card', 'present'],
    ['insert-card', 'present'],
    ['read-error', 'read-error'],
    ['authorising', 'authorising'],
    ['waiting-host', 'authorising'],
    ['pin', 'pin'],
    ['remove-card', 'remove'],
    ['please-wait', 'wait'],
  ];
  for (const [cardStage, want] of stages) {
    const v = screenView(input({ transaction: txn('card.customer', ctx({ card: 'reader', cardStage, maskedPan: '621700******1234' })) }));
    t.equal(v.screen, 'card');
    t.equal(v.card?.stage, want, `${cardStage} → ${want}`);
    t.equal(v.card?.maskedPan, '621700******1234');
  }
  const declined = screenView(input({ transaction: txn('review', ctx({ card: 'reader', error: 'card-declined' })) }));
  t.equal(declined.error, 'card-declined');
  t.equal(screenView(input({ transaction: txn('review', ctx({ card: 'reader', error: 'card-unavailable' })) })).error, 'card-unavailable');
});

t.test('a card payment\'s result shows the card amount; an unknown outcome shows the reversal', async (t) => {
  const paid = screenView(input({ result: { txn: row({ cashIn: 0, cardIn: 12350, credited: 12350, changePaid: 0, endReason: 'paid' }), receipt: 'printed', deadline: { at: 1, totalMs: 1 } } }));
  t.equal(paid.result?.outcome, 'paid');
  t.equal(paid.amounts?.card, 12350);
  t.equal(paid.result?.partial, false);
  const reversed = screenView(input({ result: { txn: row({ status: 'cancelled', cashIn: 0, cardIn: 0, credited: 0, changePaid: 0, endReason: 'card-unknown' }), receipt: 'none', deadline: { at: 1, totalMs: 1 } } }));
  t.equal(reversed.result?.outcome, 'card-reversed');
});

t.test("the account holder's name is masked as Chinese operators do", async (t) => {
  const { maskHolderName } = await import('../../src/domain/holder-name.js');
  const cases: [string, string][] = [
    ['张四', '*四'],
    ['李娜', '*娜'],
    ['王小明', '**明'],
    ['欧阳娜娜', '***娜'],
    ['李', '*'],
    ['Li Si', 'L* S*'],
    ['Zhang San', 'Z* S*'],
    ['  Zhao   Liu ', 'Z* L*'],
    ['Anna 李娜', 'A* *娜'],
  ];
  for (const [name, shown] of cases) t.equal(maskHolderName(name), shown, name);
  for (const name of ['张四', 'Zhang San']) {
    const v = screenView(input({ transaction: txn('review', ctx({ holder: name })) }));
    t.not(v.holder, name);
    t.notMatch(JSON.stringify(v), name, `${name} appears nowhere in the view`);
  }
});

t.test('a transaction that owes the customer money ends on the slip screen, with what the journal says', async (t) => {
  const deadline = { at: 1_000_000, totalMs: 120_000 };
  const slip = {
    reasons: ['note-unresolved', 'change-owed'] as ('note-unresolved' | 'change-owed')[],
    unresolved: [5000],
    owed: 50,
    changeCredited: 0,
    cardReversed: 0,
    claimCode: 'ABCD-EFGH',
    endedAt: '2026-01-01T00:01:00.000Z',
    slip: 'queued' as const,
  };
  const txn = row({ cashIn: 5000, credited: 4950, changePaid: 0, changeOwed: 50, claimCode: 'ABCD-EFGH' });
  const v = screenView(input({ result: { txn, receipt: 'failed', deadline, slip }, serviceNumber: '400-800-1234' }));
  t.equal(v.screen, 'slip');
  t.same(v.slip, {
    reasons: ['note-unresolved', 'change-owed'],
    inserted: 10000,
    card: 0,
    credited: 4950,
    changePaid: 0,
    owed: 50,
    unresolved: 5000,
    changeCredited: 0,
    cardReversed: 0,
    claimCode: 'ABCD-EFGH',
    serviceNumber: '400-800-1234',
    paper: 'queued',
  });
  t.equal(v.claimCode, 'ABCD-EFGH');
  t.same(v.deadline, deadline);
  const printing = screenView(input({ result: { txn, receipt: 'failed', deadline, slip: { ...slip, slip: 'none' } } }));
  t.equal(printing.slip?.paper, 'printing', 'not yet journalled either way: still printing');
  t.equal(screenView(input({ result: { txn: row(), receipt: 'printed', deadline, slip: null } })).screen, 'result', 'nothing owed: the plain result');
});

t.test('a kiosk without a printer says it prints no slips, not that its printer failed', async (t) => {
  const deadline = { at: 1_000_000, totalMs: 120_000 };
  const slip = {
    reasons: ['change-owed'] as 'change-owed'[],
    unresolved: [],
    owed: 50,
    changeCredited: 0,
    cardReversed: 0,
    claimCode: 'ABCD-EFGH',
    endedAt: '2026-01-01T00:01:00.000Z',
    // What slips.ts journals with no printer fitted: a failed slip, queued.
    slip: 'queued' as const,
  };
  const txn = row({ cashIn: 5000, credited: 4950, changePaid: 0, changeOwed: 50, claimCode: 'ABCD-EFGH' });
  const result = { txn, receipt: 'none' as const, deadline, slip };
  const none = screenView({ ...input({ result }), fitted: { coins: true, printer: false } });
  t.equal(none.screen, 'slip');
  t.equal(none.slip?.paper, 'no-printer');
  t.equal(screenView({ ...input({ result }), fitted: { coins: true, printer: true } }).slip?.paper, 'queued', 'a fitted printer that failed is still said to have failed');
});

t.test('the wallet screens: the ways offered at the review, the code screen, the QR as an image, the result', async (t) => {
  const review = screenView(input({ transaction: txn('review', ctx({ mobileModes: ['code', 'qr'] })) }));
  t.same(review.offers.mobile, ['code', 'qr']);
  const failed = screenView(input({ transaction: txn('review', ctx({ mobileModes: ['code'], error: 'mobile-failed', mobileReason: 'code-expired' })) }));
  t.match(failed, { error: 'mobile-failed', errorReason: 'code-expired' });
  const showing = screenView(input({ transaction: txn('mobile.scanning', ctx({ mobileMode: 'code', mobileStage: 'show-code' }), { at: 5, totalMs: 5 }) }));
  t.match(showing, { screen: 'mobile', mobile: { mode: 'code', stage: 'show-code', maskedCode: null, qrImage: null }, deadline: { at: 5 } });
  const confirming = screenView(input({ transaction: txn('mobile.confirming.waiting', ctx({ mobileMode: 'code', mobileStage: 'confirming', maskedCode: '13************1234' })) }));
  t.match(confirming.mobile, { stage: 'confirming', maskedCode: '13************1234' });
  const qr = screenView(
    input({ transaction: txn('mobile.confirming.waiting', ctx({ mobileMode: 'qr', mobileStage: 'scan-qr', qr: { codeUrl: 'https://pay.example.test/qr/abc', expiresAt: '2030-01-01T00:00:00Z' } })) }),
  );
  t.match(qr.mobile?.qrImage, /^data:image\/svg\+xml;base64,/);
  t.match(Buffer.from(qr.mobile!.qrImage!.split(',')[1]!, 'base64').toString(), /^<svg [^>]*viewBox="0 0 (\d+) \1"/);
  const paid = screenView(input({ result: { txn: row({ cashIn: 0, mobileIn: 12350, changePaid: 0 }), receipt: 'none', deadline: { at: 1, totalMs: 1 }, slip: null } }));
  t.match(paid, { screen: 'result', amounts: { mobile: 12350, inserted: 0 }, result: { outcome: 'paid' } });
  const revoked = screenView(input({ result: { txn: row({ status: 'cancelled', cashIn: 0, credited: 0, changePaid: 0, endReason: 'mobile-revoked' }), receipt: 'none', deadline: { at: 1, totalMs: 1 }, slip: null } }));
  t.equal(revoked.result?.outcome, 'mobile-revoked');
});
