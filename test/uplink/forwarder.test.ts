import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDevPki } from '../../hw-sim/pki/dev-pki.js';
import type { Alarm, AlarmSink } from '../../src/alarms/sink.js';
import {
  Forwarder,
  MAX_REJECTIONS,
  OutboxMonitor,
  watchServerCertificate,
  type BusinessAdapter,
  type Delivery,
  type ForwarderEvents,
  type ForwarderOptions,
  type OutboxEntry,
  type OutboxPort,
  type PaymentPayload,
} from '../../src/uplink/index.js';
import { world, type World } from './world.js';
import { Journal } from '../../src/journal/index.js';
import { testKey } from '../journal/keys.js';

/** Stands in for the journal's outbox: rows in insertion order, acked ones left in place. */
class MemoryOutbox implements OutboxPort {
  readonly rows: (OutboxEntry & { ackedRef?: string; acked: boolean; lastError?: string })[] = [];
  /** The largest batch anyone asked for: what the forwarder holds in memory at most. */
  largestRead = 0;
  commits = 0;

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
    this.largestRead = Math.max(this.largestRead, limit);
    return this.rows
      .filter((r) => !r.acked)
      .slice(0, limit)
      .map(({ messageId, kind, payload, attempts }) => ({ messageId, kind, payload: structuredClone(payload), attempts }));
  }

  markSentAll(deliveries: readonly Delivery[]): void {
    this.commits += 1;
    for (const { messageId, result } of deliveries) {
      const row = this.rows.find((x) => x.messageId === messageId);
      if (!row || row.acked) continue;
      row.attempts += 1;
      if (result.ok) {
        row.acked = true;
        row.ackedRef = result.serverRef;
      } else row.lastError = result.error;
    }
  }

  row(messageId: string) {
    return this.rows.find((x) => x.messageId === messageId)!;
  }
}

function forwarder(t: Test, opts: Partial<ForwarderOptions> & Pick<ForwarderOptions, 'outbox' | 'adapter'>): Forwarder {
  const fwd = new Forwarder({ idleMs: 10, backoff: { initialMs: 10, maxMs: 40 }, random: () => 0.5, ...opts });
  t.teardown(() => fwd.stop());
  return fwd;
}

