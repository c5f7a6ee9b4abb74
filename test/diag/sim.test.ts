// kiosk diag against the emulators on socat ptys, with the production drivers and no runtime.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { SIM_HOPPERS, SimStack } from '../../hw-sim/stack.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { DeviceReport } from '../../src/diag/checks.js';
import { runDiag, type DiagOptions } from '../../src/diag/run.js';

const dir = mkdtempSync(join(tmpdir(), 'kiosk-diag-'));
const deviceLines: string[] = [];
const stack = new SimStack({
  dir,
  fitted: { coins: true, hoppers: true, printer: true },
  onDeviceLine: (device, line) => deviceLines.push(`${device}: ${line}`),
});
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

const receipts = () => (existsSync(stack.receiptsDir) ? readdirSync(stack.receiptsDir) : []);

t.test('every configured device passes; nothing is paid or printed by default', async (t) => {
  const { ok, text } = await diag({ config });
  t.ok(ok, text);
  for (const name of ['validator', 'coin', 'h100', 'h50', 'printer']) t.match(text, new RegExp(`✓ ${name}: passed`));
  t.match(text, /✓ identity\s+JCM ID-003, version ID003-SIM CNY V1\.00/);
  t.match(text, /- payout of one coin\s+not asked/);
  t.match(text, /- test page\s+not asked/);
  t.match(text, /all 5 devices passed\n$/);
  t.notMatch(text, /\x1b/, 'no control codes off a terminal');
  t.equal(stack.coinsPaid.size, 0, 'no coin left a hopper');
  t.same(receipts(), [], 'no page printed');
});

t.test('--json --payout --print: one JSON object with the identities; one coin per hopper; a test page', async (t) => {
  const { ok, text } = await diag({ config, json: true, payout: true, print: true });
  const result = JSON.parse(text) as { devices: DeviceReport[]; ok: boolean };
  t.ok(ok);
  t.equal(result.ok, true);
  const by = new Map(result.devices.map((d) => [d.name, d]));
  t.same([...by.keys()], ['validator', 'coin', 'h100', 'h50', 'printer']);
  t.equal(by.get('validator')?.identity.version, 'ID003-SIM CNY V1.00');
  t.same(by.get('validator')?.facts.notes, [100, 500, 1000, 2000, 5000, 10000]);
  for (const h of SIM_HOPPERS) {
    const r = by.get(h.name);
    t.equal(r?.identity.serial, String(h.serial), `${h.name} serial`);
    t.equal(r?.identity.category, 'Payout');
    t.equal(step(r, 'payout of one coin').outcome, 'ok');
    t.equal(stack.coinsPaid.get(h.name), 1, `${h.name} paid exactly one coin`);
    t.ok(deviceLines.includes(`${h.name}: paid coin 1/1`), `${h.name} emulator says paid coin 1/1`);
  }
  t.equal(by.get('coin')?.identity.category, 'Coin Acceptor');
  t.ok(by.get('coin')?.identity.serial);
  const printer = by.get('printer');
  t.same(printer?.status, { health: 'ok', code: 'ok', detail: 'ready' });
  t.same([printer?.facts.paper, printer?.facts.cover], ['ok', 'closed']);
  t.equal(step(printer, 'test page').outcome, 'ok');
  const files = receipts();
  t.equal(files.length, 1);
  const page = readFileSync(join(stack.receiptsDir, files[0]!), 'utf8');
  t.match(page, /TEST PAGE \/ 测试页/);
  t.match(page, /SIM-0001/);
  t.match(page, /\[QR: diag SIM-0001 /);
});

t.test('a silent hopper fails with "no answer"; the others still pass', async (t) => {
  stack.deviceCommand('silent', 'h50');
  t.teardown(() => stack.deviceCommand('clear', 'h50'));
  const { ok, text } = await diag({ config, json: true });
  t.notOk(ok);
  const result = JSON.parse(text) as { devices: DeviceReport[]; ok: boolean };
  t.equal(result.ok, false);
  for (const d of result.devices) {
    if (d.name !== 'h50') {
      t.ok(d.ok, `${d.name} passes`);
      continue;
    }
    t.notOk(d.ok);
    t.equal(step(d, 'open').outcome, 'failed');
    t.match(step(d, 'open').detail, /^no answer/);
    t.equal(step(d, 'self-test').outcome, 'skipped');
    t.equal(step(d, 'close').outcome, 'ok', 'closed all the same');
  }
});

t.test('one device from --port and --kind, shown in place on a terminal', async (t) => {
  const { ok, text } = await diag({ port: stack.hostPort('h100'), kind: 'cctalk-hopper', address: 3, isTTY: true });
  t.ok(ok, text);
  t.match(text, /\r\x1b\[2K/, 'the progress line is redrawn in place');
  t.match(text, /\d\/7 self-test/, 'with a step counter');
  t.match(text, new RegExp(`serial ${SIM_HOPPERS[0].serial}`));
  t.match(text, /the device passed\n$/);

  const validator = await diag({ port: stack.hostPort('validator'), kind: 'id003', json: true });
  t.ok(validator.ok);
  const [report] = (JSON.parse(validator.text) as { devices: DeviceReport[] }).devices;
  t.equal(report?.identity.version, 'ID003-SIM CNY V1.00');
});

t.test('a port that does not exist: "cannot open"', async (t) => {
  const missing = join(dir, 'no-such-port');
  const { ok, text } = await diag({ port: missing, kind: 'escpos', json: true });
  t.notOk(ok);
  const [report] = (JSON.parse(text) as { devices: DeviceReport[] }).devices;
  t.equal(step(report, 'open').outcome, 'failed');
  t.match(step(report, 'open').detail, /^cannot open/);
  t.match(step(report, 'open').detail, /no-such-port/);
});
