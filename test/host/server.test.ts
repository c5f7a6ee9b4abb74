import t, { type Test } from 'tap';
import { join } from 'node:path';
import { startHost, type RunningHost } from '../../hw-sim/host/server.js';

const ZHANG = '13800138000';

function payment(over: Record<string, unknown> = {}): Record<string, unknown> {
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

async function post(host: RunningHost, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(host.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function get(host: RunningHost, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(host.url + path);
  return { status: res.status, body: await res.json() };
}

async function freshHost(t: Test, opts: Partial<Parameters<typeof startHost>[0]> = {}): Promise<RunningHost> {
  const host = await startHost({ port: 0, dbPath: join(t.testdir(), 'host.db'), ...opts });
  t.teardown(() => host.close());
  return host;
}

t.test('account look-up: known, unknown, malformed', async (t) => {
  const host = await freshHost(t);
  t.match(host.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.same((await get(host, `/v1/accounts/${ZHANG}`)).body, { phone: ZHANG, amountDue: 5000, holder: 'Zhang San' });
  t.same(await get(host, '/v1/accounts/13100000000'), { status: 404, body: { error: 'unknown-account' } });
  for (const bad of ['1380013800', '23800138000', '1380013800x', '%E0%A4%A']) {
    const r = await get(host, `/v1/accounts/${bad}`);
    t.equal(r.status, 400, bad);
    t.equal(r.body.error, 'invalid-phone', bad);
  }
  t.equal((await get(host, '/v1/nothing')).status, 404);
  t.same((await post(host, `/v1/accounts/${ZHANG}`, {})).body.error, 'method-not-allowed');
  t.equal((await get(host, '/healthz')).body.ok, true);
});

t.test('given accounts replace the demo seed', async (t) => {
  const host = await freshHost(t, { accounts: [{ phone: '13500135000', amountDue: 42 }] });
  const { body } = await get(host, '/_records');
  t.same(body.accounts, [{ phone: '13500135000', holder: null, amountDue: 42, balance: 0 }]);
});

t.test('a payment is accepted once; a resend is a duplicate with the same reference', async (t) => {
  const host = await freshHost(t);
  const first = await post(host, '/v1/payments', payment());
  t.same(first, { status: 200, body: { status: 'accepted', txnId: 'T1', serverRef: 'P000001' } });
  const again = await post(host, '/v1/payments', payment({ messageId: 'T1:payment' }));
  t.same(again, { status: 200, body: { status: 'duplicate', txnId: 'T1', serverRef: 'P000001' } });

  const { body } = await get(host, '/_records');
  t.equal(body.payments.length, 1);
  t.match(body.payments[0], { txnId: 'T1', amount: 2000, serverRef: 'P000001', duplicates: 1 });
  t.equal((await get(host, `/v1/accounts/${ZHANG}`)).body.amountDue, 3000, 'lowered once');
  t.same(body.anomalies, []);
});

t.test('paying more than is due leaves the excess as balance; top-ups and new numbers', async (t) => {
  const host = await freshHost(t);
  t.equal((await post(host, '/v1/payments', payment({ txnId: 'A', amount: 7000 }))).body.status, 'accepted');
  t.equal((await post(host, '/v1/payments', payment({ txnId: 'B', service: 'topup', amount: 500 }))).body.serverRef, 'P000002');
  t.equal((await post(host, '/v1/payments', payment({ txnId: 'C', phone: '13600136000', amount: 1000 }))).status, 200);
  const { body } = await get(host, '/_records');
  const acc = (p: string) => body.accounts.find((a: any) => a.phone === p);
  t.same(acc(ZHANG), { phone: ZHANG, holder: 'Zhang San', amountDue: 0, balance: 2500 });
  t.same(acc('13600136000'), { phone: '13600136000', holder: null, amountDue: 0, balance: 1000 });
  t.same(
    body.payments.map((p: any) => p.serverRef),
    ['P000001', 'P000002', 'P000003'],
  );
});

t.test('the same txnId with another amount is a 409 conflict and an anomaly', async (t) => {
  const host = await freshHost(t);
  await post(host, '/v1/payments', payment());
  const clash = await post(host, '/v1/payments', payment({ amount: 2500 }));
  t.equal(clash.status, 409);
  t.equal(clash.body.error, 'conflict');
  t.equal(clash.body.serverRef, 'P000001');
  const { body } = await get(host, '/_records');
  t.equal(body.payments.length, 1);
  t.equal(body.payments[0].amount, 2000, 'the recorded payment is untouched');
  t.equal(body.anomalies.length, 1);
  t.match(body.anomalies[0], { kind: 'conflicting-duplicate', txnId: 'T1', detail: /amount: recorded 2000, resent 2500/ });
  t.equal((await get(host, `/v1/accounts/${ZHANG}`)).body.amountDue, 3000);
});

t.test('malformed bodies are 400 with a clear error and change nothing', async (t) => {
  const host = await freshHost(t);
  const notJson = await post(host, '/v1/payments', '{"txnId": ');
  t.same(notJson, { status: 400, body: { error: 'malformed-json', message: 'body is not valid JSON' } });
  const cases: [Record<string, unknown>, RegExp][] = [
    [payment({ amount: 10.5 }), /amount/],
    [payment({ amount: 0 }), /amount/],
    [payment({ amount: '2000' }), /amount/],
    [payment({ currency: 'USD' }), /currency/],
    [payment({ service: 'refund' }), /service/],
    [payment({ phone: '12345' }), /phone/],
    [payment({ txnId: undefined }), /txnId/],
    [payment({ settledAt: 'yesterday' }), /settledAt/],
  ];
  for (const [body, field] of cases) {
    const r = await post(host, '/v1/payments', body);
    t.equal(r.status, 400);
    t.equal(r.body.error, 'invalid-body');
    t.match(r.body.message, field);
  }
  t.equal((await post(host, '/v1/payments', [1, 2])).status, 400);
  t.equal((await post(host, '/_mode', { mode: 'sideways' })).status, 400);
  t.equal((await post(host, '/_accounts', { phone: ZHANG, amountDue: -1 })).status, 400);
  t.equal((await get(host, '/_nothing')).body.error, 'not-found');
  const big = await fetch(host.url + '/v1/payments', { method: 'POST', body: 'x'.repeat(100_000) }).then(
    (r) => r.status,
    () => 'connection closed',
  );
  t.ok(big === 413 || big === 'connection closed', `oversized body refused (${big})`);
  t.same((await get(host, '/_records')).body.payments, []);
  t.equal((await get(host, '/healthz')).status, 200, 'still serving');
});

t.test('fault modes, observed from a plain fetch; control endpoints keep working', async (t) => {
  const host = await freshHost(t);

  t.equal((await post(host, '/_mode', { mode: 'down' })).body.mode, 'down');
  await t.rejects(fetch(`${host.url}/v1/accounts/${ZHANG}`), TypeError, 'connection dropped without an answer');
  await t.rejects(fetch(`${host.url}/v1/payments`, { method: 'POST', body: JSON.stringify(payment()) }), TypeError);
  t.equal((await get(host, '/_records')).body.payments.length, 0, 'down: nothing reached billing');

  host.setMode('garbage');
  const g1 = await fetch(`${host.url}/v1/accounts/${ZHANG}`);
  t.equal(g1.status, 200);
  t.notOk('amountDue' in ((await g1.json()) as object), 'wrong shape');
  const g2 = await fetch(`${host.url}/v1/payments`, { method: 'POST', body: JSON.stringify(payment()) });
  t.equal(g2.status, 200);
  const text = await g2.text();
  t.throws(() => JSON.parse(text), 'not JSON');
  t.equal((await get(host, '/_records')).body.payments.length, 0, 'garbage: nothing reached billing');

  await post(host, '/_mode', { mode: 'slow', delayMs: 60_000 });
  await t.rejects(fetch(`${host.url}/v1/accounts/${ZHANG}`, { signal: AbortSignal.timeout(30) }), { name: 'TimeoutError' });
  // The answer is held back, but the payment is recorded on arrival, like a reply lost in transit.
  let answered = false;
  void fetch(`${host.url}/v1/payments`, { method: 'POST', body: JSON.stringify(payment()) }).then(
    () => (answered = true),
    () => 'dropped at close',
  );
  while ((await get(host, '/_records')).body.payments.length === 0) await new Promise((r) => setTimeout(r, 5));
  t.equal(answered, false, 'recorded while the answer is still held; control answers are not delayed');
  host.setMode('slow', 20);
  const late = await get(host, `/v1/accounts/${ZHANG}`);
  t.same(late.body, { phone: ZHANG, amountDue: 3000, holder: 'Zhang San' }, 'slow answers do arrive');

  host.setMode('ok');
  t.equal((await post(host, '/v1/payments', payment())).body.status, 'duplicate');
});

t.test('records and balances persist across a restart on the same db', async (t) => {
  const dbPath = join(t.testdir(), 'host.db');
  const first = await startHost({ port: 0, dbPath });
  await post(first, '/v1/payments', payment());
  await post(first, '/v1/payments', payment({ amount: 1 }));
  await post(first, '/_accounts', { phone: '13300133000', amountDue: 900, holder: 'Zhao Liu' });
  await first.close();

  const second = await startHost({ port: 0, dbPath });
  t.teardown(() => second.close());
  const { body } = await get(second, '/_records');
  t.equal(body.payments.length, 1);
  t.equal(body.payments[0].serverRef, 'P000001');
  t.equal(body.anomalies.length, 1);
  t.equal((await get(second, `/v1/accounts/${ZHANG}`)).body.amountDue, 3000, 'demo seed not re-applied');
  t.equal((await get(second, '/v1/accounts/13300133000')).body.amountDue, 900);
  t.equal((await post(second, '/v1/payments', payment())).body.status, 'duplicate');
  t.equal((await post(second, '/v1/payments', payment({ txnId: 'T2' }))).body.serverRef, 'P000002');
});

t.test('close does not wait for answers held back by slow mode', async (t) => {
  const host = await startHost({ port: 0, dbPath: join(t.testdir(), 'host.db'), mode: 'slow', delayMs: 60_000 });
  const pending = fetch(`${host.url}/v1/accounts/${ZHANG}`).then(
    () => 'answered',
    () => 'dropped',
  );
  await get(host, '/healthz');
  await host.close();
  t.equal(await pending, 'dropped');
});
