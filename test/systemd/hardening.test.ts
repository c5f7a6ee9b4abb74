import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

// What systemd and udev make of the units and rules: the exposure score of every unit, no core
// dumps, the network each service may reach, the card reader kept away from the screen.

const dir = join(process.cwd(), 'systemd');
const UNITS = ['kiosk.service', 'kiosk-console@.service', 'kiosk-screen.service'];
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

/** Every value of `key` in a unit file, in order. */
function values(text: string, key: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const noAnalyze = hasAnalyze ? false : 'systemd-analyze is not installed (Debian package systemd)';

/** `systemd-analyze security --offline` of a unit file: its score, and whether it passed the 2.5 threshold. */
function security(path: string): { score: number; status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=25', '--no-pager', path], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  const m = /Overall exposure level for \S+: (\d+\.\d)/.exec(output);
  return { score: m ? Number(m[1]) : NaN, status: r.status, output };
}

t.test('systemd-analyze security: every unit scores at most 2.5 ("OK")', { skip: noAnalyze }, async (t) => {
  for (const unit of UNITS) {
    const { score, status, output } = security(join(dir, unit));
    t.ok(score <= 2.5, `${unit}: exposure ${score}`);
    t.equal(status, 0, `${unit}: under --threshold=25${status === 0 ? '' : `\n${output.split('\n').filter((l) => l.includes('✗')).join('\n')}`}`);
  }
});

t.test('no unit may leave a core dump', async (t) => {
  for (const unit of UNITS) t.same(values(read(unit), 'LimitCORE'), ['0'], `${unit}: LimitCORE=0`);
});

t.test('each unit: a system call filter, /proc reduced to its own processes, the network it needs', async (t) => {
  for (const unit of UNITS) {
    const text = read(unit);
    // The screen keeps @resources: Chromium lowers its renderers' limits.
    const denied = unit === 'kiosk-screen.service' ? '~@privileged' : '~@privileged @resources';
    t.same(values(text, 'SystemCallFilter').slice(0, 2), ['@system-service', denied], `${unit}: system calls`);
    t.same(values(text, 'SystemCallErrorNumber'), ['EPERM'], `${unit}: a refused call fails, it does not kill`);
    t.same(values(text, 'ProcSubset'), ['pid'], `${unit}: ProcSubset=pid`);
    t.same(values(text, 'ProtectSystem'), ['strict'], `${unit}: ProtectSystem=strict`);
    t.same(values(text, 'IPAddressDeny'), ['any'], `${unit}: IPAddressDeny=any`);
  }
  t.same(values(read('kiosk-console@.service'), 'IPAddressAllow'), [], 'the console: no network at all');
  t.same(values(read('kiosk-screen.service'), 'IPAddressAllow'), ['localhost'], 'the screen: the page on loopback only');
  t.same(values(read('kiosk.service'), 'IPAddressAllow'), ['localhost'], 'the runtime: loopback, plus the drop-in install.sh writes');
  // The screen's seat: the DRM devices, its tty, and the runtime folder of its login session.
  const screen = read('kiosk-screen.service');
  t.same(values(screen, 'DevicePolicy'), ['closed']);
  t.ok(values(screen, 'DeviceAllow').includes('char-drm rw'));
  t.ok(values(screen, 'DeviceAllow').includes('/dev/tty1 rw'));
  t.same(values(screen, 'ReadWritePaths'), ['-/run/user']);
  t.same(values(screen, 'RestrictNamespaces'), ['user pid net'], "Chromium's sandbox namespaces only");
});

t.test('ip-allow.mjs: the drop-in names the configured servers and the name servers, and systemd takes it', async (t) => {
  const tmp = t.testdir();
  const config = join(tmp, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: '192.0.2.10', port: 8480 },
      management: { port: 8443 },
      paymentTerminal: { transport: 'tcp', host: 'localhost' },
    }),
  );
  const resolv = join(tmp, 'resolv.conf');
  writeFileSync(resolv, 'search example.net\nnameserver 198.51.100.53\nnameserver 2001:db8::53\nnameserver 127.0.0.53\n');
  const r = spawnSync(process.execPath, [join(dir, 'ip-allow.mjs'), config, resolv], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(values(r.stdout, 'IPAddressAllow'), ['192.0.2.10', '198.51.100.53', '2001:db8::53'], 'the server once (management defaults to it), the name servers, never loopback again');
  t.match(r.stdout, /^\[Service\]$/m);

  // A name that does not resolve is reported and left out.
  writeFileSync(config, JSON.stringify({ server: { host: 'no-such-host.invalid', port: 8480 } }));
  const bad = spawnSync(process.execPath, [join(dir, 'ip-allow.mjs'), config, resolv], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /server\.host no-such-host\.invalid does not resolve/);
  t.same(values(bad.stdout, 'IPAddressAllow'), ['198.51.100.53', '2001:db8::53']);

  if (!hasAnalyze) return;
  copyFileSync(join(dir, 'kiosk.service'), join(tmp, 'kiosk.service'));
  mkdirSync(join(tmp, 'kiosk.service.d'));
  writeFileSync(join(tmp, 'kiosk.service.d', 'ip-allow.conf'), r.stdout);
  const verify = spawnSync('systemd-analyze', ['verify', '--man=no', join(tmp, 'kiosk.service')], { encoding: 'utf8' });
  t.same(`${verify.stdout}${verify.stderr}`.split('\n').filter((l) => /kiosk/.test(l)), [], 'systemd-analyze verify takes the drop-in');
  t.ok(security(join(tmp, 'kiosk.service')).score <= 2.5, 'still at most 2.5 with the servers allowed');
});