/** Counts the envelopes (deliver calls) and their sizes. */
function counted(adapter: BusinessAdapter): { adapter: BusinessAdapter; batches: number[] } {
  const batches: number[] = [];
  const wrapped = Object.create(adapter) as BusinessAdapter;
  wrapped.deliver = (batch) => {
    batches.push(batch.length);
    return adapter.deliver(batch);
  };
  return { adapter: wrapped, batches };
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

function paymentsAt(w: World) {
  return w.host.records().payments;
}

class RecordingSink implements AlarmSink {
  readonly log: string[] = [];
  readonly active = new Map<string, Alarm>();
  raise(a: Alarm): void {
    this.log.push(`raise ${a.kind} ${a.source} ${a.severity}`);
    this.active.set(`${a.kind}/${a.source}`, a);
  }
  clear(kind: string, source: string): void {
    this.log.push(`clear ${kind} ${source}`);
    this.active.delete(`${kind}/${source}`);
  }
}

t.test('batches of batchSize, in order, each message acked with its own server reference', async (t) => {
  const w = await world(t);
  t.ok(await w.adapter.waitUp(10_000));
  const outbox = new MemoryOutbox();
  const ids = ['A', 'B', 'C', 'D', 'E'].map((id) => outbox.add(id));
  const { adapter, batches } = counted(w.adapter);
  const fwd = forwarder(t, { outbox, adapter, batchSize: 2 });
  const sent = nextEvents(fwd, 'sent', 5);
  fwd.start();
  t.same(
    (await sent).map((s) => [s.messageId, s.status, s.serverRef]),
    ids.map((id, i) => [id, 'accepted', `P00000${i + 1}`]),
  );
  t.same(batches, [2, 2, 1], 'three envelopes for five messages');
  t.equal(outbox.commits, 3, 'one journal commit per envelope');
  t.same(paymentsAt(w).map((p) => [p.txnId, p.terminalId]), ['A', 'B', 'C', 'D', 'E'].map((id) => [id, 'T-0001']));
  t.same(outbox.rows.map((r) => [r.acked, r.attempts]), ids.map(() => [true, 1]));
  t.equal(outbox.largestRead, 2, 'never more than a batch read at a time');

  const more = nextEvents(fwd, 'sent', 1);
  outbox.add('F');
  fwd.forwardNow();
  t.equal((await more)[0]!.serverRef, 'P000006');
});

t.test('link down: back-off without counting attempts; the link coming back ends the wait at once', async (t) => {
  const w = await world(t, { host: { mode: 'down' } });
  const outbox = new MemoryOutbox();
  outbox.add('A');
  outbox.add('B');
  const fwd = forwarder(t, { outbox, adapter: w.adapter });
  const backoffs = nextEvents(fwd, 'backoff', 5);
  fwd.start();
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
  t.match((await nextEvents(fwd, 'backoff', 1))[0]!.error, /business link is down/);
  t.equal(outbox.row('A:payment').attempts, 0, 'nothing was sent, so nothing was attempted');
  t.same(paymentsAt(w), []);
  await fwd.stop();

  // A back-off of a minute: only the link's 'up' can make the next try come soon.
  const patient = forwarder(t, { outbox, adapter: w.adapter, backoff: { initialMs: 60_000, maxMs: 60_000 } });
  const firstBackoff = nextEvents(patient, 'backoff', 1);
  patient.start();
  t.ok((await firstBackoff)[0]!.delayMs >= 30_000);
  const sent = nextEvents(patient, 'sent', 2);
  const started = Date.now();
  w.host.setMode('ok');
  t.same((await sent).map((s) => [s.messageId, s.status]), [
    ['A:payment', 'accepted'],
    ['B:payment', 'accepted'],
  ]);
  t.ok(Date.now() - started < 20_000, `delivered ${Date.now() - started} ms after the server came back`);
  await patient.stop();

  // A new forwarder over the same outbox: only what is not acked goes out.
  outbox.add('C');
  const second = forwarder(t, { outbox, adapter: w.adapter });
  const sent2 = nextEvents(second, 'sent', 1);
  second.start();
  t.same((await sent2).map((s) => s.messageId), ['C:payment']);
  t.same(paymentsAt(w).map((p) => [p.txnId, p.duplicates]), [
    ['A', 0],
    ['B', 0],
    ['C', 0],
  ], 'each payment reached the server exactly once');
});

t.test('stored, then the connection dropped before the ack: outcome unknown, resent, answered duplicate', async (t) => {
  const w = await world(t, { host: { mode: 'drop-after-store' } });
  t.ok(await w.adapter.waitUp(10_000));
  const outbox = new MemoryOutbox();
  outbox.add('A');
  outbox.add('B');
  const fwd = forwarder(t, { outbox, adapter: w.adapter });
  const backoff = nextEvents(fwd, 'backoff', 1);
  fwd.start();
  t.match((await backoff)[0]!.error, /connection lost before the answer to deliver/);
  t.equal(paymentsAt(w).length, 2, 'the server has them');
  t.equal(outbox.row('A:payment').acked, false, 'the kiosk does not know');
  t.ok(outbox.row('A:payment').attempts >= 1, 'the attempt is counted');
  t.match(outbox.row('A:payment').lastError, /connection lost/);
  const sent = nextEvents(fwd, 'sent', 2);
  w.host.setMode('ok');
  t.same((await sent).map((s) => [s.messageId, s.status, s.serverRef]), [
    ['A:payment', 'duplicate', 'P000001'],
    ['B:payment', 'duplicate', 'P000002'],
  ]);
  const held = paymentsAt(w);
  t.equal(held.length, 2, 'no duplicate at the server');
  t.ok(held.every((p) => p.duplicates >= 1));
});

t.test('acks twice, and acks a message never sent: both ignored, nothing recorded twice', async (t) => {
  const w = await world(t, { host: { mode: 'double-ack' } });
  const outbox = new MemoryOutbox();
  outbox.add('A');
  outbox.add('B');
  const fwd = forwarder(t, { outbox, adapter: w.adapter });
  const ignored = nextEvents(fwd, 'ignored-ack', 3);
  const sent = nextEvents(fwd, 'sent', 2);
  fwd.start();
  t.same((await sent).map((s) => s.messageId), ['A:payment', 'B:payment']);
  t.same((await ignored).map((a) => a.messageId), ['A:payment', 'B:payment', 'never-sent:payment']);
  t.same(outbox.rows.map((r) => [r.acked, r.attempts]), [
    [true, 1],
    [true, 1],
  ]);
  t.same(paymentsAt(w).map((p) => p.txnId), ['A', 'B']);
});

t.test('garbage or a busy server: retried with back-off, delivered once it answers properly', async (t) => {
  const w = await world(t, { host: { mode: 'garbage' } });
  t.ok(await w.adapter.waitUp(10_000));
  const outbox = new MemoryOutbox();
  outbox.add('A');
  const fwd = forwarder(t, { outbox, adapter: w.adapter });
  const garbage = nextEvents(fwd, 'backoff', 1);
  fwd.start();
  t.match((await garbage)[0]!.error, /connection lost|protocol|bad magic/);
  w.host.setMode('error');
  // The garbage dropped the link; the busy answer comes once it is back.
  const busy = await new Promise<string>((resolve) => {
    const on = (b: { error: string }) => {
      if (!/busy/.test(b.error)) return;
      fwd.off('backoff', on);
      resolve(b.error);
    };
    fwd.on('backoff', on);
  });
  t.match(busy, /the server is busy: busy \(billing is not available\)/);
  t.same(paymentsAt(w), [], 'neither garbage nor busy stored anything');
  const sent = nextEvents(fwd, 'sent', 1);
  w.host.setMode('ok');
  t.same((await sent)[0]!.status, 'accepted');
});

t.test('a refused message is retried, then set aside after MAX_REJECTIONS without blocking the rest', async (t) => {
  const w = await world(t);
  t.ok(await w.adapter.waitUp(10_000));
  // The server already holds A with another amount: every resend of A is a conflict.
  const first = await w.adapter.deliver([
    { messageId: 'A:payment', kind: 'payment', payload: { messageId: 'A:payment', txnId: 'A', service: 'pay', phone: '13800138000', amount: 999, currency: 'CNY', cashIn: 999, settledAt: '2025-01-01T00:00:00Z' } },
  ]);
  t.match(first, [{ status: 'accepted' }]);
  const outbox = new MemoryOutbox();
  outbox.add('A');
  outbox.add('B');
  const fwd = forwarder(t, { outbox, adapter: w.adapter, batchSize: 1 });
  const order: string[] = [];
  fwd.on('poison', (p) => order.push(`poison ${p.messageId} ${p.rejections} ${p.skipped}`));
  fwd.on('sent', (s) => order.push(`sent ${s.messageId}`));
  const sent = nextEvents(fwd, 'sent', 1);
  fwd.start();
  await sent;
  await fwd.stop();
  t.same(order, [...Array.from({ length: MAX_REJECTIONS }, (_, i) => `poison A:payment ${i + 1} ${i + 1 === MAX_REJECTIONS}`), 'sent B:payment']);
  const a = outbox.row('A:payment');
  t.equal(a.acked, false, 'stays in the outbox for an operator');
  t.equal(a.attempts, MAX_REJECTIONS);
  t.match(a.lastError, /refused: conflict: amount: recorded 999, resent 1000/);
  t.match(w.host.records().anomalies, [{ kind: 'conflicting-duplicate', txnId: 'A' }]);

  // A new run gives it another chance.
  const again = forwarder(t, { outbox, adapter: w.adapter });
  const poison = nextEvents(again, 'poison', 1);
  again.start();
  t.match(await poison, [{ messageId: 'A:payment', rejections: 1, skipped: false }]);
});

t.test('unsendable messages are set aside at once; reversals travel like payments', async (t) => {
  const w = await world(t);
  const outbox = new MemoryOutbox();
  outbox.add('A', { amount: 12.5 });
  outbox.add('B', {}, 'alarm');
  outbox.rows.push({
    messageId: 'C:reversal:C:auth',
    kind: 'reversal',
    payload: { messageId: 'C:reversal:C:auth', txnId: 'C', reverses: 'C:auth', amount: 5000, currency: 'CNY', reason: 'no answer', createdAt: '2025-01-02T03:04:05.000Z' },
    attempts: 0,
    acked: false,
  });
  outbox.add('D');
  const fwd = forwarder(t, { outbox, adapter: w.adapter, batchSize: 1 });
  const poison = nextEvents(fwd, 'poison', 2);
  const sent = nextEvents(fwd, 'sent', 2);
  fwd.start();
  t.match(await poison, [
    { messageId: 'A:payment', skipped: true, error: /invalid payment payload.*amount/s },
    { messageId: 'B:payment', skipped: true, error: /unsupported outbox kind 'alarm'/ },
  ]);
  t.same((await sent).map((s) => [s.messageId, s.serverRef]), [
    ['C:reversal:C:auth', 'R000001'],
    ['D:payment', 'P000001'],
  ]);
  t.match(w.host.records().reversals, [{ txnId: 'C', reverses: 'C:auth', amount: 5000, terminalId: 'T-0001' }]);
  t.same(paymentsAt(w).map((p) => p.txnId), ['D']);
});

t.test('stop waits for the batch in flight and records its answer; a throwing outbox is retried', async (t) => {
  const outbox = new MemoryOutbox();
  outbox.add('A');
  let release!: () => void;
  let calls = 0;
  const adapter = {
    on: () => adapter,
    off: () => adapter,
    deliver: (batch: readonly { messageId: string }[]) => {
      calls += 1;
      return new Promise<{ messageId: string; status: 'accepted'; serverRef: string }[]>((resolve) => {
        release = () => resolve(batch.map((m) => ({ messageId: m.messageId, status: 'accepted', serverRef: `R-${m.messageId}` })));
      });
    },
  } as unknown as BusinessAdapter;
  const fwd = forwarder(t, { outbox, adapter });
  fwd.start();
  while (calls === 0) await new Promise((r) => setImmediate(r));
  let stopped = false;
  const stopping = fwd.stop().then(() => (stopped = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.equal(stopped, false, 'still waiting for the answer');
  release();
  await stopping;
  t.equal(outbox.row('A:payment').ackedRef, 'R-A:payment');
  t.equal(calls, 1);

  let reads = 0;
  const flaky: OutboxPort = {
    outboxPending: () => {
      reads += 1;
      if (reads < 3) throw new Error('database is locked');
      return [];
    },
    markSentAll: () => undefined,
  };
  const f2 = forwarder(t, { outbox: flaky, adapter });
  const backoffs = nextEvents(f2, 'backoff', 2);
  f2.start();
  t.same((await backoffs).map((b) => b.failures), [1, 2]);
  t.throws(() => new Forwarder({ outbox: flaky, adapter, batchSize: 0 }), /batchSize/);
});

t.test('alarms: backlog too old and disk nearly full are raised once and cleared', async (t) => {
  let oldest: string | null = null;
  let now = Date.parse('2025-01-01T10:00:00Z');
  let free = 10 * 1024 * 1024 * 1024;
  const sink = new RecordingSink();
  const monitor = new OutboxMonitor({
    outbox: { outboxOldestPendingAt: () => oldest },
    journalPath: '/var/lib/kiosk/journal.db',
    alarms: sink,
    backlogAgeMs: 3_600_000,
    diskFreeBytes: 100 * 1024 * 1024,
    intervalMs: 60_000,
    now: () => now,
    freeBytes: async (dir) => {
      t.equal(dir, '/var/lib/kiosk', 'the journal folder is measured');
      return free;
    },
  });
  t.same(await monitor.check(), { backlogAgeMs: null, reversalAgeMs: null, diskFreeBytes: free });
  oldest = '2025-01-01T09:30:00Z';
  t.same((await monitor.check()).backlogAgeMs, 1_800_000);
  t.same(sink.log, [], 'half an hour is within the limit');
  now += 3_600_000;
  await monitor.check();
  await monitor.check();
  t.same(sink.log, ['raise backlog-old outbox warning'], 'raised once while it lasts');
  t.match(sink.active.get('backlog-old/outbox')!.detail, /5400 s old \(limit 3600 s\)/);
  free = 50 * 1024 * 1024;
  await monitor.check();
  t.match(sink.active.get('disk-low/journal-disk'), { severity: 'critical', detail: /50\.0 MiB free/ });
  oldest = null;
  free = 1024 * 1024 * 1024;
  await monitor.check();
  t.same(sink.log, ['raise backlog-old outbox warning', 'raise disk-low journal-disk critical', 'clear backlog-old outbox', 'clear disk-low journal-disk']);
  t.equal(sink.active.size, 0);

  // The real file system of a real folder, through statfs.
  const real = new OutboxMonitor({ outbox: { outboxOldestPendingAt: () => null }, journalPath: join(t.testdir(), 'j.db'), alarms: sink, backlogAgeMs: 1, diskFreeBytes: Number.MAX_SAFE_INTEGER, intervalMs: 20 });
  real.start();
  while (!sink.active.has('disk-low/journal-disk')) await new Promise((r) => setTimeout(r, 10));
  await real.stop();
  t.ok((await real.check()).diskFreeBytes! > 0, 'statfs gives the free bytes');
});

t.test('a card reversal the server has not got is a critical alarm of its own, from the real journal', async (t) => {
  const journal = Journal.open(join(t.testdir(), 'journal.db'), { key: testKey });
  t.teardown(() => journal.close());
  let now = Date.now();
  const sink = new RecordingSink();
  const monitor = new OutboxMonitor({
    outbox: journal,
    journalPath: '/var/lib/kiosk/journal.db',
    alarms: sink,
    backlogAgeMs: 3_600_000,
    reversalAgeMs: 600_000,
    diskFreeBytes: 0,
    intervalMs: 60_000,
    now: () => now,
    freeBytes: async () => 1,
  });
  journal.startTransaction('T1', 'pay');
  t.same((await monitor.check()).reversalAgeMs, null, 'no reversal waiting');
  const r = journal.queueReversal('T1', { reverses: 'req-1', amount: 4500, reason: 'no answer' });
  t.ok((await monitor.check()).reversalAgeMs! < 600_000);
  t.same(sink.log, [], 'a fresh reversal is no alarm');
  now += 700_000;
  await monitor.check();
  await monitor.check();
  t.same(sink.log, ['raise reversal-undelivered outbox critical'], 'raised once, while the backlog alarm is not due yet');
  t.match(sink.active.get('reversal-undelivered/outbox')!.detail, /card reversal has not reached the server/);
  journal.markSentAll([{ messageId: r.messageId, result: { ok: true, serverRef: 'S1' } }]);
  await monitor.check();
  t.same(sink.log.at(-1), 'clear reversal-undelivered outbox', 'cleared once the server acknowledged it');
});

t.test('a server certificate the kiosk does not trust raises an alarm until the right one is back', async (t) => {
  const w = await world(t);
  const sink = new RecordingSink();
  const unwatch = watchServerCertificate(w.adapter, sink);
  t.teardown(unwatch);
  t.ok(await w.adapter.waitUp(10_000));
  const other = (await createDevPki(join(w.dir, 'other'), { terminalId: 'X' })).files;
  const down = new Promise((resolve) => w.adapter.once('down', resolve));
  w.host.setServerCertificate({ cert: readFileSync(other.serverCert), key: readFileSync(other.serverKey) });
  await down;
  while (!sink.active.has('server-certificate/business-link')) await new Promise((r) => setTimeout(r, 10));
  t.match(sink.active.get('server-certificate/business-link'), { severity: 'critical', detail: /server certificate refused/ });
  await t.rejects(w.adapter.lookup('13800138000'), { kind: 'unreachable' }, 'nothing is sent to it');
  w.host.setServerCertificate({ cert: readFileSync(w.pki.serverCert), key: readFileSync(w.pki.serverKey) });
  t.ok(await w.adapter.waitUp(10_000));
  t.same(sink.log, ['raise server-certificate business-link critical', 'clear server-certificate business-link']);
});

t.test('a waiting payment redirected in the journal file is never sent: critical alarm, row kept (issue 15, item 3)', async (t) => {
  const w = await world(t);
  const path = join(t.testdir(), 'journal.db');
  const journal = Journal.open(path, { key: testKey });
  t.teardown(() => journal.close());
  const note = { value: 5000, currency: 'CNY', code: 0x66 };
  for (const id of ['V', 'W']) {
    journal.startTransaction(id, 'pay');
    journal.recordLookup(id, { phone: '13800138000', amountDue: 5000 });
    journal.noteStacked(id, note);
    journal.settle(id, { endReason: 'paid' });
  }
  // The server was down; the attacker edits the waiting message with plain SQL.
  const attacker = new (await import('better-sqlite3')).default(path);
  attacker.prepare(`UPDATE outbox SET payload = json_set(payload, '$.phone', '13999999999') WHERE message_id = 'V:payment'`).run();
  attacker.close();

  const sink = new RecordingSink();
  const fwd = forwarder(t, { outbox: journal, adapter: w.adapter, alarms: sink });
  const tampered = nextEvents(fwd, 'tampered', 1);
  const sent = nextEvents(fwd, 'sent', 1);
  fwd.start();
  t.match(await tampered, [{ messageId: 'V:payment', error: /no longer matches the digest/ }]);
  t.same((await sent).map((s) => s.messageId), ['W:payment'], 'the rest of the queue goes on');
  await new Promise((r) => setTimeout(r, 100));
  t.same(paymentsAt(w).map((p) => [p.txnId, p.phone]), [['W', '13800138000']], 'nothing reached the server for the edited message');
  t.same(sink.log, ['raise outbox-tampered V:payment critical']);
  t.match(journal.outboxPending(10), [{ messageId: 'V:payment', ackedAt: null, payload: { phone: '13999999999' } }], 'the row is kept as found');
});
