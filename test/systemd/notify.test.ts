import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { SystemdNotifier } from '../../src/runtime/sd-notify.js';

const missing = ['systemd-notify', 'socat'].filter((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0);
const skip = missing.length > 0 ? `missing: ${missing.join(', ')} (Debian packages systemd and socat)` : false;

/**
 * A stand-in for systemd's notification socket: socat receives the datagrams and prints them.
 * Datagrams come out back to back with no separator, so the tests look for the assignments in the
 * text rather than splitting it into messages.
 */
async function fakeNotifySocket(t: Test): Promise<{ path: string; text: () => string; until: (what: string, pred: (s: string) => boolean) => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-notify-'));
  const path = join(dir, 'notify.sock');
  const socat = spawn('socat', ['-u', `UNIX-RECV:${path},unlink-early`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  const waiters: { pred: (s: string) => boolean; resolve: () => void }[] = [];
  socat.stdout.setEncoding('utf8');
  socat.stdout.on('data', (chunk: string) => {
    text += chunk;
    for (const w of waiters.splice(0)) {
      if (w.pred(text)) w.resolve();
      else waiters.push(w);
    }
  });
  t.teardown(() => {
    socat.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 25));
  if (!existsSync(path)) throw new Error('socat did not create the notification socket');
  return {
    path,
    text: () => text,
    until: (what, pred) =>
      new Promise<void>((resolve, reject) => {
        if (pred(text)) return resolve();
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(text)}`)), 15_000);
        waiters.push({
          pred,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
  };
}

const count = (text: string, what: string) => text.split(what).length - 1;

t.test('SystemdNotifier against a fake NOTIFY_SOCKET', { skip }, async (t) => {
  t.test('READY=1 arrives with its STATUS', async (t) => {
    const sock = await fakeNotifySocket(t);
    const n = new SystemdNotifier({ ...process.env, NOTIFY_SOCKET: sock.path });
    t.ok(n.enabled);
    n.ready('terminal in service');
    await sock.until('READY=1 and its status', (s) => s.includes('READY=1') && s.includes('STATUS=terminal in service'));
    t.match(sock.text(), new RegExp(`MAINPID=${process.pid}(?!\\d)`), 'names the main process, not systemd-notify');
  });

  t.test('WATCHDOG=1 pings keep coming at half of WATCHDOG_USEC while healthy', async (t) => {
    const sock = await fakeNotifySocket(t);
    // 2 s asked for: a ping every second.
    const n = new SystemdNotifier({ ...process.env, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '2000000' });
    t.teardown(() => n.stop());
    n.startWatchdog(() => true);
    await sock.until('two watchdog pings', (s) => count(s, 'WATCHDOG=1') >= 2);
    t.ok(count(sock.text(), 'WATCHDOG=1') >= 2);
  });

  t.test('no ping while the runtime says it is unhealthy', async (t) => {
    const sock = await fakeNotifySocket(t);
    const n = new SystemdNotifier({ ...process.env, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '2000000' });
    t.teardown(() => n.stop());
    let asked = 0;
    await new Promise<void>((resolve) =>
      n.startWatchdog(() => {
        if (++asked === 2) resolve();
        return false;
      }),
    );
    // A message sent after the timer fired twice; once it is here, a ping would have been too.
    n.status('marker');
    await sock.until('the marker', (s) => s.includes('STATUS=marker'));
    t.equal(count(sock.text(), 'WATCHDOG=1'), 0);
  });

  t.test('nothing is sent without NOTIFY_SOCKET', async (t) => {
    // A systemd-notify that records each call, first in PATH, stands in for the real one.
    const dir = mkdtempSync(join(tmpdir(), 'kiosk-notify-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const calls = join(dir, 'calls');
    writeFileSync(join(dir, 'systemd-notify'), `#!/bin/sh\necho "socket=$NOTIFY_SOCKET $*" >> '${calls}'\n`);
    chmodSync(join(dir, 'systemd-notify'), 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, WATCHDOG_USEC: '2000000' };
    delete env.NOTIFY_SOCKET;

    const off = new SystemdNotifier(env);
    t.notOk(off.enabled);
    off.ready('terminal in service');
    off.status('degraded');
    off.startWatchdog(() => true);
    off.stop();

    // The same stand-in with a socket set: once its call is recorded, any earlier one would be too.
    const on = new SystemdNotifier({ ...env, NOTIFY_SOCKET: '/nonexistent/notify.sock' });
    on.status('control');
    const recorded = () => (existsSync(calls) ? readFileSync(calls, 'utf8') : '');
    for (let i = 0; i < 400 && !recorded().includes('control'); i++) await new Promise((r) => setTimeout(r, 25));
    const lines = recorded().trim().split('\n');
    t.same(lines, [`socket=/nonexistent/notify.sock --pid=${process.pid} --status=control`]);
  });
  t.end();
});

t.test('kiosk run under a fake NOTIFY_SOCKET: READY only once the terminal is in service', { skip }, async (t) => {
  const sock = await fakeNotifySocket(t);
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-notify-run-'));
  let inServiceAt: number | undefined;
  const logs: string[] = [];
  const stack = new SimStack({
    dir,
    onRuntimeLog: (e) => {
      logs.push(String(e.msg));
      if (e.msg === 'terminal in service' && inServiceAt === undefined) inServiceAt = Date.parse(String(e.time));
    },
  });
  t.teardown(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await stack.start();
  await stack.startRuntime({ NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '2000000' });
  await sock.until('READY=1', (s) => s.includes('READY=1'));
  const readyAt = Date.now();
  // The log line travels through another pipe and may be read a moment after the datagram.
  for (let i = 0; i < 200 && inServiceAt === undefined; i++) await new Promise((r) => setTimeout(r, 25));

  t.ok(inServiceAt !== undefined, '"terminal in service" was logged');
  // The log line's own time stamp is taken before systemd-notify is even spawned, so it is never
  // later than the moment the datagram was read here.
  t.ok(inServiceAt! <= readyAt, 'READY came after "terminal in service"');
  t.match(sock.text(), /READY=1\nSTATUS=terminal in service\n/, 'READY carries the state reached');
  t.equal(count(sock.text(), 'READY=1'), 1, 'READY is sent once');
  t.ok(logs.indexOf('terminal in service') > logs.findIndex((m) => /^terminal (recovering|selfTest)$/.test(m)), 'recovery and self-test came first');

  await sock.until('two watchdog pings from the runtime', (s) => count(s, 'WATCHDOG=1') >= 2);
  t.pass('the running runtime pings the watchdog');

});
