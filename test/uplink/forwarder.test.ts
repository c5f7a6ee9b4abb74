import t, { type Test } from 'tap';
import { join } from 'node:path';
import { startHost, type RunningHost } from '../../hw-sim/host/server.js';
import {
  BusinessClient,
  Forwarder,
  MAX_REJECTIONS,
  type ForwarderEvents,
  type ForwarderOptions,
  type OutboxEntry,
  type OutboxPort,
  type PaymentPayload,
  type SendResult,
} from '../../src/uplink/index.js';

/** Stands in for the journal's outbox: rows in insertion order, acked ones left in place. */
class MemoryOutbox implements OutboxPort {
  readonly rows: (OutboxEntry & { ackedRef?: string; acked: boolean; lastError?: string })[] = [];

  add(txnId: string, over: Partial<PaymentPayload> = {}, kind = 'payment'): string {
    const messageId = `${txnId}:payment`;
    const payload = {
      messageId,
      txnId,
      service: 'pay',
      phone: '13800138000',
      amount: 1000,
      currency: 'CNY',
      cashIn: 1000,
      settledAt: '2025-01-02T03:04:05.000Z',
      ...over,
    };
    this.rows.push({ messageId, kind, payload, attempts: 0, acked: false });
    return messageId;
  }

  outboxPending(limit: number): OutboxEntry[] {
    return this.rows
      .filter((r) => !r.acked)
      .slice(0, limit)
      .map(({ messageId, kind, payload, attempts }) => ({ messageId, kind, payload: structuredClone(payload), attempts }));
  }

  markSent(messageId: string, r: SendResult): void {
    const row = this.rows.find((x) => x.messageId === messageId);
    if (!row || row.acked) return;
    row.attempts += 1;
    if (r.ok) {
      row.acked = true;
      row.ackedRef = r.serverRef;
    } else row.lastError = r.error;
  }

  row(messageId: string) {
    return this.rows.find((x) => x.messageId === messageId)!;
  }
}

async function hostFor(t: Test): Promise<RunningHost> {
  const host = await startHost({ port: 0, dbPath: join(t.testdir(), 'host.db') });
  t.teardown(() => host.close());
  return host;
}

async function paymentsAt(host: RunningHost): Promise<{ txnId: string; serverRef: string; duplicates: number }[]> {
  const records = (await (await fetch(`${host.url}/_records`)).json()) as { payments: { txnId: string; serverRef: string; duplicates: number }[] };
  return records.payments;
}

function forwarder(t: Test, opts: Partial<ForwarderOptions> & Pick<ForwarderOptions, 'outbox'>, host?: RunningHost): Forwarder {
  const fwd = new Forwarder({
    client: new BusinessClient({ baseUrl: host?.url ?? 'http://127.0.0.1:1', timeoutMs: 1000 }),
    idleMs: 10,
    backoff: { initialMs: 10, maxMs: 40 },
    random: () => 0.5,
    ...opts,
  });
  t.teardown(() => fwd.stop());
  return fwd;
}

/** Resolves with the first n events of a kind, counted from now. */
function nextEvents<K extends keyof ForwarderEvents>(fwd: Forwarder, event: K, n: number): Promise<ForwarderEvents[K][0][]> {
  return new Promise((resolve) => {
    const got: ForwarderEvents[K][0][] = [];
    const on = (...args: ForwarderEvents[K]) => {
      got.push(args[0]);
      if (got.length === n) {
        fwd.off(event, on as never);
        resolve(got);
      }
    };
    fwd.on(event, on as never);
  });
}

t.test('three messages are delivered in order and acked with the server reference', async (t) => {
  const host = await hostFor(t);
  const outbox = new MemoryOutbox();
  const ids = ['A', 'B', 'C'].map((id) => outbox.add(id));
  const fwd = forwarder(t, { outbox, batchSize: 2 }, host);
  const link = nextEvents(fwd, 'link', 1);
  const sent = nextEvents(fwd, 'sent', 3);
  fwd.start();
  t.same(await link, [{ up: true }]);
  t.same(await sent, [
    { messageId: ids[0], status: 'accepted', serverRef: 'P000001' },
    { messageId: ids[1], status: 'accepted', serverRef: 'P000002' },
    { messageId: ids[2], status: 'accepted', serverRef: 'P000003' },
  ]);
  t.same(
    (await paymentsAt(host)).map((p) => [p.txnId, p.serverRef]),
    [
      ['A', 'P000001'],
      ['B', 'P000002'],
      ['C', 'P000003'],
    ],
  );
  t.same(
    outbox.rows.map((r) => [r.acked, r.ackedRef, r.attempts]),
    [
      [true, 'P000001', 1],
      [true, 'P000002', 1],
      [true, 'P000003', 1],
    ],
  );

  // Later messages are picked up once the outbox is looked at again.
  const more = nextEvents(fwd, 'sent', 1);
  outbox.add('D');
  fwd.forwardNow();
  t.equal((await more)[0]!.serverRef, 'P000004');
});

