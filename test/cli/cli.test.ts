import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

// The compiled commands, as a technician runs them (npm test builds dist/ first).
const cli = join(process.cwd(), 'dist', 'src', 'cli.js');
const simCli = join(process.cwd(), 'dist', 'hw-sim', 'cli.js');
const kiosk = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
const kioskSim = (...args: string[]) => spawnSync(process.execPath, [simCli, ...args], { encoding: 'utf8', timeout: 30_000 });

t.test('kiosk --help lists the subcommands of the board, and none of the simulator', async (t) => {
  const r = kiosk('--help');
  t.equal(r.status, 0);
  for (const sub of ['run', 'console', 'journal', 'config', 'ctl', 'diag']) t.match(r.stdout, new RegExp(`\\n  ${sub}\\b`));
  for (const sub of ['start', 'host', 'pki', 'sim', 'device']) t.notMatch(r.stdout, new RegExp(`\\n  ${sub}\\b`));
});

t.test('kiosk-sim --help lists the subcommands of the simulator', async (t) => {
  const r = kioskSim('--help');
  t.equal(r.status, 0);
  for (const sub of ['start', 'host', 'device', 'run', 'soak', 'chaos', 'matrix', 'fleet', 'pki']) t.match(r.stdout, new RegExp(`\\n  ${sub}\\b`));
  t.match(r.stdout, /run \[options\] <files\.\.\.>/);
  const devices = kioskSim('device', '--help');
  for (const d of ['id003', 'essp', 'ccnet', 'cctalk-coin', 'cctalk-hopper', 'escpos', 'zvt', 'hid-card']) t.match(devices.stdout, new RegExp(`\\n  ${d}\\b`));
});

t.test('kiosk-sim fleet refuses bad options with a clear message and exit 2, before starting anything', async (t) => {
  const none = kioskSim('fleet', '--kiosks', '0');
  t.equal(none.status, 2);
  t.match(none.stderr, /--kiosks must be a positive number, not '0'/);
  const half = kioskSim('fleet', '--kiosks', '2.5');
  t.equal(half.status, 2);
  t.match(half.stderr, /--kiosks must be a whole number/);
  const fault = kioskSim('fleet', '--kiosks', '5', '--faults', 'broker-restart,earthquake');
  t.equal(fault.status, 2);
  t.match(fault.stderr, /unknown fault earthquake \(there are: broker-restart, consumer-kill, kiosk-drop, or all\)/);
});

t.test('kiosk sim … still reaches kiosk-sim for one release, and says so', async (t) => {
  const devices = kiosk('sim', 'device', '--help');
  t.equal(devices.status, 0);
  t.match(devices.stderr, /deprecated, use kiosk-sim/);
  for (const d of ['id003', 'essp', 'ccnet']) t.match(devices.stdout, new RegExp(`\\n  ${d}\\b`));
  const bad = kiosk('sim', 'chaos', '--runs', '0');
  t.equal(bad.status, 2, "kiosk-sim's exit code comes back");
  t.match(bad.stderr, /--runs must be a positive whole number/);
});

t.test('a malformed configuration names the key, exits non-zero and opens no device', async (t) => {
  const dir = t.testdir({
    'bad.json': JSON.stringify({
      dataDir: 'data',
      validator: { port: 'ttyFAKE', pollIntervalMs: 'fast' },
      server: { host: '127.0.0.1', port: 1 },
    }),
  });
  const r = kiosk('run', '--config', join(dir, 'bad.json'));
  t.equal(r.status, 2);
  t.match(r.stderr, /validator\.pollIntervalMs/);
  t.notOk(existsSync(join(dir, 'data')), 'nothing was created: no journal, no socket');
});

t.test('config check prints the configuration with defaults', async (t) => {
  const dir = t.testdir({
    'ok.json': JSON.stringify({ validator: { port: '/dev/ttyUSB0' }, server: { host: '127.0.0.1', port: 8480 } }),
  });
  const r = kiosk('config', 'check', join(dir, 'ok.json'));
  t.equal(r.status, 0);
  t.equal(JSON.parse(r.stdout).validator.pollIntervalMs, 150);
});

t.test('config check masks every secret and warns of factory secrets', async (t) => {
  const pinHash = 'scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$U+WfH59WwjF9mfeh52/R1DZ3zLGcLBJeBU+agSgeCuw=';
  const dir = t.testdir({
    'own.json': JSON.stringify({
      validator: { model: 'essp', port: '/dev/ttyUSB0', fixedKey: '0f1e2d3c4b5a6978' },
      paymentTerminal: { transport: 'tcp', host: '10.0.0.9', password: '482915' },
      console: { engineers: [{ name: 'alice', pin: pinHash }] },
      server: { host: '127.0.0.1', port: 8480 },
    }),
    'factory.json': JSON.stringify({
      validator: { model: 'essp', port: '/dev/ttyUSB0' },
      paymentTerminal: { transport: 'tcp', host: '10.0.0.9' },
      server: { host: '127.0.0.1', port: 8480 },
    }),
  });
  const own = kiosk('config', 'check', join(dir, 'own.json'));
  t.equal(own.status, 0);
  for (const secret of ['0f1e2d3c4b5a6978', '482915', pinHash]) t.notMatch(own.stdout, secret, 'no secret in clear');
  const shown = JSON.parse(own.stdout);
  t.equal(shown.validator.fixedKey, '***');
  t.equal(shown.paymentTerminal.password, '***');
  t.equal(shown.console.engineers[0].pin, '***');
  t.notMatch(own.stderr, /factory/, 'own secrets: no factory warning');
  t.match(own.stderr, /console\.engineers\[0\]\.pin \(alice\): made at a lower cost/, 'an old PIN hash is pointed out');

  const factory = kiosk('config', 'check', join(dir, 'factory.json'));
  t.equal(factory.status, 0);
  t.match(factory.stderr, /warning: validator\.fixedKey: the eSSP factory key 0123456701234567 is in use/);
  t.match(factory.stderr, /warning: paymentTerminal\.password: the ZVT factory password 000000 is in use/);
  t.notMatch(factory.stdout, /000000|0123456701234567/);
});

t.test('ctl against a socket nobody serves says so', async (t) => {
  const dir = t.testdir({});
  const r = kiosk('ctl', 'status', '--socket', join(dir, 'none.sock'));
  t.equal(r.status, 1);
  t.match(r.stderr, /cannot reach the kiosk/);
  const bad = kiosk('ctl', 'start', 'fly');
  t.equal(bad.status, 2);
  t.match(bad.stderr, /pay, topup or lookup/);
});

t.test('kiosk run without its TLS certificates stops at once, names the file and how to make one', async (t) => {
  const dir = t.testdir({
    'k.json': JSON.stringify({ dataDir: 'data', validator: { port: 'ttyFAKE' }, server: { host: '127.0.0.1', port: 1 } }),
  });
  const r = kiosk('run', '--config', join(dir, 'k.json'));
  t.equal(r.status, 2);
  t.match(r.stderr, /tls\.ca: cannot read .*data\/pki\/ca\.crt.*kiosk-sim pki init/);
});
