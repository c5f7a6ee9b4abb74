import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const dir = join(process.cwd(), 'systemd');
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

/** `Key=value` lines of one unit file, every value of a repeated key kept in order. */
function directives(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1)]);
  }
  return keys;
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

t.test('systemd-analyze verify accepts the units', { skip: hasAnalyze ? false : 'systemd-analyze is not installed (Debian package systemd)' }, async (t) => {
  // The template is checked through an instance, next to kiosk.service which it orders itself after.
  const tmp = mkdtempSync(join(tmpdir(), 'kiosk-units-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  for (const name of ['kiosk.service', 'kiosk-console@.service', 'kiosk-screen.service']) copyFileSync(join(dir, name), join(tmp, name));
  for (const unit of ['kiosk.service', 'kiosk-console@ttyS0.service', 'kiosk-screen.service']) {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(tmp, unit)], { encoding: 'utf8' });
    // Complaints about units this machine does not have (no /dev/ttyS0 device unit here) are not
    // about our files; anything naming our files is.
    const ours = `${r.stdout}${r.stderr}`
      .split('\n')
      .filter((l) => /kiosk/.test(l));
    t.same(ours, [], `${unit}: no complaint about our files`);
    t.equal(r.status, 0, `${unit}: systemd-analyze verify exits 0`);
  }
});

t.test('kiosk.service: notify, watchdog, restart and hardening', async (t) => {
  const d = directives(read('kiosk.service'));
  const one = (k: string) => d.get(k)?.[0];
  t.equal(one('Type'), 'notify');
  t.equal(one('NotifyAccess'), 'all', 'systemd-notify runs as a child process');
  t.ok(Number(one('WatchdogSec')) > 0, 'a watchdog period');
  t.equal(one('Restart'), 'always');
  t.equal(one('User'), 'kiosk');
  t.same(one('SupplementaryGroups')?.split(/\s+/).sort(), ['dialout', 'lp', 'plugdev']);
  t.equal(one('ProtectSystem'), 'strict');
  // /opt/kiosk: the A/B releases and links the update command writes (docs/updates.md).
  t.same(one('ReadWritePaths')?.split(/\s+/).sort(), ['/opt/kiosk', '/run/kiosk', '/run/kiosk-console', '/var/lib/kiosk']);
  t.equal(one('DevicePolicy'), 'closed');
  for (const cls of ['char-ttyS', 'char-ttyUSB', 'char-ttyACM', 'char-usb', 'char-usb_device', 'char-hidraw']) {
    t.ok(d.get('DeviceAllow')?.includes(`${cls} rw`), `DeviceAllow=${cls} rw`);
  }
  for (const [k, v] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['RestrictSUIDSGID', 'yes'],
    ['LockPersonality', 'yes'],
    ['RestrictNamespaces', 'yes'],
    ['CapabilityBoundingSet', ''],
  ]) {
    t.equal(one(k!), v, `${k}=${v}`);
  }
  t.notOk(d.has('MemoryDenyWriteExecute'), "V8's JIT needs writable executable memory");
  // A payout pays a few coins a second and a note in escrow may take 5 s to land: the stop must
  // leave that time before systemd sends SIGKILL.
  t.ok(Number(one('TimeoutStopSec')) >= 60, 'TimeoutStopSec leaves time for a payout');
  t.match(one('ExecStart'), /cli\.js run --config \/etc\/kiosk\/config\.json$/);
});

t.test('kiosk-console@.service: the port is the instance, its own user, same hardening', async (t) => {
  const d = directives(read('kiosk-console@.service'));
  const one = (k: string) => d.get(k)?.[0];
  t.match(one('ExecStart'), /cli\.js console --port \/dev\/%I --config \$\{CREDENTIALS_DIRECTORY\}\/config\.json$/);
  t.equal(one('LoadCredential'), 'config.json:/etc/kiosk/config.json');
  t.equal(one('Restart'), 'always');
  t.match(one('After'), /kiosk\.service/);
  t.equal(one('User'), 'kiosk-console', "not the runtime's user, which can read journal.key and the TLS key");
  t.equal(one('NoNewPrivileges'), 'yes');
  t.equal(one('ProtectSystem'), 'strict');
  t.equal(one('DevicePolicy'), 'closed');
  t.equal(one('RestrictAddressFamilies'), 'AF_UNIX', 'it only talks to the control socket');
  t.notOk(d.has('RuntimeDirectory'), 'stopping the console must not remove /run/kiosk');
});

t.test('kiosk-screen.service: Chromium full screen on the page once the kiosk is ready, back when it dies', async (t) => {
  const d = directives(read('kiosk-screen.service'));
  const one = (k: string) => d.get(k)?.[0];
  t.match(one('After'), /\bkiosk\.service\b/, 'after READY=1 of the notify service');
  t.match(one('Wants'), /\bkiosk\.service\b/);
  t.notOk(d.has('BindsTo'), 'a runtime restart does not take the screen down: the page reconnects');
  t.equal(one('Restart'), 'always');
  t.equal(one('StartLimitIntervalSec'), '0', 'never gives up');
  t.equal(one('User'), 'kiosk-screen', 'not the user that owns the journal and the serial ports');
  const exec = one('ExecStart') ?? '';
  t.match(exec, /^\/usr\/bin\/cage .*-- \/usr\/bin\/chromium /);
  t.match(exec, / --kiosk /);
  t.match(exec, /\$\{KIOSK_SCREEN_URL\}$/);
  t.match(one('ExecStartPre'), /wait-for-url\.mjs \$\{KIOSK_SCREEN_URL\}$/);
  // The unit's page is the one the example configuration serves.
  const example = JSON.parse(read('config.example.json')) as { api?: { port: number } };
  t.same(d.get('Environment')?.filter((e) => e.startsWith('KIOSK_SCREEN_URL=')), [`KIOSK_SCREEN_URL=http://127.0.0.1:${example.api?.port}/`]);
});

