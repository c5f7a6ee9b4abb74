/**
 * The real CCNET driver against the CCNET emulator on a socat pseudo-terminal pair: the emulator
 * is driven by operator lines as `kiosk-sim device ccnet` would be, the driver as the runtime would
 * drive it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { CcnetValidator } from '../../drivers/ccnet/driver.js';
import { SerialTransport } from '../../drivers/transport/serial.js';
import type { BillAtPowerUp, EscrowDecision, Note } from '../../drivers/types.js';
import { runCcnetDevice } from '../../hw-sim/devices/ccnet/console.js';
import type { CcnetTiming } from '../../hw-sim/devices/ccnet/emulator.js';

const ALL = [100, 500, 1000, 2000, 5000, 10000];

async function until(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface World {
  driver: CcnetValidator;
  /** Types one operator line into the emulator's console. */
  operator(line: string): void;
  /** Everything the emulator printed so far. */
  printed(): string;
  /** Waits for the emulator to print a line containing `text` after the mark taken by the caller. */
  printedSince(mark: number, text: string): Promise<void>;
  logs: { level: string; msg: string }[];
  escrowed: Note[];
  credited: (Note | null)[];
  returned: (Note | null)[];
  powerUps: BillAtPowerUp[];
  /** How the next escrow is decided; by default at once, 'stack'. */
  decide: (note: Note) => Promise<EscrowDecision> | EscrowDecision;
}

async function world(t: Test, timing: Partial<CcnetTiming> = {}): Promise<World> {
  const dir = t.testdir({});
  const devicePath = join(dir, 'dev');
  const hostPath = join(dir, 'host');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    socat.kill();
  });
  await until('socat links', () => existsSync(devicePath) && existsSync(hostPath));

  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  const device = await runCcnetDevice({
    port: devicePath,
    input,
    output,
    timing: { acceptingMs: 50, stackingMs: 100, stackedMs: 50, returningMs: 100, ...timing },
  });
  t.teardown(() => device.stop());

  const logs: { level: string; msg: string }[] = [];
  const driver = new CcnetValidator({
    transport: new SerialTransport({ path: hostPath, baudRate: 9600 }),
    pollIntervalMs: 20,
    replyTimeoutMs: 400,
    holdIntervalMs: 300,
    reconnect: { initialMs: 100, maxMs: 400 },
    log: (level, msg) => logs.push({ level, msg }),
  });
  const w: World = {
    driver,
    operator: (line) => input.write(`${line}\n`),
    printed: () => printed,
    printedSince: (mark, text) => until(`the emulator to print "${text}"`, () => printed.slice(mark).includes(text)),
    logs,
    escrowed: [],
    credited: [],
    returned: [],
    powerUps: [],
    decide: () => 'stack',
  };
  driver.setHooks({
    escrow: (note) => {
      w.escrowed.push(note);
      return w.decide(note);
    },
    credited: (note) => void w.credited.push(note),
  });
  driver.on('returned', (note) => w.returned.push(note));
  driver.on('power-up', ({ bill }) => w.powerUps.push(bill));
  t.teardown(() => driver.close());
  await driver.open();
  return w;
}

t.test('insert → escrow → stack → credited; return; a NAK and the command sent again', async (t) => {
  const w = await world(t);
  t.same(w.powerUps, ['none'], 'the emulator starts in power up');
  t.same(w.driver.identity(), { kind: 'bill-validator', model: 'CashCode CCNET', version: 'SM-CN1301', serial: '41K000123456' });
  t.same(w.driver.denominations().map((n) => n.value), ALL);
  await w.driver.enable(ALL);

  let mark = w.printed().length;
  w.operator('insert 5000');
  await w.printedSince(mark, 'stacked 5000 fen');
  await until('credited', () => w.credited.length === 1);
  t.same(w.escrowed, [{ value: 5000, currency: 'CNY', code: 4 }]);
  t.same(w.credited, [{ value: 5000, currency: 'CNY', code: 4 }]);
  await w.printedSince(mark, 'idling');

  w.decide = () => 'return';
  mark = w.printed().length;
  w.operator('insert 10000');
  await w.printedSince(mark, 'returned 10000 fen');
  await until('returned event', () => w.returned.length === 1);
  t.same(w.returned, [{ value: 10000, currency: 'CNY', code: 5 }]);
  t.equal(w.credited.length, 1, 'a returned note is not credited');

  mark = w.printed().length;
  w.operator('nak-next');
  await w.printedSince(mark, 'nak-next: answered NAK to command');
  await until('the driver sent it again', () => w.logs.some((l) => /device answered NAK; command sent again/.test(l.msg)));
  t.equal(w.driver.status().health, 'ok', 'one NAK does not make the device silent');

  w.decide = () => 'stack';
  mark = w.printed().length;
  w.operator('insert 100');
  await w.printedSince(mark, 'stacked 100 fen');
  mark = w.printed().length;
  w.operator('status');
  await w.printedSince(mark, 'cash box: 100x1, 5000x1 (total 5100 fen)');
});

