/**
 * The HID keyboard-mode scanner driver: over an in-memory source for the report-level cases, and
 * against the scanner emulator's unix socket (the stand-in the card reader's emulator uses), as the
 * kiosk reads it in a separate process.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { HidKeyboardScanner } from '../../drivers/scanner/hid-keyboard.js';
import { createScanner } from '../../drivers/registry.js';
import { MemoryHidSource } from '../../drivers/transport/hid-memory.js';
import { runScannerDevice, type ScannerDevice } from '../../hw-sim/devices/scanner/console.js';
import { TEST_WALLETS } from '../../hw-sim/wallet-codes.js';
import { logInto, shortDir, until, watch } from './rig.js';

async function emulated(t: Test) {
  const dir = shortDir(t);
  const socket = join(dir, 'scanner.sock');
  const input = new PassThrough();
  const output = new PassThrough();
  const printed: string[] = [];
  output.on('data', (c: Buffer) => printed.push(...c.toString('utf8').split('\n').filter(Boolean)));
  let device: ScannerDevice = await runScannerDevice({ mode: 'keyboard', socket, input, output });
  const logs: string[] = [];
  const scanner = await createScanner('hid-keyboard', { device: `socket:${socket}`, partialTimeoutMs: 400, log: logInto(logs) });
  const seen = watch(scanner, logs);
  t.teardown(async () => {
    await scanner.close();
    await device.stop();
  });
  return {
    scanner,
    seen,
    printed,
    type: (line: string) => input.write(`${line}\n`),
    restart: async () => {
      await device.stop();
      device = await runScannerDevice({ mode: 'keyboard', socket, input, output });
    },
    stop: () => device.stop(),
  };
}

t.test('through the emulator: a code of each wallet, read only while enabled, never in a log or an emulator line', async (t) => {
  const r = await emulated(t);
  await r.scanner.open();
  t.equal(r.scanner.status().health, 'ok');
  t.equal(r.scanner.capabilities.commands, false, 'keyboard mode takes no commands: the driver gates');
  r.type('show');
  await until(() => r.seen.logs.some((l) => l.includes('code while not enabled, dropped')), 'the drop while disabled');
  t.equal(r.seen.codes.length, 0);
  await r.scanner.enable();
  for (const wallet of ['wechat', 'alipay', 'unionpay'] as const) r.type(`show paid/${wallet}`);
  r.type('unknown');
  await until(() => r.seen.codes.length === 4, 'four codes');
  t.same(
    r.seen.codes.map((c) => c.text.slice(0, 2)),
    [TEST_WALLETS.wechat, TEST_WALLETS.alipay, TEST_WALLETS.unionpay, TEST_WALLETS.unknown],
  );
  for (const c of r.seen.codes) {
    t.equal(c.length, 18);
    t.ok(c.read.sensitive.wiped);
    t.notOk([...r.seen.logs, ...r.printed].some((l) => l.includes(c.text)), `code ${c.masked} is in no line`);
  }
  r.type('twice failed-code-used');
  await until(() => r.seen.codes.length === 6, 'the code twice');
  t.equal(r.seen.codes[4]!.text, r.seen.codes[5]!.text);
  await r.scanner.disable();
  r.type('show');
  await until(() => r.seen.logs.filter((l) => l.includes('dropped')).length === 2, 'dropped again after disable');
  t.equal(r.seen.codes.length, 6);
});

t.test('through the emulator: garbage, a partial read and a code too long are bad scans without content', async (t) => {
  const r = await emulated(t);
  await r.scanner.open();
  await r.scanner.enable();
  r.type('garbage');
  await until(() => r.seen.bad.length === 1, 'garbage');
  t.equal(r.seen.bad[0]!.reason, 'bad-character');
  r.type('partial');
  await until(() => r.seen.bad.length === 2, 'partial');
  t.match(r.seen.bad[1], { reason: 'partial', detail: /^\d characters and no end of code within 400 ms$/ }, 'a count, never the characters');
  r.type('long');
  await until(() => r.seen.bad.length === 3, 'long');
  t.equal(r.seen.bad[2]!.reason, 'too-long');
  t.equal(r.seen.codes.length, 0);
});

t.test('through the emulator: unplugged, offline; the emulator back, the scanner back', async (t) => {
  const r = await emulated(t);
  await r.scanner.open();
  await r.scanner.enable();
  await r.stop();
  await until(() => r.scanner.status().health === 'offline', 'offline');
  t.equal(r.scanner.status().code, 'no-device');
  await r.restart();
  await until(() => r.scanner.status().health === 'ok', 'back', 30_000);
  await until(() => r.printed.includes('kiosk connected'), 'connected');
  r.type('show');
  await until(() => r.seen.codes.length === 1, 'a code after the replug, still enabled');
});

t.test('reports: a two-character code shows nothing in its mask; the decoder keeps nothing after a code', async (t) => {
  const source = new MemoryHidSource();
  const scanner = new HidKeyboardScanner({ model: 'hid-keyboard', source, partialTimeoutMs: 100 });
  t.teardown(() => scanner.close());
  await scanner.open();
  await scanner.enable();
  const reads: import('../../drivers/scanner/contract.js').CodeRead[] = [];
  scanner.on('code', (r) => reads.push(r));
  const key = (u: number) => [Uint8Array.from([0, 0, u, 0, 0, 0, 0, 0]), new Uint8Array(8)];
  // "62" then Enter: 6 is usage 0x23, 2 is 0x1F.
  const reports = [...key(0x23), ...key(0x1f), ...key(0x28)];
  await source.push(...reports);
  t.equal(reads.length, 1);
  t.equal(reads[0]!.masked, '**', 'two characters: nothing shown');
  t.equal(await reads[0]!.sensitive.consume((b) => b.toString()), '62');
  scanner.removeAllListeners('code');
  await source.push(...reports);
  const internals = scanner as unknown as { keyboard: { entry: { buffer: Buffer } } };
  t.ok(internals.keyboard.entry.buffer.every((b) => b === 0), 'nothing left in the decoder');
});