// The card readers the rules document, by USB ids.
const READERS = [
  ['0801', '0001'],
  ['0801', '0002'],
  ['0801', '0011'],
  ['0acd', '2030'],
];

t.test("udev rules: the card reader's hidraw node is the kiosk's, and the compositor ignores its keyboard", async (t) => {
  const rules = read('99-kiosk.rules')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const end = rules.indexOf('LABEL="kiosk_end"');
  for (const [vendor, product] of READERS) {
    const ids = `ATTRS{idVendor}=="${vendor}", ATTRS{idProduct}=="${product}"`;
    const hidraw = rules.findIndex((l) => l.startsWith(`SUBSYSTEM=="hidraw", ${ids},`));
    t.ok(hidraw >= 0 && hidraw < end, `${vendor}:${product} hidraw line`);
    t.match(rules[hidraw], /SYMLINK\+="kiosk\/card-reader", GROUP="kiosk", MODE="0660", TAG\+="systemd"$/, `${vendor}:${product}: the kiosk user's node`);
    const input = rules.findIndex((l) => l === `SUBSYSTEM=="input", ${ids}, ENV{LIBINPUT_IGNORE_DEVICE}="1"`);
    t.ok(input >= 0 && input < end, `${vendor}:${product}: libinput ignores its input device`);
  }
  t.notMatch(read('99-kiosk.rules'), /GROUP="input"|MODE="06[0-7]6"/, 'no node opened to everyone or to the input group');
});

const root = process.getuid?.() === 0;
const canUdevTest = spawnSync('udevadm', ['--version']).status === 0 && existsSync('/sys/class/tty/tty1');

t.test('udevadm parses the rules without a complaint', { skip: !canUdevTest ? 'udevadm or /sys/class/tty/tty1 missing' : !root ? 'needs root (udevadm reads /run/udev/rules.d)' : false }, async (t) => {
  // udevadm test reads only the system's rule folders: a copy goes into /run/udev/rules.d for the run.
  mkdirSync('/run/udev/rules.d', { recursive: true });
  const probe = (name: string, text: string): string[] => {
    const path = `/run/udev/rules.d/${name}`;
    writeFileSync(path, text);
    try {
      const r = spawnSync('udevadm', ['test', '--action=add', '/sys/class/tty/tty1'], { encoding: 'utf8', cwd: '/' });
      return `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(path));
    } finally {
      rmSync(path, { force: true });
    }
  };
  const name = `99-kiosk-test-${process.pid}.rules`;
  const lines = probe(name, read('99-kiosk.rules'));
  t.ok(lines.some((l) => l.startsWith('Reading rules file:')), 'udevadm read the file');
  // The kiosk group is made by install.sh; a machine without it says so, which is not a fault of the file.
  const complaints = lines.filter((l) => !l.startsWith('Reading rules file:') && !/Unknown group 'kiosk'/.test(l));
  t.same(complaints, [], 'no complaint');
  // The control: a broken line is reported.
  const broken = probe(`99-kiosk-broken-${process.pid}.rules`, 'SUBSYSTEM=="hidraw", ATTRS{idVendor=="0801", GROUP="kiosk"\n');
  t.ok(broken.some((l) => /Invalid/.test(l)), 'a broken line is reported');
});

t.test('install.sh: the screen user is made without the input group, and an existing one leaves it', async (t) => {
  const tmp = t.testdir();
  const fresh = spawnSync('bash', [join(dir, 'install.sh'), '--dry-run', '--screen'], { encoding: 'utf8' });
  t.equal(fresh.status, 0, fresh.stderr);
  t.match(fresh.stdout, /would run: useradd .*--groups video,render --home-dir/);
  t.notMatch(fresh.stdout, /--groups [^ ]*input/);

  // An `id` that knows a kiosk-screen user from an earlier install, in video, render and input.
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'id'),
    ['#!/bin/sh', 'case "$*" in', '  "kiosk-screen") echo "uid=990(kiosk-screen)"; exit 0 ;;', '  "-nG kiosk-screen") echo "kiosk-screen video render input"; exit 0 ;;', 'esac', 'exec /usr/bin/id "$@"', ''].join('\n'),
  );
  chmodSync(join(bin, 'id'), 0o755);
  const earlier = spawnSync('bash', [join(dir, 'install.sh'), '--dry-run', '--screen'], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  t.equal(earlier.status, 0, earlier.stderr);
  t.match(earlier.stdout, /user kiosk-screen exists/);
  t.match(earlier.stdout, /would run: gpasswd --delete kiosk-screen input/);
});
