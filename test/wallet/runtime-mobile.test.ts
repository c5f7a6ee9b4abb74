/**
 * The wallet flow end to end inside one process: the real transaction machine with the runtime's
 * wallet actors (src/runtime/mobile.ts), a real journal file, the real business link over mutual
 * TLS to the reference host's gateway, the real forwarder for revokes and payments, and an
 * in-memory scanner double (the scanner's drivers and emulator are another change).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createActor, fromPromise, waitFor } from 'xstate';
import pino from 'pino';
import { Journal } from '../../src/journal/index.js';
import { recoverOpenTransactions } from '../../src/recovery/recover.js';
import { MobilePayments } from '../../src/runtime/mobile.js';
import { Forwarder } from '../../src/uplink/index.js';
import { transactionMachine, type CloseInput, type SettleInput, type TransactionSnapshot, type TransactionTimeouts } from '../../states/transaction.js';
import { walletCode, type WalletBehaviour } from '../../hw-sim/wallet-codes.js';
import { world } from '../uplink/world.js';
import { testKey } from '../journal/keys.js';
import { FakeScanner, type HeldCode } from './doubles.js';

const LIMITS = { maxNote: 10000, maxOverpay: 2000, maxTopup: 50000 };
const FAST: TransactionTimeouts = {
  inputMs: 30_000,
  lookupMs: 5000,
  cashMs: 30_000,
  mobileScanMs: 10_000,
  mobileChargeMs: 3000,
  mobileQueryIntervalMs: 50,
  mobileQueryLimitMs: 1500,
  mobileQrMs: 1500,
};
const WAIT = { timeout: 15_000 };

async function kiosk(t: Test, timeouts: Partial<TransactionTimeouts> = {}) {
  const w = await world(t, { session: { timeoutMs: 600 } });
  t.ok(await w.adapter.waitUp(10_000), 'link up');
  const file = join(w.dir, 'journal.db');
  const journal = Journal.open(file, { key: testKey });
  t.teardown(() => journal.close());
  const scanner = new FakeScanner();
  const log = pino({ level: 'silent' });
  const forwarder = new Forwarder({ outbox: journal, adapter: w.adapter, idleMs: 20, backoff: { initialMs: 20, maxMs: 50 } });
  forwarder.start();
  t.teardown(() => forwarder.stop());
  const mobile = new MobilePayments({
    journal,
    scanner,
    link: w.adapter,
    forwardNow: () => forwarder.forwardNow(),
    waitUp: (ms) => w.adapter.waitUp(ms),
    recoveryWaitMs: 2000,
    log,
  });
  const close = async (id: string, endReason: string) => {
    mobile.abandonOpen(id, 'abandoned');
    const txn = journal.transaction(id)!;
    if (txn.mobileIn > 0) journal.settle(id, { endReason });
    else journal.cancel(id, endReason);
    forwarder.forwardNow();
  };
  let n = 0;
  const start = async (amountDue = 3000) => {
    n += 1;
    const id = `TX-${n}`;
    journal.startTransaction(id, 'pay');
    const machine = transactionMachine.provide({
      actors: {
        lookup: fromPromise(async ({ input }: { input: { phone: string } }) => {
          journal.recordLookup(id, { phone: input.phone, amountDue });
          return { amountDue };
        }),
        startMobile: mobile.startActor(),
        queryMobile: mobile.queryActor(),
        revokeMobile: mobile.revokeActor(),
        settle: fromPromise<unknown, SettleInput>(({ input }) => close(input.id, input.endReason)),
        cancel: fromPromise<unknown, CloseInput>(({ input }) => close(input.id, input.endReason)),
        finish: fromPromise<unknown, CloseInput>(({ input }) => close(input.id, input.endReason)),
        printReceipt: fromPromise(async () => undefined),
      },
    });
    const actor = createActor(machine, { input: { id, service: 'pay', limits: LIMITS, timeouts: { ...FAST, ...timeouts }, mobile: ['code', 'qr'] } });
    actor.start();
    t.teardown(() => actor.stop());
    actor.send({ type: 'NUMBER', phone: '13800138000' });
    await waitFor(actor, (s) => s.matches('review'), WAIT);
    const reach = (test: (s: TransactionSnapshot) => boolean) => waitFor(actor, test, WAIT);
    return { id, actor, reach };
  };
  /** Waits until the outbox is drained (payments and revokes acknowledged by the host). */
  const drained = async () => {
    for (let i = 0; i < 300 && journal.outboxStats().pending > 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.equal(journal.outboxStats().pending, 0, 'the outbox is drained');
  };
  return { ...w, journal, file, scanner, mobile, start, drained };
}