t.test('wait-for-url.mjs waits for the page, and gives up on a bad argument', async (t) => {
  const { createServer } = await import('node:http');
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  // Asynchronously: the server answers from this process's event loop.
  const { execFile } = await import('node:child_process');
  const code = await new Promise<number | null>((resolve) => {
    execFile(process.execPath, [join(dir, 'wait-for-url.mjs'), `http://127.0.0.1:${port}/`], { timeout: 30_000 }, (err) => resolve(err ? (err.code as number) ?? 1 : 0));
  });
  t.equal(code, 0, 'answers at once');
  t.equal(spawnSync(process.execPath, [join(dir, 'wait-for-url.mjs')], { encoding: 'utf8' }).status, 2, 'no URL');
});

t.test('udev rules: the four stable names, groups, modes and systemd tags', async (t) => {
  const rules = read('99-kiosk.rules')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const naming = rules.filter((l) => l.includes('SYMLINK+='));
  for (const name of ['kiosk/bill-validator', 'kiosk/coin-bus', 'kiosk/printer', 'kiosk/card-reader']) {
    t.ok(naming.some((l) => l.includes(`SYMLINK+="${name}"`)), name);
  }
  for (const [vendor, product] of [
    ['0403', '6001'],
    ['067b', '2303'],
    ['1a86', '7523'],
    ['10c4', 'ea60'],
  ]) {
    t.ok(naming.some((l) => l.includes(`ATTRS{idVendor}=="${vendor}"`) && l.includes(`ATTRS{idProduct}=="${product}"`)), `${vendor}:${product}`);
  }
  t.ok(naming.some((l) => l.includes('SUBSYSTEM=="usbmisc"') && l.includes('KERNEL=="lp[0-9]*"')), 'usblp printers');
  for (const l of naming) {
    t.match(l, /GROUP="(dialout|lp|kiosk)"/, 'a group the service user is in');
    t.match(l, /MODE="0660"/);
    t.match(l, /TAG\+="systemd"/);
  }
  // Every line is a well-formed list of KEY op "value" pairs (a stray quote breaks the whole file).
  for (const l of rules.filter((r) => !r.startsWith('LABEL=') && !r.startsWith('ACTION=="remove"'))) {
    t.match(l, /^([A-Z_]+(\{[A-Za-z_]+\})?(==|!=|\+=|=)"[^"]*"(, )?)+$/, `well formed: ${l.slice(0, 60)}`);
  }
});

t.test('the example configuration passes `kiosk config check` and names /dev/kiosk/*', async (t) => {
  const out = execFileSync(process.execPath, ['dist/src/cli.js', 'config', 'check', join(dir, 'config.example.json')], { encoding: 'utf8' });
  const config = JSON.parse(out) as { validator: { port: string }; coinAcceptor?: { port: string }; printer?: { port?: string }; control: { socket: string } };
  t.equal(config.validator.port, '/dev/kiosk/bill-validator');
  t.equal(config.coinAcceptor?.port, '/dev/kiosk/coin-bus');
  t.equal(config.printer?.port, '/dev/kiosk/printer');
  t.equal(config.control.socket, '/run/kiosk/kiosk.sock');
  t.equal(config.control.consoleSocket, '/run/kiosk-console/console.sock');
});

t.test('install.sh --dry-run lists every step and changes nothing', async (t) => {
  const r = spawnSync('bash', [join(dir, 'install.sh'), '--dry-run', '--console', 'ttyS0', '--screen'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  for (const want of [
    /\[1\] check the prerequisites/,
    /the kiosk user, in dialout/,
    /useradd .*kiosk-console/,
    /install the release into the A\/B layout: \/opt\/kiosk\/releases/,
    /\/etc\/systemd\/system\/kiosk\.service/,
    /\/etc\/systemd\/system\/kiosk-console@\.service/,
    /\/etc\/systemd\/system\/kiosk-screen\.service/,
    /\/etc\/udev\/rules\.d\/99-kiosk\.rules/,
    /udevadm control --reload/,
    /udevadm trigger/,
    /systemd-tmpfiles --create \/etc\/tmpfiles\.d\/kiosk\.conf/,
    /config check \/etc\/kiosk\/config\.json/,
    /systemctl enable kiosk\.service/,
    /systemctl (start|restart) kiosk\.service/,
    /systemctl enable kiosk-console@ttyS0\.service/,
    /useradd .*--groups video,render .*kiosk-screen/,
    /kiosk\.service\.d\/ip-allow\.conf/,
    /systemctl enable kiosk-screen\.service/,
    /dry run: nothing was changed/,
  ]) {
    t.match(out, want);
  }
  t.notMatch(out, /^\s+\+ /m, 'no command was run');
});

t.test('install.sh refuses an unknown option', async (t) => {
  const r = spawnSync('bash', [join(dir, 'install.sh'), '--bogus'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown option/);
});
