/**
 * The serial scanner driver against the scanner emulator over real ptys (socat): the trigger
 * commands, the gate, bad scans, the answers and their absence, and a pulled cable.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { SerialScanner } from '../../drivers/scanner/serial.js';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { memoryPair } from '../../drivers/transport/memory.js';
import { runScannerDevice, type ScannerDevice } from '../../hw-sim/devices/scanner/console.js';
import type { CommandHandling } from '../../hw-sim/devices/scanner/emulator.js';
import { TEST_WALLETS } from '../../hw-sim/wallet-codes.js';
import { logInto, ptyPair, shortDir, until, watch } from './rig.js';

interface Rig {
  scanner: SerialScanner;
  device: ScannerDevice;
  type(line: string): void;
  printed: string[];
  seen: ReturnType<typeof watch>;
  heard: string[];
  pull(): Promise<void>;
  plugBack(): Promise<void>;
}

async function rig(t: Test, commands: CommandHandling = 'answer', ack = true): Promise<Rig> {
  const dir = shortDir(t);
  const devicePath = join(dir, 'dev');
  const hostPath = join(dir, 'host');
  let pty = await ptyPair(devicePath, hostPath);
  const printed: string[] = [];
  const heard: string[] = [];
  let input = new PassThrough();
  const start = async () => {
    input = new PassThrough();
    const output = new PassThrough();
    output.on('data', (c: Buffer) => printed.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const device = await runScannerDevice({ mode: 'serial', port: devicePath, commands, input, output });
    device.emulator.on('command', (c) => heard.push(c));
    return device;
  };
  const r: Rig = {
    device: await start(),
    scanner: undefined as unknown as SerialScanner,
    type: (line) => input.write(`${line}\n`),
    printed,
    heard,
    seen: undefined as unknown as ReturnType<typeof watch>,
    pull: async () => {
      await r.device.stop();
      await pty.kill();
    },
    plugBack: async () => {
      pty = await ptyPair(devicePath, hostPath);
      r.device = await start();
    },
  };
  const logs: string[] = [];
  r.scanner = new SerialScanner({
    model: 'serial',
    transport: new SerialTransport({ path: hostPath, baudRate: 9600 }),
    ack,
    ackTimeoutMs: 300,
    partialTimeoutMs: 400,
    checkIntervalMs: 50,
    reconnect: { initialMs: 50, maxMs: 200 },
    log: logInto(logs),
  });
  r.seen = watch(r.scanner, logs);
  t.teardown(async () => {
    await r.scanner.close();
    await r.device.stop();
    await pty.kill();
  });
  return r;
}

const noCodeIn = (t: Test, r: Rig) => {
  for (const c of r.seen.codes) {
    t.notOk(r.seen.logs.some((l) => l.includes(c.text)), `no log line holds code ${c.masked}`);
    t.notOk(r.printed.some((l) => l.includes(c.text)), `no emulator line holds code ${c.masked}`);
  }
};

t.test('enabled, a shown code is read once, masked, and consumed whole; the scanner is off at start and re-triggered after each read', async (t) => {
  const r = await rig(t);
  await r.scanner.open();
  t.same(r.heard, ['off'], 'SYN U CR at start-up: not reading');
  t.equal(r.scanner.status().health, 'ok');
  await r.scanner.enable();
  t.same(r.heard, ['off', 'on'], 'SYN T CR on enable');
  r.type('show paid/alipay');
  await until(() => r.seen.codes.length === 1, 'the code');
  const [c] = r.seen.codes;
  t.equal(c!.length, 18);
  t.match(c!.text, /^2800\d{14}$/, 'the whole code reaches the consumer');
  t.equal(c!.masked, `28${'*'.repeat(12)}${c!.text.slice(-4)}`);
  t.ok(c!.read.sensitive.wiped, 'wiped after use');
  await until(() => r.heard.length === 3, 'the re-trigger');
  t.same(r.heard, ['off', 'on', 'on'], 'triggered again after the read, since a code is still wanted');
  r.type('twice paid-after-confirm/unionpay');
  await until(() => r.seen.codes.length === 3, 'the code read twice');
  t.equal(r.seen.codes[1]!.text, r.seen.codes[2]!.text, 'the same code twice, both reported (the flow decides)');
  t.match(r.seen.codes[1]!.text, new RegExp(`^${TEST_WALLETS.unionpay}01`));
  await r.scanner.disable();
  t.equal(r.heard.at(-1), 'off', 'SYN U CR on disable');
  t.same(r.seen.statuses.map((s) => s.code), ['ok'], 'one status however many commands: each would be a journal row');
  noCodeIn(t, r);
});

t.test('bad scans are reported without the code: a misread, a partial read, a code too long', async (t) => {
  const r = await rig(t);
  await r.scanner.open();
  await r.scanner.enable();
  r.type('garbage');
  await until(() => r.seen.bad.length === 1, 'the misread');
  t.equal(r.seen.bad[0]!.reason, 'bad-character');
  r.type('partial failed-code-expired');
  await until(() => r.seen.bad.length === 2, 'the partial read');
  t.equal(r.seen.bad[1]!.reason, 'partial');
  t.match(r.seen.bad[1]!.detail, /^\d characters and no end of code within 400 ms$/, 'a count, never the characters');
  r.type('long');
  await until(() => r.seen.bad.length === 3, 'the long code');
  t.equal(r.seen.bad[2]!.reason, 'too-long');
  t.equal(r.seen.codes.length, 0, 'no code from any of them');
  r.type('show');
  await until(() => r.seen.codes.length === 1, 'a good code after the bad ones');
});

t.test('a scanner that ignores the commands still reports nothing while disabled: the driver drops and zeroes the code', async (t) => {
  const r = await rig(t, 'ignore', false);
  await r.scanner.open();
  r.type('show');
  await until(() => r.printed.some((l) => / sent$/.test(l)), 'the emulator sent it');
  await until(() => r.seen.logs.some((l) => l.includes('code while not enabled, dropped')), 'the drop');
  t.equal(r.seen.codes.length, 0, 'not reported');
  t.match(r.seen.logs.find((l) => l.includes('dropped')), /\{"length":18\}$/, 'the log says only its length');
  await r.scanner.enable();
  r.type('show');
  await until(() => r.seen.codes.length === 1, 'read once enabled');
});

t.test('a scanner set to answer that does not: enable() rejects and the scanner is a fault until it answers again', async (t) => {
  const r = await rig(t, 'silent', true);
  await t.rejects(r.scanner.open(), /no answer to "stop reading"/);
  await until(() => r.scanner.status().code === 'no-answer', 'the fault');
  r.type('commands answer');
  await until(() => r.scanner.status().health === 'ok', 'back once it answers (the loop starts it up again)');
  await r.scanner.enable();
  r.type('commands silent');
  await until(() => r.printed.some((l) => l === 'commands: silent'), 'the emulator changed');
  await t.rejects(r.scanner.enable(), /no answer to "start reading" within 300 ms/);
  t.equal(r.scanner.status().health, 'fault');
  r.type('commands answer');
  await until(() => r.scanner.status().health === 'ok', 'ok again once it answers, with no enable or disable meanwhile');
  t.equal(r.heard.at(-1), 'on', 'asked again for what the kiosk wants: reading');
  await r.scanner.disable();
  t.equal(r.scanner.status().health, 'ok');
  t.equal(r.seen.bad.length, 0);
});

t.test('a code shown while the scanner is not reading is not read; one held under it is read when it is enabled', async (t) => {
  const r = await rig(t);
  await r.scanner.open();
  r.type('show');
  await until(() => r.printed.some((l) => /held under the scanner/.test(l)), 'held');
  await r.scanner.enable();
  await until(() => r.seen.codes.length === 1, 'read once triggered');
});

t.test('the cable pulled: offline, then back with the same gate after the back-off', async (t) => {
  const r = await rig(t);
  await r.scanner.open();
  await r.scanner.enable();
  await r.pull();
  await until(() => r.scanner.status().health === 'offline', 'offline');
  t.equal(r.scanner.status().code, 'no-device');
  await r.plugBack();
  await until(() => r.scanner.status().health === 'ok', 'back');
  await until(() => r.heard.includes('on'), 'the new scanner is triggered, since a code is still wanted');
  r.type('show');
  await until(() => r.seen.codes.length === 1, 'a code after the replug');
});

t.test('an ACK that comes right after a read cut short answers the command, and the cut read is still a bad scan', async (t) => {
  // Deterministic over an in-memory line: the scanner sends half a code, then answers the trigger.
  const [host, device] = memoryPair('scanner');
  await device.open();
  device.on('data', (chunk: Buffer) => {
    if (chunk.includes(0x16)) void device.write(Uint8Array.of(0x06));
  });
  const logs: string[] = [];
  const scanner = new SerialScanner({ model: 'serial', transport: host, ack: true, ackTimeoutMs: 300, partialTimeoutMs: 200, log: logInto(logs) });
  t.teardown(() => scanner.close());
  const seen = watch(scanner, logs);
  await scanner.open();
  await scanner.enable();
  await device.write(Buffer.from('130012345'));
  await new Promise((r) => setTimeout(r, 20));
  await scanner.disable().then(() => scanner.enable());
  t.equal(scanner.status().health, 'ok', 'the answers were taken as answers');
  await device.write(Buffer.from('280012345'));
  await scanner.enable();
  await until(() => seen.bad.length === 1, 'the cut read');
  t.match(seen.bad[0], { reason: 'partial', detail: /^9 characters/ }, 'the ACK is not part of the cut read');
  t.equal(scanner.status().health, 'ok');
});

t.test('a line that stops taking bytes does not hold the driver: pulled while the scanner was a fault, it goes offline', async (t) => {
  const [host, device] = memoryPair('scanner');
  await device.open();
  let hung = false;
  const write = host.write.bind(host);
  // After the pull, a write on this line never completes, as serialport's may not on a vanished port.
  host.write = (bytes) => (hung ? new Promise<void>(() => undefined) : write(bytes));
  let answers = 1;
  device.on('data', () => {
    if (answers-- > 0) void device.write(Uint8Array.of(0x06));
  });
  const scanner = new SerialScanner({ model: 'serial', transport: host, ack: true, ackTimeoutMs: 100, checkIntervalMs: 20, reconnect: { initialMs: 20, maxMs: 50 } });
  t.teardown(() => scanner.close());
  await scanner.open();
  await t.rejects(scanner.enable(), /no answer/, 'the scanner stops answering');
  t.equal(scanner.status().health, 'fault', 'a fault, which the loop asks about again');
  hung = true;
  await new Promise((r) => setTimeout(r, 150));
  await host.close();
  await until(() => scanner.status().health === 'offline', 'offline after the pull', 5_000);
  t.equal(scanner.status().code, 'no-device');
});
