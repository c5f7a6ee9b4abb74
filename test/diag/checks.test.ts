// The checks against scripted stand-ins for the device contracts: the paths an emulator does not
// reach easily (a device that never answers at all, a short payout, a note stacked meanwhile).
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import t from 'tap';
import type {
  BillValidator,
  BillValidatorEvents,
  BillValidatorHooks,
  CoinHopper,
  DeviceEvents,
  DeviceStatus,
  HopperStatus,
  Note,
  Printer,
  Receipt,
} from '../../drivers/types.js';
import { PrinterError } from '../../drivers/types.js';
import { parseConfig } from '../../src/config/load.js';
import { checkBillValidator, checkHopper, checkPrinter, money, testPage, type DeviceReport } from '../../src/diag/checks.js';
import { runDiag } from '../../src/diag/run.js';

const OK: DeviceStatus = { health: 'ok', code: 'ready', detail: 'answering' };
const never = () => new Promise<never>(() => undefined);

class FakeHopper extends EventEmitter<DeviceEvents> implements CoinHopper {
  readonly kind = 'coin-hopper' as const;
  readonly coinValue = 100;
  readonly name = 'h100';
  current: DeviceStatus = OK;
  closed = 0;
  dispensed: number[] = [];
  open: () => Promise<void> = async () => undefined;
  payout = { paid: 1, unpaid: 0 };
  flags: string[] = [];
  async close() {
    this.closed++;
  }
  status() {
    return this.current;
  }
  identity() {
    return { kind: 'coin-hopper' as const, model: 'fake hopper', serial: '42' };
  }
  async readStatus(): Promise<HopperStatus> {
    return { event: 7, remaining: 0, paid: 0, unpaid: 0 };
  }
  async dispense(count: number) {
    this.dispensed.push(count);
    return { event: 8 };
  }
  async awaitPayout() {
    return this.payout;
  }
  async emergencyStop() {
    return 0;
  }
  async selfTest() {
    return this.flags;
  }
}

function step(report: DeviceReport, name: string) {
  const s = report.steps.find((x) => x.name === name);
  if (!s) throw new Error(`no step ${name}`);
  return s;
}

t.test('a device that never answers fails at the time-out, the rest is skipped, and it is closed', async (t) => {
  const hopper = new FakeHopper();
  hopper.open = never;
  hopper.current = { health: 'offline', code: 'no-answer', detail: 'no reply' };
  const seen: string[] = [];
  const report = await checkHopper(hopper, { name: 'h100', port: '/dev/x', timeoutMs: 50, onStep: (p) => seen.push(`${p.index}/${p.total} ${p.step}`) });
  t.notOk(report.ok);
  t.equal(step(report, 'open').outcome, 'failed');
  t.match(step(report, 'open').detail, /^no answer within 0\.1 s/);
  for (const name of ['identity', 'self-test', 'counters', 'payout of one coin', 'health']) {
    t.same(step(report, name), { name, outcome: 'skipped', detail: 'the check ran out of time', ms: 0 });
  }
  t.equal(hopper.closed, 1);
  t.equal(step(report, 'close').outcome, 'ok');
  t.same(seen, ['1/7 open', '7/7 close'], 'progress named the step it was on');
});

t.test('a hopper pays only with payout asked, and a short payout fails', async (t) => {
  const hopper = new FakeHopper();
  const plain = await checkHopper(hopper, { name: 'h100', port: '/dev/x' });
  t.ok(plain.ok);
  t.equal(step(plain, 'payout of one coin').outcome, 'skipped');
  t.same(hopper.dispensed, [], 'no dispense without --payout');
  t.same(plain.facts, { serial: '42', flags: [], event: 7, remaining: 0, paid: 0, unpaid: 0 });

  hopper.payout = { paid: 0, unpaid: 1 };
  const short = await checkHopper(hopper, { name: 'h100', port: '/dev/x', payout: true });
  t.same(hopper.dispensed, [1], 'exactly one coin asked');
  t.notOk(short.ok);
  t.match(step(short, 'payout of one coin').detail, /0 paid, 1 unpaid/);
});

