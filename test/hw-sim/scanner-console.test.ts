/**
 * `kiosk-sim device scanner` started standalone, as an engineer would (dist/hw-sim/cli.js), read by
 * the product's drivers: keyboard mode on a socket, serial mode on a socat pty; and the emulator's
 * own wire encoder against hand-written vectors.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { createScanner } from '../../drivers/registry.js';
import { CommandReader, serialCode, typedReports } from '../../hw-sim/devices/scanner/wire.js';
import { ptyPair, shortDir, until, watch } from '../scanner/rig.js';

function emulator(t: Test, args: string[]) {
  const child = spawn(process.execPath, ['dist/hw-sim/cli.js', 'device', 'scanner', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  return { lines, type: (l: string) => child.stdin!.write(`${l}\n`), exited, stderr: () => stderr };
}

t.test('the emulator encodes as the specifications say', async (t) => {
  // "13" then Enter: key 1 (0x1E), release, key 3 (0x20), release, Enter (0x28), release.
  t.same(
    typedReports('13').map((r) => [...r]),
    [
      [0, 0, 0x1e, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0x20, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0x28, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
    ],
  );
  t.same([...typedReports('A', false)[0]!], [0x02, 0, 0x04, 0, 0, 0, 0, 0], 'a capital with left shift, no Enter for a cut read');
  t.same([...serialCode('62')], [0x36, 0x32, 0x0d, 0x0a]);
  const r = new CommandReader();
  t.same(r.push(Uint8Array.from([0x16, 0x54, 0x0d, 0x00, 0x16, 0x55])), ['on']);
  t.same(r.push(Uint8Array.from([0x0d, 0x16, 0x16, 0x54, 0x0d, 0x16, 0x58, 0x0d])), ['off', 'on'], 'split, doubled SYN, unknown letter skipped');
});

t.test('keyboard mode, standalone: the product driver reads its codes from the socket', async (t) => {
  const dir = shortDir(t);
  const socket = join(dir, 's.sock');
  const e = emulator(t, ['--mode', 'keyboard', '--socket', socket]);
  await until(() => e.lines.some((l) => l.startsWith('2D code scanner emulator (keyboard)')), 'the banner', 30_000);
  const scanner = await createScanner('hid-keyboard', { device: `socket:${socket}` });
  t.teardown(() => scanner.close());
  const seen = watch(scanner);
  await scanner.open();
  await scanner.enable();
  await until(() => e.lines.includes('kiosk connected'), 'connected');
  e.type('show paid-after-confirm/alipay');
  await until(() => seen.codes.length === 1, 'the code');
  t.match(seen.codes[0]!.text, /^2801\d{14}$/);
  e.type('help');
  await until(() => e.lines.some((l) => l.includes('show [CODE]')), 'help');
  e.type('show nonsense');
  await until(() => e.lines.some((l) => l.startsWith('error: show: unknown behaviour')), 'a clear error');
  e.type('status');
  await until(() => e.lines.some((l) => /keyboard mode on .*; kiosk connected; shown 1, sent 1/.test(l)), 'status');
  t.notOk(e.lines.some((l) => l.includes(seen.codes[0]!.text)), 'its lines never show the whole code');
});

t.test('serial mode, standalone: answers the trigger commands and sends the code with CR LF', async (t) => {
  const dir = shortDir(t);
  const pty = await ptyPair(join(dir, 'dev'), join(dir, 'host'));
  t.teardown(() => pty.kill());
  const e = emulator(t, ['--mode', 'serial', '--port', join(dir, 'dev')]);
  await until(() => e.lines.some((l) => l.startsWith('2D code scanner emulator (serial)')), 'the banner', 30_000);
  const scanner = await createScanner('serial', { device: join(dir, 'host'), ack: true });
  t.teardown(() => scanner.close());
  const seen = watch(scanner);
  await scanner.open();
  await scanner.enable();
  t.ok(e.lines.includes('host: stop reading (ACK)') && e.lines.includes('host: start reading (ACK)'), 'both commands answered');
  e.type('show failed-insufficient-balance/unionpay');
  await until(() => seen.codes.length === 1, 'the code');
  t.match(seen.codes[0]!.text, /^6202\d{14}$/);
});

t.test('a wrong command line is refused with the reason', async (t) => {
  const e = emulator(t, ['--mode', 'serial']);
  t.not(await e.exited, 0);
  t.match(e.stderr(), /serial mode needs --port PATH/);
});
