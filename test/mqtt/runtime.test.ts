/**
 * The real runtime (dist/hw-sim/runtime-entry.js, built by `npm run build`) on the simulated stack
 * with the management link on MQTT, as `kiosk-sim start --mqtt` runs it: heartbeats reach the
 * consumer through Mosquitto, a remote command runs, the process killed leaves its last will
 * `offline`, and a command sent while it is down runs once when it is back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import t from 'tap';
import { DEFAULT_CENTRAL_USER } from '../../hw-sim/broker/mosquitto.js';
import { issueClientCert } from '../../hw-sim/pki/dev-pki.js';
import { SimStack } from '../../hw-sim/stack.js';
import { until } from '../management/fixture.js';

const TERMINAL = 'SIM-0001';
const dir = mkdtempSync(join(tmpdir(), 'kiosk-mqtt-'));
const stack = new SimStack({ dir, managementTransport: 'mqtt' });
t.teardown(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

await stack.start();
await stack.startRuntime();
const central = stack.host.management!;
const state = async (): Promise<string> => {
  const st = await stack.control({ cmd: 'status' });
  return (st as unknown as { terminal: { state: string } }).terminal.state;
};

t.test('heartbeats and a remote command over the broker', async (t) => {
  t.ok(stack.broker, 'a Mosquitto was started');
  const config = JSON.parse(readFileSync(stack.configPath, 'utf8')) as { management: { transport: string; port: number } };
  t.equal(config.management.transport, 'mqtt');
  t.equal(config.management.port, stack.broker!.port, "the kiosk's management link points at the broker");
  await until('a heartbeat', () => central.records().heartbeats.find((h) => h.terminalId === TERMINAL), 30_000);
  const cmd = central.queueCommand({ terminalId: TERMINAL, type: 'out-of-service', args: { reason: 'mqtt test' }, by: 'ops' });
  await until('acknowledged', () => central.records().commands.find((c) => c.id === cmd.id && c.ackedAt !== null), 30_000);
  let last = '';
  const deadline = Date.now() + 30_000;
  while (!/^outOfService/.test((last = await state())) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.match(last, /^outOfService/, 'the terminal left service');
});

t.test('the process killed: the last will says offline; a command sent meanwhile runs once after the restart', async (t) => {
  const me = await issueClientCert(stack.pkiDir, DEFAULT_CENTRAL_USER);
  const seen: { online: boolean; state: string }[] = [];
  const watcher = mqtt.connect(stack.broker!.centralUrl, {
    protocolVersion: 5,
    ca: readFileSync(stack.pki.ca),
    cert: readFileSync(me.cert),
    key: readFileSync(me.key),
    servername: 'localhost',
  });
  t.teardown(() => watcher.end(true));
  watcher.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString()) as { online: boolean; state: string }));
  await new Promise((r) => watcher.once('connect', r));
  await watcher.subscribeAsync(`kiosk/${TERMINAL}/state`, { qos: 1 });
  await until('the retained state', () => seen.at(-1)?.online === true);
  // Retained, then replaced at the heartbeat after each change of state.
  await until('the state out of service', () => seen.at(-1)?.state.startsWith('outOfService'), 30_000);
  t.match(seen.at(-1), { online: true, state: /^outOfService/ }, 'online, and in which state');

  await stack.killRuntime('SIGKILL');
  await until('the will', () => seen.at(-1)?.online === false, 30_000);
  t.same(seen.at(-1), { online: false, state: 'offline' });

  const cmd = central.queueCommand({ terminalId: TERMINAL, type: 'in-service', by: 'ops' });
  await stack.startRuntime();
  const acked = await until('acknowledged after the restart', () => central.records().commands.find((c) => c.id === cmd.id && c.ackedAt !== null), 30_000);
  t.equal(acked.ok, true);
  await until('online again', () => seen.at(-1)?.online === true, 30_000);
  // Run once: one start and one end of it in the kiosk's own journal, whatever was delivered twice.
  const db = new Database(join(dir, 'journal.db'), { readonly: true });
  t.teardown(() => db.close());
  const runs = db.prepare("SELECT type FROM events WHERE type LIKE 'remote.command%' AND json_extract(data, '$.id') = ?").all(cmd.id);
  t.same(runs, [{ type: 'remote.command' }, { type: 'remote.command.done' }]);
});