t.test('HOLD keeps the note while the escrow hook is pending', async (t) => {
  const w = await world(t, { escrowMs: 1500 });
  await w.driver.enable(ALL);
  let release!: (d: EscrowDecision) => void;
  w.decide = () => new Promise((r) => (release = r));
  const mark = w.printed().length;
  w.operator('insert 2000');
  await until('escrow hook', () => w.escrowed.length === 1);
  await w.printedSince(mark, 'holding 2000 fen');
  // Twice the emulator's escrow time: only the HOLDs keep the note.
  await new Promise((r) => setTimeout(r, 3000));
  t.notOk(w.printed().slice(mark).includes('escrow time-out'), 'never given back while we decide');
  release('stack');
  await w.printedSince(mark, 'stacked 2000 fen');
  await until('credited', () => w.credited.length === 1);
  t.same(w.credited.map((n) => n?.value), [2000]);
});

t.test('jam and stacker-full are faults; clear brings the validator back accepting', async (t) => {
  const w = await world(t);
  await w.driver.enable(ALL);

  w.operator('jam');
  await until('jam fault', () => w.driver.status().code === 'jam-acceptor');
  t.equal(w.driver.status().health, 'fault');
  w.operator('clear');
  await until('ok', () => w.driver.status().health === 'ok');

  w.operator('stacker-full');
  await until('stacker-full fault', () => w.driver.status().code === 'stacker-full');
  w.operator('clear');
  await until('ok', () => w.driver.status().health === 'ok');

  const mark = w.printed().length;
  w.operator('insert 1000');
  await w.printedSince(mark, 'stacked 1000 fen');
  await until('credited', () => w.credited.length === 1);
  t.same(w.credited.map((n) => n?.value), [1000]);
});

t.test('power-cycle-with-bill: a note in the validator is returned, one in the stacker is stacked', async (t) => {
  const w = await world(t, { stackingMs: 3000 });
  await w.driver.enable(ALL);

  let release!: (d: EscrowDecision) => void;
  w.decide = () => new Promise((r) => (release = r));
  let mark = w.printed().length;
  w.operator('insert 2000');
  await until('escrow hook', () => w.escrowed.length === 1);
  w.operator('power-cycle-with-bill');
  await w.printedSince(mark, 'power up with the 2000 fen note in the validator (0x11)');
  await until('power-up reported', () => w.powerUps.includes('acceptor'));
  await w.printedSince(mark, 'returned 2000 fen (reset)');
  await w.printedSince(mark, 'host: enable bill types 00003F');
  release('stack');

  w.decide = () => 'stack';
  mark = w.printed().length;
  w.operator('insert 5000');
  await w.printedSince(mark, 'stacking 5000 fen');
  w.operator('power-cycle-with-bill');
  await w.printedSince(mark, 'power up with the 5000 fen note in the stacker (0x12)');
  await until('power-up reported', () => w.powerUps.includes('stacker'));
  await w.printedSince(mark, 'stacked 5000 fen (reset completed the stack');
  t.same(w.credited, [], 'the driver credits nothing itself: the runtime decides from the power-up report');
  t.same(w.powerUps, ['none', 'acceptor', 'stacker']);
});