t.test('host down: link down, back-off, then delivered exactly once; a restart resends only unacked', async (t) => {
  const host = await hostFor(t);
  host.setMode('down');
  const outbox = new MemoryOutbox();
  outbox.add('A');
  outbox.add('B');
  const fwd = forwarder(t, { outbox }, host);
  const down = nextEvents(fwd, 'link', 1);
  const backoffs = nextEvents(fwd, 'backoff', 5);
  fwd.start();
  const [state] = await down;
  t.equal(state!.up, false);
  t.match(state!.error, /POST http:\/\/127\.0\.0\.1:\d+\/v1\/payments/);
  // random() = 0.5 → half of min(40, 10·2^n): the ceiling doubles, then stays at the maximum.
  t.same(
    (await backoffs).map((b) => [b.failures, b.delayMs]),
    [
      [1, 5],
      [2, 10],
      [3, 20],
      [4, 20],
      [5, 20],
    ],
  );
  t.ok(outbox.row('A:payment').attempts >= 5, 'the first message is retried');
  t.match(outbox.row('A:payment').lastError, /unreachable|socket|closed|ECONNRESET/i);
  t.equal(outbox.row('B:payment').attempts, 0, 'nothing overtakes the message that failed');
  t.same(await paymentsAt(host), []);

  const up = nextEvents(fwd, 'link', 1);
  const sent = nextEvents(fwd, 'sent', 2);
  host.setMode('ok');
  fwd.forwardNow();
  t.same(await up, [{ up: true }]);
  t.same(
    (await sent).map((s) => [s.messageId, s.status]),
    [
      ['A:payment', 'accepted'],
      ['B:payment', 'accepted'],
    ],
  );
  await fwd.stop();
  const afterDown = nextEvents(fwd, 'backoff', 1);
  host.setMode('down');
  outbox.add('X');
  fwd.start();
  t.equal((await afterDown)[0]!.delayMs, 5, 'back-off starts over after a success');
  await fwd.stop();
  host.setMode('ok');

  // A new forwarder over the same outbox: only what the old one did not get acked goes out.
  outbox.add('C');
  const second = forwarder(t, { outbox }, host);
  const sent2 = nextEvents(second, 'sent', 2);
  second.start();
  t.same(
    (await sent2).map((s) => s.messageId),
    ['X:payment', 'C:payment'],
  );
  await second.stop();
  const payments = await paymentsAt(host);
  t.same(
    payments.map((p) => [p.txnId, p.duplicates]),
    [
      ['A', 0],
      ['B', 0],
      ['X', 0],
      ['C', 0],
    ],
    'each payment reached the server exactly once',
  );
});

t.test('an ack lost in transit: the resend is answered duplicate and counts as acked', async (t) => {
  const host = await hostFor(t);
  const outbox = new MemoryOutbox();
  outbox.add('A');
  host.setMode('slow', 60_000);
  const impatient = forwarder(t, { outbox, client: new BusinessClient({ baseUrl: host.url, timeoutMs: 30 }) }, host);
  const down = nextEvents(impatient, 'link', 1);
  impatient.start();
  t.match((await down)[0], { up: false, error: /no answer within 30 ms/ });
  // A try may be cut off before the host read it; the retries get it there.
  while ((await paymentsAt(host)).length === 0) await new Promise((r) => setTimeout(r, 5));
  await impatient.stop();
  t.equal((await paymentsAt(host)).length, 1, 'the server recorded it once');
  t.equal(outbox.row('A:payment').acked, false);

  host.setMode('ok');
  const fwd = forwarder(t, { outbox }, host);
  const sent = nextEvents(fwd, 'sent', 1);
  fwd.start();
  t.same(await sent, [{ messageId: 'A:payment', status: 'duplicate', serverRef: 'P000001' }]);
  t.equal(outbox.row('A:payment').ackedRef, 'P000001');
  await fwd.stop();
  const [only] = await paymentsAt(host);
  t.equal(only!.txnId, 'A');
  t.ok(only!.duplicates >= 1);
});

