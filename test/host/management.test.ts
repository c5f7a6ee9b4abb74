import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import t, { type Test } from 'tap';
import { startManagementServer, type RunningManagement } from '../../hw-sim/host/management.js';
import { startHost } from '../../hw-sim/host/server.js';
import { createDevPki, type DevPkiFiles } from '../../hw-sim/pki/dev-pki.js';

interface Client {
  cert?: Buffer;
  key?: Buffer;
  maxVersion?: SecureVersion;
}

type Reply = { status: number; body: any } | { error: string };

/** One HTTPS request as a kiosk makes it: the pinned CA, its own certificate. */
function call(port: number, files: DevPkiFiles, method: string, path: string, body?: unknown, client: Client = {}): Promise<Reply> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent: false,
        servername: 'localhost',
        ca: readFileSync(files.ca),
        cert: 'cert' in client ? client.cert : readFileSync(files.clientCert),
        key: 'key' in client ? client.key : readFileSync(files.clientKey),
        ...(client.maxVersion ? { maxVersion: client.maxVersion, minVersion: 'TLSv1' as SecureVersion } : {}),
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
        res.on('error', (e) => resolve({ error: e.message }));
      },
    );
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(payload);
  });
}

const ok = (r: Reply) => ('status' in r ? r : { status: -1, body: r.error });

async function setup(t: Test, terminalId = 'K-0042'): Promise<{ files: DevPkiFiles; server: RunningManagement; dir: string }> {
  const dir = t.testdir();
  const { files } = await createDevPki(join(dir, 'pki'), { terminalId });
  const server = await startManagementServer({
    port: 0,
    dbPath: join(dir, 'host.db'),
    tls: { ca: readFileSync(files.ca), cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey) },
  });
  t.teardown(() => server.close());
  return { files, server, dir };
}

const alarm = (id: string) => ({ id, action: 'raise', kind: 'device-fault', source: 'printer', severity: 'warning', detail: 'paper out', at: '2025-01-01T00:00:00.000Z' });

t.test('heartbeats by certificate name, answered with that terminal’s pending commands', async (t) => {
  const { files, server } = await setup(t);
  t.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.same(ok(await call(server.port, files, 'POST', '/v1/heartbeat', { state: 'inService', terminalId: 'SOMEONE-ELSE' })), { status: 200, body: { commands: [] } });
  const cmd = server.queueCommand({ terminalId: 'K-0042', type: 'out-of-service', args: { reason: 'service visit' }, by: 'ops' });
  server.queueCommand({ terminalId: 'K-9999', type: 'in-service' });
  const r = ok(await call(server.port, files, 'POST', '/v1/heartbeat', { state: 'degraded' }));
  t.same(r.body.commands, [{ id: cmd.id, type: 'out-of-service', args: { reason: 'service visit' }, by: 'ops' }]);
  const rec = server.records();
  t.same(rec.heartbeats.map((h) => [h.terminalId, h.count, h.last.state]), [['K-0042', 2, 'degraded']], 'the body does not choose the terminal');
  t.equal(rec.commands.find((c) => c.id === cmd.id)!.sent, 1);

  t.same(ok(await call(server.port, files, 'POST', `/v1/commands/${cmd.id}/ack`, { ok: true, result: { state: 'outOfService' } })).body, { status: 'acked' });
  t.same(ok(await call(server.port, files, 'POST', `/v1/commands/${cmd.id}/ack`, { ok: true, result: {} })).body, { status: 'duplicate' }, 'a second ack is harmless');
  t.same(ok(await call(server.port, files, 'POST', '/v1/commands/cmd-unknown/ack', { ok: true })).body, { status: 'unknown' });
  const acked = server.records().commands.find((c) => c.id === cmd.id)!;
  t.match(acked, { ok: true, result: { state: 'outOfService' }, acks: 2 });
  t.same(ok(await call(server.port, files, 'POST', '/v1/heartbeat', {})).body.commands, [], 'an acknowledged command is not handed out again');
});

t.test('alarms de-duplicated by id; counters and extracts stored; bad requests', async (t) => {
  const { files, server } = await setup(t);
  t.same(ok(await call(server.port, files, 'POST', '/v1/alarms', { alarms: [alarm('A1'), alarm('A2')] })).body, { acked: ['A1', 'A2'] });
  t.same(ok(await call(server.port, files, 'POST', '/v1/alarms', { alarms: [alarm('A2'), alarm('A3')] })).body, { acked: ['A2', 'A3'] });
  t.same(server.records().alarms.map((a) => [a.id, a.duplicates]), [['A1', 0], ['A2', 1], ['A3', 0]]);

  await call(server.port, files, 'POST', '/v1/counters', { cashbox: [{ currency: 'CNY', value: 5000, count: 2 }] });
  t.same(server.records().counters.map((c) => c.body.cashbox), [[{ currency: 'CNY', value: 5000, count: 2 }]]);

  const extract = { commandId: 'cmd-1', events: [{ seq: 1 }, { seq: 2 }], truncated: false };
  t.equal(ok(await call(server.port, files, 'POST', '/v1/journal-extracts', extract)).status, 200);
  await call(server.port, files, 'POST', '/v1/journal-extracts', extract);
  t.match(server.records().extracts, [{ commandId: 'cmd-1', terminalId: 'K-0042', events: 2, duplicates: 1 }]);

  t.match(ok(await call(server.port, files, 'POST', '/v1/alarms', '{ nope')), { status: 400, body: { error: 'malformed-json' } });
  t.match(ok(await call(server.port, files, 'POST', '/v1/alarms', { alarms: [{ id: 'A9' }] })), { status: 400, body: { error: 'invalid-body' } });
  t.match(ok(await call(server.port, files, 'GET', '/v1/heartbeat')), { status: 405 });
  t.match(ok(await call(server.port, files, 'POST', '/v1/nothing', {})), { status: 404 });
});

