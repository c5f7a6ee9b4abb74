/**
 * The management link on MQTT against a real Mosquitto and the reference consumer: alarms and
 * command acknowledgements delivered once by id through a broker restart and a consumer kill, a
 * command to an offline kiosk run once when it comes back, the retained state and the last will.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import t, { type Test } from 'tap';
import type { ConfigInput } from '../../src/config/schema.js';
import type { DevPkiFiles } from '../../hw-sim/pki/dev-pki.js';
import { configInput, kioskSide, LogCapture, TERMINAL, until, type KioskSide } from '../management/fixture.js';
import { DEFAULT_CENTRAL_USER, brokerWorld, consumer, relay, type BrokerWorld } from './broker-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mqttConfig(dir: string, files: DevPkiFiles, port: number): ConfigInput {
  return configInput(dir, files, port, {
    management: {
      transport: 'mqtt',
      host: '127.0.0.1',
      serverName: 'localhost',
      port,
      heartbeatMs: 200,
      countersMs: 3_600_000,
      timeoutMs: 1500,
      mqtt: { reconnectMs: 200 },
    },
  } as Partial<ConfigInput>);
}

function mqttKiosk(t: Test, w: BrokerWorld, log: Logger, port = w.broker.port): KioskSide {
  return kioskSide(t, w.dir, mqttConfig(w.dir, w.pki, port), log);
}

/** Every alarm message the kiosk journalled, by id. */
function journalledAlarmIds(k: KioskSide): string[] {
  return k.journal.management.undeliveredAlarms(10_000).map((a) => a.id);
}

for (const hard of [false, true]) {
t.test(`alarms and command acknowledgements are delivered once by id through a broker ${hard ? 'kill (SIGKILL)' : 'restart'}`, async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1', { resendMs: 300 });
  const k = mqttKiosk(t, w, new LogCapture().logger());
  k.link.start();

  k.alarms.raise({ kind: 'device-fault', source: 'printer', severity: 'warning', detail: 'paper out' });
  await until('the first alarm stored', () => central.records().alarms.length === 1);
  await until('the link up', () => k.link.linkUp === true);

  await (hard ? w.broker.kill() : w.broker.stop());
  // Raised and cleared while the broker is away: they wait in the journal.
  k.alarms.clear('device-fault', 'printer');
  k.alarms.raise({ kind: 'stacker-removed', source: 'validator', severity: 'critical', detail: 'cash box out' });
  const waiting = journalledAlarmIds(k);
  t.equal(waiting.length, 2, 'two alarm messages wait in the journal');
  const cmd = central.queueCommand({ terminalId: TERMINAL, type: 'out-of-service', args: { reason: 'collection' }, by: 'ops' });
  await until('the link seen down', () => k.link.linkUp === false);

  await w.broker.restart();
  await until('every alarm stored', () => central.records().alarms.length === 3, 30_000);
  await until('the command acknowledged', () => central.records().commands.find((c) => c.id === cmd.id && c.ackedAt !== null), 30_000);
  await until('nothing left in the journal', () => journalledAlarmIds(k).length === 0 && k.journal.management.unacknowledgedCommands(10).length === 0);

  const alarms = central.records().alarms;
  t.same(
    alarms.map((a) => [a.action, a.kind]),
    [
      ['raise', 'device-fault'],
      ['clear', 'device-fault'],
      ['raise', 'stacker-removed'],
    ],
    'each alarm message stored once, in order',
  );
  t.same(alarms.slice(1).map((a) => a.id), waiting, 'the ones journalled during the outage, by their ids');
  t.equal(k.terminal.requests.filter((r) => r.cmd === 'out-of-service').length, 1, 'the command ran once');
  const acked = central.records().commands.find((c) => c.id === cmd.id)!;
  t.equal(acked.ok, true);
  t.ok(acked.acks >= 1, 'acknowledged; a resend would only count');
});
}

t.test('counters, and a journal extract for upload-journal, over the broker', async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1');
  const k = mqttKiosk(t, w, new LogCapture().logger());
  k.alarms.raise({ kind: 'device-fault', source: 'printer', severity: 'warning', detail: 'paper out' });
  k.link.start();
  await until('counters', () => central.records().counters.length > 0);
  t.match(central.records().counters[0]!.body, { cashbox: Array, hoppers: Array });
  const cmd = central.queueCommand({ terminalId: TERMINAL, type: 'upload-journal', args: { last: 5 }, by: 'ops' });
  const acked = await until('acknowledged', () => central.records().commands.find((c) => c.id === cmd.id && c.ackedAt !== null));
  t.equal(acked.ok, true);
  const extract = central.records().extracts.find((e) => e.commandId === cmd.id);
  t.ok(extract, 'the extract is stored under the command id');
  t.equal(extract!.events, (acked.result as { events: number }).events, 'as many events as the acknowledgement says');
  t.ok(extract!.events > 0);
});

