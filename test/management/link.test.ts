import { readFileSync } from 'node:fs';
import t from 'tap';
import { configInput, kioskSide, LogCapture, pki, referenceServer, TERMINAL, until } from './fixture.js';

const note = (value: number) => ({ value, currency: 'CNY', code: value / 100 });

t.test('heartbeat: uptime, version, terminal state and each device; identified by the certificate', async (t) => {
  const dir = t.testdir();
  const files = await pki(dir);
  const server = await referenceServer(t, dir, files);
  // The body's terminalId is informational: the server goes by the certificate's common name.
  const k = kioskSide(t, dir, configInput(dir, files, server.port, { terminalId: 'NOT-THE-CN' }), new LogCapture().logger());
  k.link.start();
  const hb = await until('a heartbeat', () => server.records().heartbeats[0]);
  t.equal(hb.terminalId, TERMINAL);
  const last = hb.last as Record<string, any>;
  t.equal(last.version, (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version, 'version from package.json');
  t.type(last.uptimeS, 'number');
  t.ok(last.uptimeS >= 0);
  t.equal(last.state, 'inService');
  t.same(last.services, ['pay', 'topup', 'lookup']);
  t.same(last.devices.printer, { health: 'fault', code: 'paper-out', detail: 'no paper' });
  t.same(last.devices.validator.health, 'ok');
  t.same(last.outbox, { pending: 2, oldestPendingAt: '2025-01-01T00:00:00.000Z' });
  t.equal(last.activeAlarms, 0);

  k.terminal.state = 'degraded';
  await until('a later heartbeat', () => (server.records().heartbeats[0]!.last as { state: string }).state === 'degraded');
  t.ok(server.records().heartbeats[0]!.count >= 2, 'one row per terminal, counted');
  t.equal(k.link.linkUp, true);
});

t.test('counters: cash box by denomination, coin box, hoppers; again at once after a cash collection', async (t) => {
  const dir = t.testdir();
  const files = await pki(dir);
  const server = await referenceServer(t, dir, files);
  const k = kioskSide(t, dir, configInput(dir, files, server.port), new LogCapture().logger());
  const j = k.journal;
  j.startTransaction('T1', 'pay');
  j.noteStacked('T1', note(5000));
  j.noteStacked('T1', note(5000));
  j.noteStacked('T1', note(10000));
  j.coinAccepted('T1', { value: 100, currency: 'CNY', code: 1 });
  j.settle('T1', { endReason: 'paid' });
  j.setHopperLevel('h100', 100, 180, 'filled');

  k.link.start();
  const first = await until('counters', () => server.records().counters[0]);
  const body = first.body as Record<string, any>;
  t.equal(first.terminalId, TERMINAL);
  t.same(body.cashbox, [
    { currency: 'CNY', value: 5000, count: 2 },
    { currency: 'CNY', value: 10000, count: 1 },
  ]);
  t.same(body.coinbox, [{ currency: 'CNY', value: 100, count: 1 }]);
  t.same(body.hoppers, [{ name: 'h100', coinValue: 100, level: 180 }]);
  t.equal(body.lastCollection, null);

  // countersMs is an hour: only the collection can bring the next report this soon.
  j.cashCollected('alice', { 5000: 2, 10000: 1 });
  const second = await until('counters after the collection', () => server.records().counters[1]);
  const after = second.body as Record<string, any>;
  t.same(after.cashbox, [], 'the new box is empty');
  t.match(after.lastCollection, { by: 'alice', ok: true, expectedTotal: 20000, countedTotal: 20000 });
  await new Promise((r) => setTimeout(r, 600));
  t.equal(server.records().counters.length, 2, 'nothing changed since: no further report before countersMs');
});

t.test('alarms: journalled, delivered once, kept through an outage and a restart', async (t) => {
  const dir = t.testdir();
  const files = await pki(dir);
  const server = await referenceServer(t, dir, files);
  server.setMode('refuse');
  const input = configInput(dir, files, server.port);
  const first = kioskSide(t, dir, input, new LogCapture().logger());
  first.link.start();
  await until('the link to be seen down', () => first.link.linkUp === false);

  first.alarms.raise({ kind: 'device-fault', source: 'printer', severity: 'warning', detail: 'fault: paper-out: no paper' });
  first.alarms.raise({ kind: 'device-fault', source: 'printer', severity: 'warning', detail: 'fault: paper-out: still no paper' });
  first.alarms.raise({ kind: 'stacker-removed', source: 'validator', severity: 'critical', detail: 'cash box removed' });
  first.alarms.clear('stacker-removed', 'validator');
  first.alarms.clear('stacker-removed', 'validator');
  t.equal(first.alarms.undelivered(100).length, 3, 'a repeated raise and a clear of nothing add no message');
  t.same(
    first.alarms.active().map((a) => [a.kind, a.detail]),
    [['device-fault', 'fault: paper-out: still no paper']],
    'the repeated raise updated the detail',
  );
  const types = first.journal.management.lastEvents(Number.MAX_SAFE_INTEGER).filter((e) => e.type.startsWith('alarm.'));
  t.same(types.map((r) => r.type), ['alarm.raised', 'alarm.raised', 'alarm.cleared']);
  await new Promise((r) => setTimeout(r, 500));
  t.same(server.records().alarms, [], 'nothing reached the server during the outage');

  // The kiosk restarts while the server is still unreachable; the alarms wait in the journal.
  await first.close();
  server.setMode('ok');
  const second = kioskSide(t, dir, input, new LogCapture().logger());
  t.equal(second.alarms.undelivered(100).length, 3, 'still undelivered after the restart');
  second.link.start();
  await until('three alarms at the server', () => server.records().alarms.length === 3);
  await until('all marked delivered', () => second.alarms.undelivered(100).length === 0);
  const held = server.records().alarms;
  t.same(
    held.map((a) => [a.action, a.kind, a.source, a.duplicates]),
    [
      ['raise', 'device-fault', 'printer', 0],
      ['raise', 'stacker-removed', 'validator', 0],
      ['clear', 'stacker-removed', 'validator', 0],
    ],
  );
  t.ok(held.every((a) => a.terminalId === TERMINAL));

  // The server stores a batch but the answer is lost: the kiosk sends it again, the server keeps it once.
  server.setMode('drop');
  second.alarms.raise({ kind: 'backlog-old', source: 'outbox', severity: 'warning', detail: 'oldest message 2 h old' });
  await until('the alarm stored by the server', () => server.records().alarms.length === 4);
  await new Promise((r) => setTimeout(r, 400));
  server.setMode('ok');
  await until('the resend acknowledged', () => second.alarms.undelivered(10).length === 0);
  const resent = server.records().alarms.filter((a) => a.kind === 'backlog-old');
  t.equal(resent.length, 1, 'one record per alarm id');
  t.ok(resent[0]!.duplicates >= 1, 'the resend was recognised as a duplicate');
});

t.test('late and failing answers: the link goes down and delivers once the server answers again', async (t) => {
  const dir = t.testdir();
  const files = await pki(dir);
  const server = await referenceServer(t, dir, files);
  const input = configInput(dir, files, server.port, {
    management: { host: '127.0.0.1', serverName: 'localhost', port: server.port, heartbeatMs: 150, countersMs: 3_600_000, timeoutMs: 500 },
  });
  const k = kioskSide(t, dir, input, new LogCapture().logger());
  k.link.start();
  await until('link up', () => k.link.linkUp === true);
  server.setMode('late', 2500);
  await until('link down on time-out', () => k.link.linkUp === false);
  server.setMode('error');
  k.alarms.raise({ kind: 'disk-low', source: 'journal', severity: 'critical', detail: '3% free' });
  await new Promise((r) => setTimeout(r, 500));
  t.equal(server.records().alarms.length, 0, 'an answer of 503 stores nothing');
  t.equal(k.link.linkUp, false);
  server.setMode('ok');
  await until('the alarm delivered', () => server.records().alarms.length === 1);
  await until('the link seen up again', () => k.link.linkUp === true);
  t.equal(server.records().alarms.length, 1, 'delivered once');
});