function noCodeIn(t: Test, file: string, code: string) {
  t.notOk(readFileSync(file).includes(code), 'the full code is not in the journal file');
}

t.test('paid at once: scanner on only while a code is wanted, the code wiped, credited once, the gateway balance holds', async (t) => {
  const k = await kiosk(t);
  t.equal(k.scanner.show(walletCode('paid')), null, 'a code shown before the customer chose a wallet is dropped');
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'code' });
  await reach((s) => s.context.mobileStage === 'show-code' && k.scanner.enabled);
  const code = walletCode('paid');
  const read = k.scanner.show(code)!;
  const done = await reach((s) => s.status === 'done');
  t.match(done.output, { status: 'completed', endReason: 'paid', mobileIn: 3000 });
  t.notOk(k.scanner.enabled, 'the scanner is off again');
  t.ok((read.sensitive as HeldCode).bytes.every((b) => b === 0), 'the code buffer was zero-filled');
  t.match(k.journal.transaction(id), { status: 'completed', mobileIn: 3000, credited: 3000, cashIn: 0 });
  t.equal(k.journal.eventsOf(id, 'mobile.requested')[0]?.data.maskedCode, `${code.slice(0, 2)}${'*'.repeat(12)}${code.slice(-4)}`);
  await k.drained();
  t.same(k.journal.verify(), []);
  t.ok(k.host.wallet.balance().every((b) => b.ok), JSON.stringify(k.host.wallet.balance()));
  t.match(k.host.wallet.balance(), [{ txnId: id, paid: 3000, revoked: 0, settled: 3000, ok: true }]);
  noCodeIn(t, k.file, code);
});

t.test('paid after the customer confirms: queried until paid', async (t) => {
  const k = await kiosk(t);
  k.host.wallet.confirmMs = 300;
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'code' });
  await reach(() => k.scanner.enabled);
  k.scanner.show(walletCode('paid-after-confirm'));
  await reach((s) => s.context.mobileStage === 'confirming');
  t.match((await reach((s) => s.status === 'done')).output, { status: 'completed', mobileIn: 3000 });
  t.ok((k.host.wallet.payments()[0]?.queries ?? 0) >= 1, 'the kiosk asked');
  await k.drained();
  t.match(k.host.wallet.balance(), [{ txnId: id, ok: true, settled: 3000 }]);
});

t.test('failed: back to the review with the reason, nothing credited; a second code then pays', async (t) => {
  const k = await kiosk(t);
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'code' });
  await reach(() => k.scanner.enabled);
  k.scanner.show(walletCode('failed-insufficient-balance'));
  const back = await reach((s) => s.matches('review'));
  t.match(back.context, { error: 'mobile-failed', mobileReason: 'insufficient-balance' });
  t.notOk(k.scanner.enabled);
  actor.send({ type: 'MOBILE', mode: 'code' });
  await reach(() => k.scanner.enabled);
  k.scanner.show(walletCode('paid', 'alipay'));
  t.match((await reach((s) => s.status === 'done')).output, { status: 'completed', mobileIn: 3000 });
  t.same(k.journal.mobile.attempts(id).map((a) => [a.wallet, a.status]), [['wechat', 'failed'], ['alipay', 'paid']]);
  await k.drained();
  t.same(k.journal.verify(), []);
});

t.test('a code of no wallet is refused before anything is sent', async (t) => {
  const k = await kiosk(t);
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'code' });
  await reach(() => k.scanner.enabled);
  k.scanner.show(walletCode('paid', 'unknown'));
  await reach((s) => s.context.mobileStage === 'unknown-wallet');
  t.same(k.journal.mobile.attempts(id), [], 'nothing journalled, nothing sent');
  t.same(k.host.wallet.payments(), []);
  t.ok(k.scanner.enabled, 'still waiting for a code');
});

for (const [behaviour, what] of [
  ['confirming-forever', 'confirming for ever: revoked at the limit'],
  ['paid-after-revoke-sent', 'paid just as the revoke arrives: refunded by the gateway, never credited'],
  ['no-answer', 'no answer at all: revoked at the limit'],
] as [WalletBehaviour, string][]) {
  t.test(what, async (t) => {
    const k = await kiosk(t);
    const { id, actor, reach } = await k.start();
    actor.send({ type: 'MOBILE', mode: 'code' });
    await reach(() => k.scanner.enabled);
    k.scanner.show(walletCode(behaviour));
    t.match((await reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'mobile-revoked' });
    await k.drained();
    t.match(k.journal.transaction(id), { status: 'cancelled', mobileIn: 0, credited: 0 });
    t.equal(k.journal.mobile.attempts(id)[0]?.status, 'revoked', 'the gateway acknowledged the revoke');
    t.same(k.journal.verify(), []);
    t.match(k.host.wallet.balance(), [{ txnId: id, settled: 0, ok: true }]);
    const p = k.host.wallet.payments()[0]!;
    t.equal(p.paid - p.revoked, 0, `${behaviour}: the gateway kept nothing`);
  });
}

