/**
 * The wallet services over the business link: the real EnvelopeAdapter against the reference
 * host's gateway on a real mutual-TLS link, one test per gateway behaviour, the revoke and the
 * order's close through delivery, the balance per transaction, and the byte vectors of the docs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { UplinkError, type UplinkErrorKind } from '../../src/uplink/errors.js';
import { encodeFrames, Service } from '../../src/uplink/link/envelope.js';
import { chargeBody } from '../../src/uplink/link/mobile-services.js';
import { mobileRevokePayloadSchema } from '../../src/uplink/messages.js';
import type { MobileChargeRequest } from '../../src/uplink/mobile.js';
import { walletCode, type WalletBehaviour } from '../../hw-sim/wallet-codes.js';
import { heldCode } from '../wallet/doubles.js';
import { world } from './world.js';

let n = 0;
function request(over: Partial<MobileChargeRequest> = {}): MobileChargeRequest {
  n += 1;
  return { paymentId: `M${n}`, txnId: `TX${n}`, phone: '13800138000', amount: 5000, wallet: 'wechat', ...over };
}

async function failure(p: Promise<unknown>): Promise<UplinkErrorKind> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UplinkError)) throw new Error(`expected an UplinkError, got ${String(err)}`);
  return err.kind;
}

async function walletWorld(t: Test) {
  const lines: string[] = [];
  const add = (...args: unknown[]) => void lines.push(JSON.stringify(args));
  const log = { debug: add, info: add, warn: add };
  const w = await world(t, { host: { log }, session: { timeoutMs: 1200, log } });
  t.ok(await w.adapter.waitUp(10_000), 'link up');
  return { ...w, lines };
}

function revoke(r: MobileChargeRequest, action: 'revoke' | 'close' = 'revoke') {
  const payload = mobileRevokePayloadSchema.parse({
    messageId: `${r.txnId}:revoke:${r.paymentId}`,
    txnId: r.txnId,
    paymentId: r.paymentId,
    action,
    amount: r.amount,
    currency: 'CNY',
    reason: 'query-limit',
    createdAt: new Date().toISOString(),
  });
  return { messageId: payload.messageId, kind: 'mobile-revoke' as const, payload };
}

t.test('each gateway behaviour chosen by the code, as the kiosk sees it', async (t) => {
  const w = await walletWorld(t);
  const charge = (b: WalletBehaviour, r = request()) => {
    const code = heldCode(walletCode(b));
    return { r, code, p: w.adapter.chargeByCode(r, code) };
  };

  const paid = charge('paid');
  t.match(await paid.p, { outcome: 'paid', gatewayRef: /\S/ });
  t.ok(paid.code.wiped && paid.code.bytes.every((b) => b === 0), 'the code is wiped after the charge');

  for (const [b, reason] of [
    ['failed-insufficient-balance', 'insufficient-balance'],
    ['failed-code-expired', 'code-expired'],
    ['failed-code-used', 'code-used'],
  ] as const) {
    t.same(await charge(b).p, { outcome: 'failed', reason }, b);
  }

  w.host.wallet.confirmMs = 300;
  const confirm = charge('paid-after-confirm');
  t.same(await confirm.p, { outcome: 'confirming' });
  t.same(await w.adapter.queryMobile(confirm.r), { outcome: 'confirming' }, 'the customer has not confirmed yet');
  await new Promise((r) => setTimeout(r, 350));
  t.match(await w.adapter.queryMobile(confirm.r), { outcome: 'paid' }, 'confirmed on the phone');

  const silent = charge('no-answer');
  t.equal(await failure(silent.p), 'outcome-unknown', 'no answer: the outcome is unknown');
  t.equal(await failure(w.adapter.queryMobile(silent.r)), 'outcome-unknown', 'queries go unanswered too');

  const lost = charge('answer-lost-after-paying');
  t.equal(await failure(lost.p), 'outcome-unknown', 'the answer is lost');
  t.ok(await w.adapter.waitUp(10_000), 'the link comes back');
  t.match(await w.adapter.queryMobile(lost.r), { outcome: 'paid' }, 'a query finds it paid');

  const forever = charge('confirming-forever');
  t.same(await forever.p, { outcome: 'confirming' });
  t.same(await w.adapter.queryMobile(forever.r), { outcome: 'confirming' });

  const file = readFileSync(join(w.dir, 'host.db'));
  t.notOk(/\d{18}/.test(file.toString('latin1').replace(/[^\d]/g, ' ')), 'no full code in the host database');
  t.notOk(w.lines.some((l) => /\d{18}/.test(l)), 'no full code in the host log or the session log');
});

t.test('a revoke is acknowledged once the gateway did it; the balance per transaction stays paid − revoked', async (t) => {
  const w = await walletWorld(t);
  const r = request();
  t.same(await w.adapter.chargeByCode(r, heldCode(walletCode('confirming-forever'))), { outcome: 'confirming' });
  const acks = await w.adapter.deliver([revoke(r)]);
  t.match(acks, [{ messageId: revoke(r).messageId, status: 'accepted' }]);
  t.same(await w.adapter.deliver([revoke(r)]), acks, 'a resend is answered with the same reference');
  t.match(await w.adapter.queryMobile(r), { outcome: 'failed', reason: 'revoked' });
  t.match(w.host.wallet.payment(r.paymentId), { status: 'revoked', paid: 0, revoked: 0 });

  // Paid just as the revoke arrives: the money goes back, and the gateway keeps nothing.
  const late = request();
  await w.adapter.chargeByCode(late, heldCode(walletCode('paid-after-revoke-sent')));
  await w.adapter.deliver([revoke(late)]);
  t.match(w.host.wallet.payment(late.paymentId), { status: 'revoked', paid: 5000, revoked: 5000 });
  t.match(w.host.records().anomalies, [{ kind: 'wallet-paid-before-revoke', txnId: late.txnId }]);
  t.ok(w.host.wallet.balance().every((b) => b.ok && b.paid - b.revoked === 0), JSON.stringify(w.host.wallet.balance()));

  // A revoke that arrives before the charge leaves a tombstone: the charge is then refused.
  const early = request();
  await w.adapter.deliver([revoke(early)]);
  t.match(await w.adapter.chargeByCode(early, heldCode(walletCode('paid'))), { outcome: 'failed', reason: 'revoked' });
});

t.test('"try again": a revoke the gateway does not take now gets no acknowledgement and is taken when sent again', async (t) => {
  const w = await walletWorld(t);
  const r = request();
  await w.adapter.chargeByCode(r, heldCode(walletCode('confirming-forever')));
  w.host.wallet.refuseRevokes = 1;
  t.same(await w.adapter.deliver([revoke(r)]), [], 'no acknowledgement: the forwarder keeps it');
  t.match(w.host.wallet.payment(r.paymentId), { status: 'confirming' });
  t.match(await w.adapter.deliver([revoke(r)]), [{ status: 'accepted' }]);
  t.match(w.host.wallet.payment(r.paymentId), { status: 'revoked' });
});

t.test('the kiosk-shown QR: an order, paid by the phone; another closed, then paid late and refunded', async (t) => {
  const w = await walletWorld(t);
  const r = request();
  const order = await w.adapter.createOrder(r);
  t.match(order, { paymentId: r.paymentId, codeUrl: /^https:\/\/pay\.example\.test\/qr\// });
  t.same(await w.adapter.createOrder(r), order, 'asked again: the same order');
  t.same(await w.adapter.queryMobile(r), { outcome: 'confirming' }, 'not paid yet');
  w.host.wallet.payOrder(r.paymentId);
  t.match(await w.adapter.queryMobile(r), { outcome: 'paid' });

  const closed = request();
  await w.adapter.createOrder(closed);
  t.match(await w.adapter.deliver([revoke(closed, 'close')]), [{ status: 'accepted' }]);
  w.host.wallet.payOrder(closed.paymentId);
  t.match(w.host.wallet.payment(closed.paymentId), { status: 'closed', paid: 5000, revoked: 5000 });
  t.match(w.host.records().anomalies, [{ kind: 'wallet-paid-after-close', txnId: closed.txnId }]);
  t.match(await w.adapter.queryMobile(closed), { outcome: 'failed', reason: 'closed' }, 'never reported paid');

  w.host.wallet.orderTtlMs = 1;
  const expired = request();
  await w.adapter.createOrder(expired);
  await new Promise((res) => setTimeout(res, 10));
  t.match(await w.adapter.queryMobile(expired), { outcome: 'failed', reason: 'expired' });
});

t.test('the link down: nothing is sent and the code is wiped all the same', async (t) => {
  const w = await world(t, { start: false });
  const code = heldCode(walletCode('paid'));
  t.equal(await failure(w.adapter.chargeByCode(request(), code)), 'unreachable');
  t.ok(code.wiped && code.bytes.every((b) => b === 0));
  t.equal(await failure(w.adapter.queryMobile(request())), 'unreachable');
});

t.test('byte vectors of docs/business-link.md', async (t) => {
  const code = Buffer.from('130012345678901234', 'latin1');
  const body = chargeBody({ paymentId: 'M1', txnId: 'T1', phone: '13800138000', amount: 5000, wallet: 'wechat' }, code);
  t.equal(
    body.toString('utf8'),
    '{"paymentId":"M1","txnId":"T1","phone":"13800138000","amount":5000,"currency":"CNY","wallet":"wechat","code":"130012345678901234"}',
  );
  t.equal(body.length, 130);
  const frame = encodeFrames({ seq: 11, service: Service.chargeByCode, error: 0, response: false }, body);
  t.equal(frame.subarray(0, 16).toString('hex'), '4b4c01010000000b0110000000000082');
  const answer = Buffer.from('{"paymentId":"M1","outcome":"confirming"}');
  const reply = encodeFrames({ seq: 11, service: Service.chargeByCode, error: 0, response: true }, answer);
  t.equal(reply.subarray(0, 16).toString('hex'), '4b4c01030000000b0110000000000029');
  const query = Buffer.from('{"paymentId":"M1","txnId":"T1"}');
  t.equal(encodeFrames({ seq: 12, service: Service.queryMobile, error: 0, response: false }, query).subarray(0, 16).toString('hex'), '4b4c01010000000c011100000000001f');
  t.throws(() => chargeBody({ paymentId: 'M1', txnId: 'T1', phone: '13800138000', amount: 1, wallet: 'x' }, Buffer.from('13"0')), /digits only/);
});
