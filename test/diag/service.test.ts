// kiosk diag while the kiosk service runs (issue 21, item 2): the service holds the ports, so
// diag --config has the service test its devices through the control socket, and diag --port on
// a held port says who holds it. Also: the card reader and the payment terminal are checked, and
// a hopper's test coin is reported at its real value.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { DeviceReport } from '../../src/diag/checks.js';
import { runDiag, type DiagOptions } from '../../src/diag/run.js';

const dir = mkdtempSync(join(tmpdir(), 'kiosk-diag-service-'));
const stack = new SimStack({ dir, fitted: { coins: true, hoppers: true, printer: true, zvt: true, cardReader: 'keyboard' } });
await stack.start();
t.teardown(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});
const config = loadConfigFile(stack.configPath);

async function diag(opts: Partial<DiagOptions>): Promise<{ ok: boolean; text: string }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ok = await runDiag({ json: false, payout: false, print: false, isTTY: false, out, ...opts });
  return { ok, text: Buffer.concat(chunks).toString('utf8') };
}

function step(report: DeviceReport | undefined, name: string) {
  const s = report?.steps.find((x) => x.name === name);
  if (!s) throw new Error(`no step '${name}' in ${report?.name}`);
  return s;
}

t.test('with the service stopped: the card reader and the payment terminal are checked too; hopper coins at their value', async (t) => {
  const { ok, text } = await diag({ config, payout: true });
  t.ok(ok, text);
  t.match(text, /✓ card-reader: passed/);
  t.match(text, /✓ payment-terminal: passed/);
  t.match(text, /payout of one coin\s+1 coin of 1\.00 paid/, 'h100 pays a 1-yuan coin');
  t.match(text, /payout of one coin\s+1 coin of 0\.50 paid/, 'h50 pays a 5-jiao coin');
  t.match(text, /all 7 devices passed\n$/);

  const unknown = await diag({ port: stack.hostPort('h100'), kind: 'cctalk-hopper', address: 3, payout: true, json: true });
  const [bare] = (JSON.parse(unknown.text) as { devices: DeviceReport[] }).devices;
  t.match(step(bare, 'payout of one coin').detail, /^1 coin \(of a value not known here: give --coin <fen>\) paid/);
  t.notMatch(unknown.text, /0\.01/, 'never the made-up value of 0.01');
  const known = await diag({ port: stack.hostPort('h100'), kind: 'cctalk-hopper', address: 3, payout: true, coinValue: 100, json: true });
  const [given] = (JSON.parse(known.text) as { devices: DeviceReport[] }).devices;
  t.match(step(given, 'payout of one coin').detail, /^1 coin of 1\.00 paid/);
});

t.test('with the service running: --config asks the service; --port says the service holds the port', async (t) => {
  await stack.startRuntime();
  t.teardown(() => stack.killRuntime('SIGTERM'));
  const { ok, text } = await diag({ config });
  t.ok(ok, text);
  t.notMatch(text, /Cannot lock port/i);
  t.match(text, /the kiosk service is running .* holds the device ports/);
  t.match(text, /systemctl stop kiosk/);
  for (const name of ['validator', 'coin-acceptor', 'hopper:h100', 'hopper:h50', 'printer', 'card-reader', 'payment-terminal']) {
    t.match(text, new RegExp(`✓ ${name}: passed`), `${name} tested by the service`);
  }

  stack.deviceCommand('stacker-open');
  t.teardown(() => stack.deviceCommand('clear'));
  await stack.waitForLog((e) => e.code === 'stacker-open' || (typeof e.msg === 'string' && e.msg.includes('fault')), 10_000).catch(() => undefined);
  const faulty = await diag({ config, json: true });
  t.notOk(faulty.ok, 'a cash box out fails through the service too');
  const result = JSON.parse(faulty.text) as { devices: DeviceReport[]; via: string };
  t.equal(result.via, 'service');
  const validator = result.devices.find((d) => d.name === 'validator');
  t.match(step(validator, 'health').detail, /stacker-open/);

  const held = await diag({ port: stack.hostPort('validator'), kind: 'id003', json: true });
  t.notOk(held.ok);
  const [report] = (JSON.parse(held.text) as { devices: DeviceReport[] }).devices;
  t.match(step(report, 'open').detail, /in use by another program, most likely the kiosk service: stop it \(sudo systemctl stop kiosk\)/);
});