t.test('mutual TLS: no client certificate, a foreign one, or TLS 1.1 are refused', async (t) => {
  const { files, server, dir } = await setup(t);
  const { files: foreign } = await createDevPki(join(dir, 'foreign'), { terminalId: 'K-0042' });
  const noCert = await call(server.port, files, 'POST', '/v1/heartbeat', {}, { cert: undefined, key: undefined });
  t.ok('error' in noCert, `no certificate: ${JSON.stringify(noCert)}`);
  const stranger = await call(server.port, files, 'POST', '/v1/heartbeat', {}, { cert: readFileSync(foreign.clientCert), key: readFileSync(foreign.clientKey) });
  t.ok('error' in stranger, `foreign certificate: ${JSON.stringify(stranger)}`);
  const old = await call(server.port, files, 'POST', '/v1/heartbeat', {}, { maxVersion: 'TLSv1.1' });
  t.ok('error' in old, `TLS 1.1: ${JSON.stringify(old)}`);
  t.same(server.records().heartbeats, [], 'nothing stored from any of them');
});

t.test('fault modes: refuse, late, error, drop', async (t) => {
  const { files, server } = await setup(t);
  server.setMode('refuse');
  const refused = await call(server.port, files, 'POST', '/v1/heartbeat', {});
  t.ok('error' in refused, 'refuse: the connection is dropped before the handshake');

  server.setMode('error');
  t.match(ok(await call(server.port, files, 'POST', '/v1/alarms', { alarms: [alarm('E1')] })), { status: 503, body: { error: 'unavailable' } });
  t.same(server.records().alarms, [], 'error: nothing stored');

  server.setMode('late', 700);
  const started = Date.now();
  const late = ok(await call(server.port, files, 'POST', '/v1/alarms', { alarms: [alarm('L1')] }));
  t.equal(late.status, 200);
  t.ok(Date.now() - started >= 600, 'late: answered after the delay');

  server.setMode('drop');
  const dropped = await call(server.port, files, 'POST', '/v1/alarms', { alarms: [alarm('D1')] });
  t.ok('error' in dropped, 'drop: no answer');
  t.same(server.records().alarms.map((a) => a.id), ['L1', 'D1'], 'drop: stored all the same');

  server.setMode('ok');
  t.equal(ok(await call(server.port, files, 'POST', '/v1/heartbeat', {})).status, 200);
});

t.test('startHost serves management on its own port, with admin routes on the loopback HTTP', async (t) => {
  const dir = t.testdir();
  const { files } = await createDevPki(join(dir, 'pki'), { terminalId: 'K-0042' });
  const tls = { ca: readFileSync(files.ca), cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey) };
  const host = await startHost({ port: 0, dbPath: join(dir, 'host.db'), tls, management: { port: 0, tls } });
  t.teardown(() => host.close());
  const m = host.management!;
  t.not(m.port, host.port);

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(host.url + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const queued = await admin('POST', '/_commands', { terminalId: 'K-0042', type: 'upload-journal', args: { last: 10 }, by: 'auditor' });
  t.equal(queued.status, 200);
  t.match(queued.body, { id: /^cmd-/, type: 'upload-journal', args: { last: 10 }, by: 'auditor', ackedAt: null });
  t.equal((await admin('POST', '/_commands', { type: 'in-service' })).status, 400, 'a command needs a terminal');

  const hb = ok(await call(m.port, files, 'POST', '/v1/heartbeat', { state: 'inService' }));
  t.same(hb.body.commands.map((c: { id: string }) => c.id), [queued.body.id]);
  const held = (await admin('GET', '/_management')).body;
  t.same(held.heartbeats.map((h: { terminalId: string }) => h.terminalId), ['K-0042']);
  t.equal(held.commands[0].sent, 1);

  t.same((await admin('POST', '/_management/mode', { mode: 'error' })).body, { mode: 'error', delayMs: 3000 });
  t.equal(ok(await call(m.port, files, 'POST', '/v1/heartbeat', {})).status, 503);
  t.equal((await admin('POST', '/_management/mode', { mode: 'sideways' })).status, 400);
});