t.test('two consumers split the messages; one killed loses nothing', async (t) => {
  const w = await brokerWorld(t);
  const one = await consumer(t, w, '1');
  const two = await consumer(t, w, '2');
  const k = mqttKiosk(t, w, new LogCapture().logger());
  k.link.start();
  await until('heartbeats at both consumers', () => (one.counts.received.heartbeat ?? 0) > 0 && (two.counts.received.heartbeat ?? 0) > 0);

  const raise = (i: number) => k.alarms.raise({ kind: `probe-${i}`, source: 'test', severity: 'warning', detail: `alarm ${i}` });
  for (let i = 0; i < 10; i++) {
    raise(i);
    await sleep(30);
  }
  await one.kill();
  for (let i = 10; i < 30; i++) {
    raise(i);
    await sleep(30);
  }
  const all = () => two.records().alarms.filter((a) => a.kind.startsWith('probe-'));
  await until('all 30 alarms stored', () => all().length === 30, 30_000);
  await until('the journal has none undelivered', () => journalledAlarmIds(k).length === 0);
  t.same(new Set(all().map((a) => a.kind)).size, 30, 'each alarm once, none lost');

  // The killed instance comes back with its session: whatever the broker kept for it is a duplicate.
  const back = await consumer(t, w, '1');
  await sleep(500);
  t.equal(back.records().alarms.filter((a) => a.kind.startsWith('probe-')).length, 30, 'still one row per alarm');
});

t.test('a command to an offline kiosk waits in its session and runs once when it comes back', async (t) => {
  const w = await brokerWorld(t);
  // No resend at heartbeats within this test: the command can only come from the broker's session.
  const central = await consumer(t, w, '1', { resendMs: 3_600_000 });
  const log = new LogCapture();
  const first = mqttKiosk(t, w, log.logger());
  first.link.start();
  await until('the kiosk seen', () => central.records().heartbeats.length > 0);
  await first.close();

  const cmd = central.queueCommand({ terminalId: TERMINAL, type: 'in-service', by: 'ops-night' });
  await sleep(300);
  t.equal(central.records().commands[0]!.ackedAt, null, 'nobody to run it yet');

  const again = mqttKiosk(t, w, log.logger());
  again.link.start();
  const acked = await until('the acknowledgement', () => central.records().commands.find((c) => c.id === cmd.id && c.ackedAt !== null), 30_000);
  t.equal(acked.ok, true);
  t.same(again.terminal.requests, [{ cmd: 'in-service', by: 'management:ops-night' }], 'run once, from the session the broker kept');
  t.equal(acked.sent, 1, 'published once by the central side');

  // The same command delivered again (a central instance publishing it twice): acknowledged again from the record, not run again.
  const raw = await w.client(DEFAULT_CENTRAL_USER);
  await raw.publishAsync(`kiosk/${TERMINAL}/cmd`, JSON.stringify({ id: cmd.id, type: 'in-service', args: {}, by: 'ops-night' }), { qos: 1 });
  await until('an acknowledgement again', () => central.records().commands.find((c) => c.id === cmd.id)!.acks >= 2, 30_000);
  t.equal(again.terminal.requests.length, 1, 'still run only once');
});

t.test('the retained state says online, and the last will offline when the connection is cut', async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1');
  const cable = await relay(t, w.broker.port);
  const k = mqttKiosk(t, w, new LogCapture().logger(), cable.port);
  k.link.start();
  await until('the kiosk seen', () => central.records().heartbeats.length > 0);

  const seen: Record<string, unknown>[] = [];
  await w.client(DEFAULT_CENTRAL_USER, {}, (_topic, payload) => seen.push(JSON.parse(payload.toString()) as Record<string, unknown>)).then((c) =>
    c.subscribeAsync(`kiosk/${TERMINAL}/state`, { qos: 1 }),
  );
  await until('the retained state', () => seen.length > 0);
  t.match(seen[0], { online: true, state: 'inService' }, 'a late subscriber gets the retained state at once');

  cable.cut();
  await until('the last will', () => seen.some((s) => s.online === false));
  t.same(seen.find((s) => s.online === false), { online: false, state: 'offline' }, 'offline, published by the broker for the kiosk');
  await until('the central side stored it', () => central.records().states.some((s) => s.body.online === false) || central.records().states[0]?.body.online === true);
  // The kiosk reconnects by itself through the same cable and says so.
  await until('online again', () => seen.at(-1)?.online === true, 30_000);

  // A clean stop leaves "offline" retained as well.
  await k.close();
  const late: Record<string, unknown>[] = [];
  await w.client(DEFAULT_CENTRAL_USER, {}, (_topic, payload) => late.push(JSON.parse(payload.toString()) as Record<string, unknown>)).then((c) =>
    c.subscribeAsync(`kiosk/${TERMINAL}/state`, { qos: 1 }),
  );
  await until('the retained state after the stop', () => late.length > 0);
  t.match(late[0], { online: false, state: 'offline' });
});

