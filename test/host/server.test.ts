import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { devHostTls } from '../../hw-sim/host/dev-tls.js';
import { hostCommand } from '../../hw-sim/host/command.js';
import { startHost, type HostOptions, type RunningHost } from '../../hw-sim/host/server.js';
import { ErrorCode, Service } from '../../src/uplink/link/envelope.js';
import { LinkSession } from '../../src/uplink/link/session.js';
import { loadTlsMaterial } from '../../src/tls/material.js';
import type { DevPkiFiles } from '../../hw-sim/pki/dev-pki.js';

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

const msg = (p: Record<string, unknown>, kind = 'payment') => ({ messageId: String(p.messageId), kind, payload: p });

interface Fixture {
  host: RunningHost;
  pki: DevPkiFiles;
  dir: string;
  kiosk: LinkSession;
  options: HostOptions;
}

async function fixture(t: Test, over: Partial<HostOptions> = {}, dir = t.testdir()): Promise<Fixture> {
  const { tls, files } = await devHostTls(join(dir, 'pki'), 'K-0007');
  const options: HostOptions = { port: 0, tls, dbPath: join(dir, 'host.db'), ...over };
  const host = await startHost(options);
  t.teardown(() => host.close());
  const kiosk = session(t, files, host.port);
  kiosk.start();
  t.ok(await kiosk.waitUp(10_000), 'the kiosk certificate is accepted');
  return { host, pki: files, dir, kiosk, options };
}

function session(t: Test, files: DevPkiFiles, port: number, timeoutMs = 2000): LinkSession {
  const s = new LinkSession({
    host: '127.0.0.1',
    port,
    serverName: 'localhost',
    tls: loadTlsMaterial({ ca: files.ca, cert: files.clientCert, key: files.clientKey }),
    timeoutMs,
    probeIntervalMs: 60_000,
    backoff: { initialMs: 10, maxMs: 40 },
    hello: { terminalId: 'K-0007' },
  });
  t.teardown(() => s.stop());
  return s;
}

