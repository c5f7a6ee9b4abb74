import t, { type Test } from 'tap';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHost, type RunningHost } from '../../hw-sim/host/server.js';
import { BusinessClient, UplinkError, type PaymentPayload } from '../../src/uplink/index.js';

const ZHANG = '13800138000';

function payment(over: Partial<PaymentPayload> = {}): PaymentPayload {
  return {
    messageId: 'T1:payment',
    txnId: 'T1',
    service: 'pay',
    phone: ZHANG,
    amount: 2000,
    currency: 'CNY',
    cashIn: 2000,
    settledAt: '2025-01-02T03:04:05.000Z',
    ...over,
  };
}

async function withHost(t: Test): Promise<{ host: RunningHost; client: BusinessClient }> {
  const host = await startHost({ port: 0, dbPath: join(t.testdir(), 'host.db') });
  t.teardown(() => host.close());
  return { host, client: new BusinessClient({ baseUrl: host.url, timeoutMs: 2000 }) };
}

/** Resolves with the UplinkError a promise rejects with; fails the test otherwise. */
async function uplinkError(t: Test, p: Promise<unknown>): Promise<UplinkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, UplinkError);
  return err as UplinkError;
}

t.test('look-up and payment against the reference host', async (t) => {
  const { host, client } = await withHost(t);
  t.same(await client.lookup(ZHANG), { phone: ZHANG, holder: 'Zhang San', amountDue: 5000 });
  t.same(await client.postPayment(payment()), { status: 'accepted', serverRef: 'P000001' });
  t.same(await client.postPayment(payment()), { status: 'duplicate', serverRef: 'P000001' });
  t.same(await client.lookup(ZHANG), { phone: ZHANG, holder: 'Zhang San', amountDue: 3000 });
  await fetch(`${host.url}/_accounts`, { method: 'POST', body: JSON.stringify({ phone: '13300133000', amountDue: 7 }) });
  t.same(await client.lookup('13300133000'), { phone: '13300133000', amountDue: 7 }, 'no holder, no key');
});

t.test('a base URL with a path prefix and credentials', async (t) => {
  const { host } = await withHost(t);
  const client = new BusinessClient({ baseUrl: host.url.replace('http://', 'http://kiosk:s3cret@'), timeoutMs: 2000 });
  t.equal((await client.lookup(ZHANG)).amountDue, 5000, 'credentials are moved out of the URL');
  await host.close();
  const err = await uplinkError(t, client.lookup(ZHANG));
  t.notMatch(err.message, /s3cret/);
  t.notMatch(err.url, /kiosk|s3cret/);
  const prefixed = new BusinessClient({ baseUrl: 'http://127.0.0.1:1/api', timeoutMs: 2000 });
  t.equal((await uplinkError(t, prefixed.lookup(ZHANG))).url, 'http://127.0.0.1:1/api/v1/accounts/13800138000');
});

t.test('unknown account and refused requests', async (t) => {
  const { client } = await withHost(t);
  const unknown = await uplinkError(t, client.lookup('13100000000'));
  t.equal(unknown.kind, 'unknown-account');
  t.equal(unknown.status, 404);
  const malformed = await uplinkError(t, client.lookup('123'));
  t.equal(malformed.kind, 'rejected');
  t.equal(malformed.status, 400);
  t.match(malformed.message, /HTTP 400 .*invalid-phone/);

  await client.postPayment(payment());
  const conflict = await uplinkError(t, client.postPayment(payment({ amount: 1999 })));
  t.equal(conflict.kind, 'rejected');
  t.equal(conflict.status, 409);
  t.match(conflict.message, /conflict.*amount: recorded 2000, resent 1999/);
});

t.test('host down → unreachable', async (t) => {
  const { host, client } = await withHost(t);
  host.setMode('down');
  const e1 = await uplinkError(t, client.lookup(ZHANG));
  t.equal(e1.kind, 'unreachable');
  t.equal(e1.status, undefined);
  t.match(e1.message, new RegExp(`GET ${host.url}/v1/accounts/${ZHANG}`));
  t.equal((await uplinkError(t, client.postPayment(payment()))).kind, 'unreachable');

  await host.close();
  const refused = await uplinkError(t, client.lookup(ZHANG));
  t.equal(refused.kind, 'unreachable');
  t.match(refused.message, /ECONNREFUSED/);
});

t.test('host slower than the timeout → timeout', async (t) => {
  const { host } = await withHost(t);
  const client = new BusinessClient({ baseUrl: host.url, timeoutMs: 30 });
  host.setMode('slow', 60_000);
  const e1 = await uplinkError(t, client.lookup(ZHANG));
  t.equal(e1.kind, 'timeout');
  t.match(e1.message, /no answer within 30 ms/);
  t.equal((await uplinkError(t, client.postPayment(payment()))).kind, 'timeout');
});

t.test('host answering garbage → garbage', async (t) => {
  const { host, client } = await withHost(t);
  host.setMode('garbage');
  const wrongShape = await uplinkError(t, client.lookup(ZHANG));
  t.equal(wrongShape.kind, 'garbage');
  t.equal(wrongShape.status, 200);
  const notJson = await uplinkError(t, client.postPayment(payment()));
  t.equal(notJson.kind, 'garbage');
  t.match(notJson.message, /not JSON/);
});

t.test('answers that look right but are not: wrong txn, wrong phone, 5xx, redirect', async (t) => {
  const answers: Record<string, [number, string, Record<string, string>?]> = {
    [`/v1/accounts/${ZHANG}`]: [200, JSON.stringify({ phone: '13900139000', amountDue: 1 })],
    '/v1/payments': [200, JSON.stringify({ status: 'accepted', txnId: 'OTHER', serverRef: 'P1' })],
    '/v1/accounts/13900139000': [503, 'busy'],
    '/v1/accounts/13700137000': [302, '', { location: '/elsewhere' }],
    '/v1/accounts/13600136000': [200, JSON.stringify({ phone: '13600136000', amountDue: 1.5 })],
  };
  const fake = createServer((req, res) => {
    const [status, body, headers] = answers[req.url ?? ''] ?? [404, '{}'];
    res.writeHead(status, headers).end(body);
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => fake.close(() => r())));
  const client = new BusinessClient({ baseUrl: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`, timeoutMs: 2000 });

  t.match(await uplinkError(t, client.lookup(ZHANG)), { kind: 'garbage', message: /answer is for 13900139000/ });
  t.match(await uplinkError(t, client.postPayment(payment())), { kind: 'garbage', message: /ack is for OTHER/ });
  t.match(await uplinkError(t, client.lookup('13900139000')), { kind: 'unreachable', status: 503 });
  t.match(await uplinkError(t, client.lookup('13700137000')), { kind: 'garbage', status: 302 });
  t.match(await uplinkError(t, client.lookup('13600136000')), { kind: 'garbage', message: /amountDue/ });
});