t.test("a kiosk configured with another kiosk's id is refused by the broker and stores nothing there", async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1');
  const log = new LogCapture();
  // K-TEST-1's certificate, but terminalId K-TEST-2: every publish would land on K-TEST-2's topics.
  const input = { ...mqttConfig(w.dir, w.pki, w.broker.port), terminalId: 'K-TEST-2' };
  const k = kioskSide(t, w.dir, input, log.logger());
  k.link.start();
  await until('the link down', () => k.link.linkUp === false);
  t.match(log.text, /not authori[sz]ed.*reason 135.*certificate's common name/i, 'PUBACK 0x87, with what to fix');
  await sleep(500);
  t.same(central.records().heartbeats, [], 'nothing stored for either kiosk');
  t.same(central.records().states, [], 'not even a state');
});

t.test("a broker whose certificate does not carry the configured name is refused, with the server-certificate alarm", async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1');
  const input = mqttConfig(w.dir, w.pki, w.broker.port);
  const k = kioskSide(t, w.dir, { ...input, management: { ...input.management!, serverName: 'broker.elsewhere.example' } } as ConfigInput, new LogCapture().logger());
  k.link.start();
  await until('the alarm', () => k.alarms.active().find((a) => a.kind === 'server-certificate' && a.source === 'management-link'), 20_000);
  t.equal(k.link.linkUp, false);
  t.same(central.records().heartbeats, [], 'nothing was sent to it');
});

t.test('a command the broker could not keep (no session yet) is published again at the next heartbeat and runs once', async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1', { resendMs: 500 });
  // Queued before this kiosk ever connected: the broker has no session to keep it in and drops it.
  const cmd = central.queueCommand({ terminalId: TERMINAL, type: 'in-service', by: 'ops-early' });
  await sleep(700);
  const k = mqttKiosk(t, w, new LogCapture().logger());
  k.link.start();
  const acked = await until('acknowledged', () => central.records().commands.find((c) => c.id === cmd.id && c.ackedAt !== null), 30_000);
  t.ok(acked.sent >= 2, `published again (sent ${acked.sent} times)`);
  t.same(k.terminal.requests, [{ cmd: 'in-service', by: 'management:ops-early' }], 'run once');
});

t.test('back on the broker, what waited goes at once, not at the next heartbeat', async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1');
  const cable = await relay(t, w.broker.port);
  const input = mqttConfig(w.dir, w.pki, cable.port);
  // A generous time-out: one missed receipt would otherwise leave the alarm to the heartbeat ten minutes on.
  const k = kioskSide(t, w.dir, { ...input, management: { ...input.management!, heartbeatMs: 600_000, timeoutMs: 8000 } } as ConfigInput, new LogCapture().logger());
  k.link.start();
  await until('the first heartbeat', () => central.records().heartbeats.length > 0);
  cable.hold(true);
  cable.cut();
  k.alarms.raise({ kind: 'stacker-removed', source: 'validator', severity: 'critical', detail: 'cash box out' });
  await until('the link seen down', () => k.link.linkUp === false);
  cable.hold(false);
  await until('the alarm stored well before the next heartbeat', () => central.records().alarms.length === 1, 15_000);
  t.pass('delivered on reconnection');
});

t.test('reload-configuration over MQTT: intervals apply at once; a change of transport needs a restart', async (t) => {
  const w = await brokerWorld(t);
  const central = await consumer(t, w, '1');
  const configPath = join(w.dir, 'config.json');
  const input = mqttConfig(w.dir, w.pki, w.broker.port);
  writeFileSync(configPath, JSON.stringify(input));
  const k = kioskSide(t, w.dir, input, new LogCapture().logger(), configPath);
  k.link.start();
  await until('the kiosk seen', () => central.records().heartbeats.length > 0);
  const reload = async (): Promise<Record<string, unknown>> => {
    const c = central.queueCommand({ terminalId: TERMINAL, type: 'reload-configuration', by: 'ops' });
    return (await until('reload acknowledged', () => central.records().commands.find((r) => r.id === c.id && r.ackedAt !== null))).result!;
  };

  writeFileSync(configPath, JSON.stringify({ ...input, management: { ...input.management!, countersMs: 120_000 } }));
  t.same(await reload(), { applied: ['management'], needsRestart: [] });
  t.equal(k.config.management!.countersMs, 120_000);

  writeFileSync(configPath, JSON.stringify({ ...input, management: { ...input.management!, transport: 'https' } }));
  t.same(await reload(), { applied: [], needsRestart: ['management'] });
  t.equal(k.config.management!.transport, 'mqtt', 'still on MQTT until the restart');
});