async function admin(host: RunningHost, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(host.url + path, body === undefined ? {} : { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

const deliver = (s: LinkSession, messages: unknown[]) => s.request(Service.deliver, { messages });

t.test('look-up: known, unknown, malformed; the kiosk is known by its certificate', async (t) => {
  const { host, kiosk } = await fixture(t);
  t.match(host.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the admin endpoint is plain HTTP on loopback');
  t.not(host.port, host.adminPort);
  t.same(await kiosk.request(Service.lookup, { phone: ZHANG }), { error: 0, body: { phone: ZHANG, amountDue: 5000, holder: 'Zhang San' } });
  t.same(await kiosk.request(Service.lookup, { phone: '13100000000' }), { error: ErrorCode.unknownAccount, body: { error: 'unknown-account' } });
  for (const bad of [{ phone: '1380013800' }, { phone: 13800138000 }, {}, []]) {
    const r = await kiosk.request(Service.lookup, bad);
    t.equal(r.error, ErrorCode.badRequest, JSON.stringify(bad));
  }
  t.match(await kiosk.request(0x7777, {}), { error: ErrorCode.unknownService });
  t.same(await kiosk.request(Service.echo, { x: 1 }), { error: 0, body: { x: 1 } });
  t.same((await admin(host, '/healthz')).body, { ok: true, mode: 'ok' });
});

t.test('given accounts replace the demo seed', async (t) => {
  const { host } = await fixture(t, { accounts: [{ phone: '13500135000', amountDue: 42 }] });
  t.same((await admin(host, '/_records')).body.accounts, [{ phone: '13500135000', holder: null, amountDue: 42, balance: 0 }]);
});

t.test('a delivery is stored once per txn id and message id; resends are duplicates', async (t) => {
  const { host, kiosk } = await fixture(t);
  const first = await deliver(kiosk, [msg(payment()), msg(payment({ messageId: 'T2:payment', txnId: 'T2', service: 'topup', amount: 500 }))]);
  t.same(first, {
    error: 0,
    body: {
      acks: [
        { messageId: 'T1:payment', status: 'accepted', serverRef: 'P000001' },
        { messageId: 'T2:payment', status: 'accepted', serverRef: 'P000002' },
      ],
    },
  });
  t.same((await deliver(kiosk, [msg(payment())])).body, { acks: [{ messageId: 'T1:payment', status: 'duplicate', serverRef: 'P000001' }] });
  const { body } = await admin(host, '/_records');
  t.same(body.payments.map((p: any) => [p.txnId, p.duplicates, p.terminalId]), [
    ['T1', 1, 'K-0007'],
    ['T2', 0, 'K-0007'],
  ]);
  const acc = body.accounts.find((a: any) => a.phone === ZHANG);
  t.same(acc, { phone: ZHANG, holder: 'Zhang San', amountDue: 3000, balance: 500 }, 'the bill lowered once, the top-up to the balance');

  // The same message id under another transaction id is a conflict, not a second payment.
  const clash = await deliver(kiosk, [msg(payment({ txnId: 'T9' })), msg(payment({ amount: 2500 }))]);
  t.match(clash.body.acks, [
    { messageId: 'T1:payment', status: 'refused', error: /conflict: txnId: recorded T1, resent T9/ },
    { messageId: 'T1:payment', status: 'refused', error: /conflict: amount: recorded 2000, resent 2500/ },
  ]);
  const after = (await admin(host, '/_records')).body;
  t.equal(after.payments.length, 2);
  t.equal(after.anomalies.length, 2);
});

t.test('reversals are stored once per message id', async (t) => {
  const { host, kiosk } = await fixture(t);
  const reversal = { messageId: 'C1:reversal:C1:auth', txnId: 'C1', reverses: 'C1:auth', amount: 800, currency: 'CNY', reason: 'no answer', createdAt: '2025-01-02T03:04:05.000Z' };
  t.match((await deliver(kiosk, [msg(reversal, 'reversal')])).body.acks, [{ status: 'accepted', serverRef: 'R000001' }]);
  t.match((await deliver(kiosk, [msg(reversal, 'reversal')])).body.acks, [{ status: 'duplicate', serverRef: 'R000001' }]);
  t.match((await deliver(kiosk, [msg({ ...reversal, amount: 1 }, 'reversal')])).body.acks, [{ status: 'refused', error: /conflict: amount/ }]);
  t.match(host.records().reversals, [{ txnId: 'C1', reverses: 'C1:auth', amount: 800, duplicates: 1, terminalId: 'K-0007' }]);
});

t.test('malformed deliveries are refused with a reason and change nothing', async (t) => {
  const { host, kiosk } = await fixture(t);
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
  const r = await deliver(kiosk, cases.map(([p]) => msg(p)));
  t.equal(r.error, 0);
  cases.forEach(([, field], i) => t.match(r.body.acks[i], { status: 'refused', error: field }));
  t.match((await deliver(kiosk, [{ messageId: 'other', kind: 'payment', payload: payment() }])).body.acks, [{ status: 'refused', error: /differs from the envelope/ }]);
  t.match((await deliver(kiosk, [msg(payment(), 'alarm')])).body.acks, [{ status: 'refused', error: 'unsupported-kind: alarm' }]);
  t.match(await kiosk.request(Service.deliver, { messages: 'no' }), { error: ErrorCode.badRequest });
  t.match(await kiosk.request(Service.deliver, [1, 2]), { error: ErrorCode.badRequest });
  t.same(host.records().payments, []);

  t.equal((await admin(host, '/_mode', { mode: 'sideways' })).status, 400);
  t.equal((await admin(host, '/_mode', '{"mode": ')).body.error, 'malformed-json');
  t.equal((await admin(host, '/_accounts', { phone: ZHANG, amountDue: -1 })).status, 400);
  t.equal((await admin(host, '/_nothing')).body.error, 'not-found');
  t.equal((await admin(host, '/_accounts', 'x'.repeat(100_000)).catch(() => ({ status: 413 }))).status, 413);
  t.equal((await admin(host, '/healthz')).status, 200, 'still serving');
});

t.test('only kiosks with a certificate from its CA get in; the hello is checked against the certificate', async (t) => {
  const { host, pki, dir, kiosk } = await fixture(t);
  const refused = await new Promise<string>((resolve) => {
    const c = connect({ host: '127.0.0.1', port: host.port, ca: readFileSync(pki.ca), servername: 'localhost' }, () => c.write('x'));
    c.on('error', (e) => resolve(e.message));
    c.on('close', () => resolve('closed'));
  });
  t.ok(refused, `a client without a certificate: ${refused}`);
  t.same(host.records().anomalies, []);
  const { files: other } = await devHostTls(join(dir, 'other'), 'K-0007');
  const stranger = session(t, { ...pki, clientCert: other.clientCert, clientKey: other.clientKey }, host.port);
  stranger.start();
  t.notOk(await stranger.waitUp(500), 'a kiosk certificate from another CA is refused');
  await kiosk.stop();
  const liar = new LinkSession({
    host: '127.0.0.1',
    port: host.port,
    serverName: 'localhost',
    tls: loadTlsMaterial({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }),
    timeoutMs: 2000,
    probeIntervalMs: 60_000,
    backoff: { initialMs: 10, maxMs: 40 },
    hello: { terminalId: 'K-9999' },
  });
  t.teardown(() => liar.stop());
  liar.start();
  t.ok(await liar.waitUp(10_000));
  t.match(host.records().anomalies, [{ kind: 'terminal-id-mismatch', detail: 'certificate says K-0007, hello says K-9999' }]);
});

t.test('fault modes, seen from the kiosk end of the link; the admin endpoint is never affected', async (t) => {
  const { host, pki, kiosk } = await fixture(t);

  t.equal((await admin(host, '/_mode', { mode: 'error' })).body.mode, 'error');
  t.match(await deliver(kiosk, [msg(payment())]), { error: ErrorCode.busy, body: { error: 'busy' } });
  t.match(await kiosk.request(Service.lookup, { phone: ZHANG }), { error: ErrorCode.busy });
  t.same(host.records().payments, [], 'error: nothing stored');

  host.setMode('drop-after-store');
  await t.rejects(deliver(kiosk, [msg(payment())]), { kind: 'outcome-unknown' });
  t.equal(host.records().payments.length, 1, 'stored, though never answered');
  host.setMode('ok');
  t.ok(await kiosk.waitUp(10_000));

  host.setMode('double-ack');
  const before = kiosk.strayAnswers;
  const twice = await deliver(kiosk, [msg(payment())]);
  t.same(twice.body.acks.map((a: any) => [a.messageId, a.status]), [
    ['T1:payment', 'duplicate'],
    ['T1:payment', 'duplicate'],
    ['never-sent:payment', 'accepted'],
  ]);
  while (kiosk.strayAnswers === before) await new Promise((r) => setTimeout(r, 10));
  t.equal(kiosk.strayAnswers, before + 1, 'the whole answer came twice');

  host.setMode('slow', 60_000);
  await t.rejects(kiosk.request(Service.lookup, { phone: ZHANG }, 50), { kind: 'outcome-unknown' });
  const held = kiosk.request(Service.deliver, { messages: [msg(payment({ messageId: 'T3:payment', txnId: 'T3' }))] }, 50);
  await t.rejects(held, { kind: 'outcome-unknown' });
  t.same(host.records().payments.map((p) => p.txnId), ['T1', 'T3'], 'slow: stored on arrival, like an answer lost in transit');
  host.setMode('slow', 20);
  t.same((await kiosk.request(Service.lookup, { phone: ZHANG })).body.amountDue, 1000, 'slow answers do arrive');
  t.same((await kiosk.request(Service.echo, {})).error, 0);

  host.setMode('garbage');
  await t.rejects(kiosk.request(Service.lookup, { phone: ZHANG }), { kind: 'outcome-unknown' });
  t.notOk(kiosk.up, 'garbage breaks the framing: the kiosk drops the connection');
  host.setMode('ok');
  t.ok(await kiosk.waitUp(10_000));

  host.setMode('down');
  const second = session(t, pki, host.port, 500);
  second.start();
  t.notOk(await second.waitUp(300), 'down: connections are refused');
  t.notOk(kiosk.up, 'and the open one was dropped');
  host.setMode('ok');
  t.ok(await second.waitUp(10_000));
  t.same((await admin(host, '/healthz')).body.mode, 'ok');
});

t.test('records persist across a restart; a version 1 database is migrated', async (t) => {
  const dir = t.testdir();
  const first = await fixture(t, {}, dir);
  await deliver(first.kiosk, [msg(payment())]);
  await admin(first.host, '/_accounts', { phone: '13300133000', amountDue: 900, holder: 'Zhao Liu' });
  await first.kiosk.stop();
  await first.host.close();

  const second = await startHost(first.options);
  t.teardown(() => second.close());
  const kiosk = session(t, first.pki, second.port);
  kiosk.start();
  t.ok(await kiosk.waitUp(10_000));
  t.equal(second.records().payments[0]!.serverRef, 'P000001');
  t.equal((await kiosk.request(Service.lookup, { phone: ZHANG })).body.amountDue, 3000, 'demo seed not re-applied');
  t.equal((await kiosk.request(Service.lookup, { phone: '13300133000' })).body.amountDue, 900);
  t.match((await deliver(kiosk, [msg(payment())])).body.acks, [{ status: 'duplicate' }]);

  // A file the HTTP host wrote (schema 1) gains the business link's columns and tables.
  const oldPath = join(dir, 'old.db');
  const db = new Database(oldPath);
  db.exec(`CREATE TABLE accounts (phone TEXT PRIMARY KEY, holder TEXT, amount_due INTEGER NOT NULL, balance INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE payments (seq INTEGER NOT NULL UNIQUE, txn_id TEXT PRIMARY KEY, message_id TEXT NOT NULL, phone TEXT NOT NULL, service TEXT NOT NULL,
      amount INTEGER NOT NULL, currency TEXT NOT NULL, cash_in INTEGER NOT NULL, settled_at TEXT NOT NULL, server_ref TEXT NOT NULL UNIQUE,
      received_at TEXT NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE anomalies (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, txn_id TEXT, detail TEXT NOT NULL, at TEXT NOT NULL);
    INSERT INTO payments VALUES (1, 'OLD', 'OLD:payment', '${ZHANG}', 'pay', 100, 'CNY', 100, '2024-01-01T00:00:00Z', 'P000001', '2024-01-01T00:00:01Z', 0);
    PRAGMA user_version = 1;`);
  db.close();
  const migrated = await startHost({ ...first.options, dbPath: oldPath });
  t.teardown(() => migrated.close());
  t.match(migrated.records(), { payments: [{ txnId: 'OLD', terminalId: null }], reversals: [] });
});

t.test('close does not wait for answers held back by slow mode', async (t) => {
  const { host, kiosk } = await fixture(t, { mode: 'slow', delayMs: 60_000 });
  const pending = kiosk.request(Service.lookup, { phone: ZHANG }, 120_000).then(
    () => 'answered',
    (e: Error) => e.message,
  );
  await admin(host, '/healthz');
  await host.close();
  t.match(await pending, /connection lost/);
});

t.test('kiosk-sim host: a development PKI when given no certificates, --print of what it holds', async (t) => {
  const dir = t.testdir();
  const pkiDir = join(dir, 'pki');
  const db = join(dir, 'host', 'host.db');
  const cli = join(process.cwd(), 'dist', 'hw-sim', 'cli.js');
  const child = spawn(process.execPath, [cli, 'host', '--port', '0', '--admin-port', '0', '--pki', pkiDir, '--db', db], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! });
  const seen: string[] = [];
  const ready = await new Promise<string>((resolve) =>
    lines.on('line', (l) => {
      seen.push(l);
      if (l.startsWith('reference server:')) resolve(l);
    }),
  );
  t.match(seen[0], /created a development PKI in .*pki/);
  t.ok(existsSync(join(pkiDir, 'kiosk.crt')) && existsSync(join(pkiDir, 'ca.key')));
  const port = Number(/127\.0\.0\.1:(\d+), admin/.exec(ready)![1]);
  const files = { ca: join(pkiDir, 'ca.crt'), caKey: '', serverCert: '', serverKey: '', clientCert: join(pkiDir, 'kiosk.crt'), clientKey: join(pkiDir, 'kiosk.key') };
  const kiosk = session(t, files, port);
  kiosk.start();
  t.ok(await kiosk.waitUp(10_000), 'a kiosk with the PKI it made gets in');
  t.match((await deliver(kiosk, [msg(payment())])).body.acks, [{ status: 'accepted' }]);
  await kiosk.stop();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.equal(await exited, 0);

  const out: string[] = [];
  t.equal(await hostCommand({ port: 0, adminPort: 0, listen: '127.0.0.1', db, mode: 'ok', delay: 0, pki: pkiDir, print: true }, (l) => out.push(l)), 0);
  t.match(JSON.parse(out.join('\n')), { payments: [{ txnId: 'T1', amount: 2000, terminalId: 'KIOSK-0001' }], reversals: [], anomalies: [] });
  t.equal(await hostCommand({ port: 0, adminPort: 0, listen: '127.0.0.1', db, mode: 'sideways', delay: 0, pki: pkiDir }), 2);
  t.equal(await hostCommand({ port: 0, adminPort: 0, listen: '127.0.0.1', db, mode: 'ok', delay: 0, pki: pkiDir, ca: 'x' }), 2);
});