t.test('self-test flags that the driver turns into a fault fail the step', async (t) => {
  const hopper = new FakeHopper();
  hopper.flags = ['opto path blocked during idle'];
  hopper.selfTest = async () => {
    hopper.current = { health: 'fault', code: 'hopper-jam', detail: 'test hopper: opto path blocked during idle' };
    return hopper.flags;
  };
  const report = await checkHopper(hopper, { name: 'h100', port: '/dev/x' });
  t.notOk(report.ok);
  t.match(step(report, 'self-test').detail, /opto path blocked during idle \(hopper-jam\)/);
  t.equal(step(report, 'health').outcome, 'failed');
});

class FakeValidator extends EventEmitter<BillValidatorEvents> implements BillValidator {
  readonly kind = 'bill-validator' as const;
  readonly capabilities = { hold: true };
  hooks: BillValidatorHooks | undefined;
  decisions: string[] = [];
  readonly note: Note = { value: 5000, currency: 'CNY', code: 0x65 };
  async open() {}
  async close() {}
  status() {
    return OK;
  }
  identity() {
    return { kind: 'bill-validator' as const, model: 'fake', version: 'FAKE V1' };
  }
  setHooks(hooks: BillValidatorHooks) {
    this.hooks = hooks;
  }
  denominations() {
    return [this.note];
  }
  async enable() {
    // A customer feeds a note while accepting is on, and a note from before reaches its credit point.
    this.decisions.push(await this.hooks!.escrow(this.note));
    await this.hooks!.credited(this.note);
  }
  async disable() {}
}

t.test('diagnostics hand a note back, and report one stacked outside a transaction', async (t) => {
  const validator = new FakeValidator();
  const report = await checkBillValidator(validator, { name: 'validator', port: '/dev/x' });
  t.same(validator.decisions, ['return']);
  t.notOk(report.ok);
  t.match(step(report, 'health').detail, /CNY 50\.00; count it at cash-up/);
  t.equal(step(report, 'identity').detail, 'fake, version FAKE V1');
});

class FakePrinter extends EventEmitter<DeviceEvents> implements Printer {
  readonly kind = 'printer' as const;
  current: DeviceStatus = { health: 'fault', code: 'paper-out', detail: 'paper roll empty' };
  printed: Receipt[] = [];
  async open() {}
  async close() {}
  status() {
    return this.current;
  }
  identity() {
    return { kind: 'printer' as const, model: 'fake' };
  }
  async print(r: Receipt) {
    this.printed.push(r);
    throw new PrinterError('paper-out', 'receipt not printed: paper roll empty');
  }
}

t.test('a printer out of paper fails its status step and the test page', async (t) => {
  const printer = new FakePrinter();
  const report = await checkPrinter(printer, { name: 'printer', port: '/dev/x', print: true, terminalId: 'T-1' });
  t.notOk(report.ok);
  t.equal(step(report, 'paper and cover').detail, 'paper out, cover not known: paper roll empty');
  t.same(report.facts, { paper: 'out', cover: 'not known' });
  t.match(step(report, 'test page').detail, /paper roll empty/);
  t.equal(printer.printed.length, 1);
});

t.test('the test page', async (t) => {
  const page = testPage('KIOSK-7', new Date('2025-01-02T03:04:05Z'));
  t.equal(page.lines[0]?.text, 'TEST PAGE / 测试页');
  t.ok(page.lines.some((l) => l.text.includes('KIOSK-7')));
  t.ok(page.lines.some((l) => l.text === '2025-01-02 11:04:05 UTC+08:00'), 'the time in the kiosk zone, saying which');
  t.equal(page.qr, 'diag KIOSK-7 2025-01-02T03:04:05.000Z');
  t.equal(money(5), '0.05');
  t.equal(money(12350), '123.50');
});

t.test('a device whose driver cannot be created is reported, and the others are still checked', async (t) => {
  const config = parseConfig(
    {
      terminalId: 'T-1',
      validator: { port: '/nonexistent/ttyV' },
      hoppers: [{ name: 'h1', model: 'warp-drive', port: '/nonexistent/ttyH', coinValue: 100 }],
      server: { host: '127.0.0.1', port: 1 },
    },
    'test',
    '/tmp',
  );
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const ok = await runDiag({ config, json: false, payout: false, print: false, out, isTTY: false });
  t.notOk(ok);
  t.match(text, /✗ open\s+cannot open: .*\/nonexistent\/ttyV/);
  t.match(text, /✗ open\s+cannot check: unknown hopper model 'warp-drive'/);
  t.match(text, /2 of 2 devices failed: validator, h1\n$/);
});