t.test('answer lost after paying: the query finds it paid and it is credited once', async (t) => {
  const k = await kiosk(t);
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'code' });
  await reach(() => k.scanner.enabled);
  k.scanner.show(walletCode('answer-lost-after-paying'));
  t.match((await reach((s) => s.status === 'done')).output, { status: 'completed', mobileIn: 3000 });
  await k.drained();
  t.equal(k.journal.eventsOf(id, 'mobile.paid').length, 1);
  t.match(k.host.wallet.balance(), [{ txnId: id, paid: 3000, revoked: 0, settled: 3000, ok: true }]);
});

t.test('a revoke the gateway does not take at first is sent again until it is', async (t) => {
  const k = await kiosk(t);
  k.host.wallet.refuseRevokes = 2;
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'code' });
  await reach(() => k.scanner.enabled);
  k.scanner.show(walletCode('confirming-forever'));
  await reach((s) => s.status === 'done');
  await k.drained();
  t.equal(k.host.wallet.refuseRevokes, 0, 'both refusals were used');
  t.equal(k.journal.mobile.attempts(id)[0]?.status, 'revoked');
});

t.test('recovery: a paid request settles once; one still confirming is revoked', async (t) => {
  const k = await kiosk(t);
  const { heldCode } = await import('./doubles.js');
  for (const [id, behaviour] of [
    ['R-paid', 'paid'],
    ['R-conf', 'confirming-forever'],
  ] as const) {
    k.journal.startTransaction(id, 'pay');
    k.journal.recordLookup(id, { phone: '13800138000', amountDue: 3000 });
    const code = walletCode(behaviour);
    k.journal.mobile.requested(id, { paymentId: `P-${id}`, mode: 'code', wallet: 'wechat', amount: 3000, maskedCode: '13************0000' });
    // The charge reached the gateway; the crash came before its answer was journalled.
    await k.adapter.chargeByCode({ paymentId: `P-${id}`, txnId: id, phone: '13800138000', amount: 3000, wallet: 'wechat' }, heldCode(code));
  }
  await k.mobile.recoverUnresolved();
  const decisions = recoverOpenTransactions(k.journal, { validatorReady: true, noteInStacker: false });
  t.match(decisions, [{ txnId: 'R-paid', action: 'settled', credited: 3000 }, { txnId: 'R-conf', action: 'cancelled' }]);
  t.same(recoverOpenTransactions(k.journal, { validatorReady: true, noteInStacker: false }), [], 'a second pass finds nothing');
  t.equal(k.journal.eventsOf('R-paid', 'mobile.paid').length, 1, 'credited once');
  await k.drained();
  t.same(k.journal.verify(), []);
  t.ok(k.host.wallet.balance().every((b) => b.ok), JSON.stringify(k.host.wallet.balance()));
});

t.test('the kiosk QR: shown, paid by the phone, credited', async (t) => {
  const k = await kiosk(t);
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'qr' });
  const shown = await reach((s) => s.context.qr !== null);
  t.match(shown.context.qr, { codeUrl: /^https:\/\/pay\.example\.test\/qr\// });
  t.notOk(k.scanner.enabled, 'the scanner stays off for the QR');
  k.host.wallet.payOrder(shown.context.paymentId!);
  t.match((await reach((s) => s.status === 'done')).output, { status: 'completed', mobileIn: 3000 });
  await k.drained();
  t.match(k.host.wallet.balance(), [{ txnId: id, ok: true, settled: 3000 }]);
});

t.test('the kiosk QR expires: the order is closed; paid after that, it is refunded, never credited', async (t) => {
  const k = await kiosk(t, { mobileQrMs: 300 });
  const { id, actor, reach } = await k.start();
  actor.send({ type: 'MOBILE', mode: 'qr' });
  const shown = await reach((s) => s.context.qr !== null);
  t.match((await reach((s) => s.status === 'done')).output, { status: 'cancelled', endReason: 'mobile-revoked' });
  await k.drained();
  t.match(k.host.wallet.payment(shown.context.paymentId!), { status: 'closed' });
  k.host.wallet.payOrder(shown.context.paymentId!);
  t.match(k.host.records().anomalies, [{ kind: 'wallet-paid-after-close', txnId: id }]);
  t.match(k.host.wallet.balance(), [{ txnId: id, paid: 3000, revoked: 3000, settled: 0, ok: true }]);
  t.match(k.journal.transaction(id), { mobileIn: 0 });
});