t.test('a refused message is retried, then set aside after MAX_REJECTIONS without blocking the rest', async (t) => {
  const host = await hostFor(t);
  await fetch(`${host.url}/v1/payments`, {
    method: 'POST',
    body: JSON.stringify({ messageId: 'A:payment', txnId: 'A', service: 'pay', phone: '13800138000', amount: 999, currency: 'CNY', cashIn: 999, settledAt: '2025-01-01T00:00:00Z' }),
  });
  const outbox = new MemoryOutbox();
  outbox.add('A');
  outbox.add('B');
  const fwd = forwarder(t, { outbox, batchSize: 1 }, host);
  const order: string[] = [];
  fwd.on('poison', (p) => order.push(`poison ${p.messageId} ${p.rejections} ${p.skipped}`));
  fwd.on('sent', (s) => order.push(`sent ${s.messageId}`));
  fwd.on('link', (l) => order.push(`link ${l.up}`));
  const sent = nextEvents(fwd, 'sent', 1);
  fwd.start();
  await sent;
  await fwd.stop();
  t.same(order, [
    'link true',
    ...Array.from({ length: MAX_REJECTIONS }, (_, i) => `poison A:payment ${i + 1} ${i + 1 === MAX_REJECTIONS}`),
    'sent B:payment',
  ]);
  const a = outbox.row('A:payment');
  t.equal(a.acked, false, 'stays in the outbox for an operator');
  t.equal(a.attempts, MAX_REJECTIONS);
  t.match(a.lastError, /HTTP 409/);

  // A new run gives it another chance.
  const again = forwarder(t, { outbox }, host);
  const poison = nextEvents(again, 'poison', 1);
  again.start();
  t.match(await poison, [{ messageId: 'A:payment', rejections: 1, skipped: false }]);
});

t.test('unsendable messages are set aside at once', async (t) => {
  const host = await hostFor(t);
  const outbox = new MemoryOutbox();
  outbox.add('A', { amount: 12.5 });
  outbox.add('B', {}, 'alarm');
  outbox.add('C');
  const fwd = forwarder(t, { outbox, batchSize: 1 }, host);
  const poison = nextEvents(fwd, 'poison', 2);
  const sent = nextEvents(fwd, 'sent', 1);
  fwd.start();
  t.match(await poison, [
    { messageId: 'A:payment', skipped: true, error: /invalid payment payload.*amount/s },
    { messageId: 'B:payment', skipped: true, error: /unsupported outbox kind 'alarm'/ },
  ]);
  t.equal((await sent)[0]!.messageId, 'C:payment');
  t.same(
    (await paymentsAt(host)).map((p) => p.txnId),
    ['C'],
  );
});

t.test('stop waits for the message in flight and records its answer', async (t) => {
  const outbox = new MemoryOutbox();
  outbox.add('A');
  let release!: () => void;
  let calls = 0;
  const client = {
    postPayment: (p: PaymentPayload) => {
      calls += 1;
      return new Promise<{ status: 'accepted'; serverRef: string }>((resolve) => {
        release = () => resolve({ status: 'accepted', serverRef: `R-${p.txnId}` });
      });
    },
  };
  const fwd = forwarder(t, { outbox, client });
  fwd.start();
  while (calls === 0) await new Promise((r) => setImmediate(r));
  let stopped = false;
  const stopping = fwd.stop().then(() => (stopped = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.equal(stopped, false, 'still waiting for the answer');
  release();
  await stopping;
  t.equal(outbox.row('A:payment').ackedRef, 'R-A');
  t.equal(calls, 1);
});

t.test('an outbox that throws is retried with back-off, not fatal', async (t) => {
  let reads = 0;
  const outbox: OutboxPort = {
    outboxPending: () => {
      reads += 1;
      if (reads < 3) throw new Error('database is locked');
      return [];
    },
    markSent: () => undefined,
  };
  const fwd = forwarder(t, { outbox });
  const backoffs = nextEvents(fwd, 'backoff', 2);
  fwd.start();
  t.same(
    (await backoffs).map((b) => b.failures),
    [1, 2],
  );
  t.throws(() => new Forwarder({ outbox, client: { postPayment: async () => ({ status: 'accepted', serverRef: 'x' }) }, batchSize: 0 }), /batchSize/);
});
