import t from 'tap';
import { memoryPair, type MemoryTransport } from '../../drivers/transport/memory.js';
import { EscposPrinter, type EscposPrinterOptions } from '../../drivers/escpos/driver.js';
import { createEscposPrinter } from '../../drivers/escpos/index.js';
import { PrinterError, type DeviceStatus, type Receipt } from '../../drivers/types.js';

type Replies = [number, number, number, number];
const READY: Replies = [0x12, 0x12, 0x12, 0x12];
const NEAR_END: Replies = [0x12, 0x12, 0x12, 0x1e];
const PAPER_OUT: Replies = [0x1a, 0x32, 0x12, 0x72];
const COVER_OPEN: Replies = [0x1a, 0x16, 0x12, 0x12];

/**
 * A few lines of printer: answers DLE EOT n from `replies`, keeps every other byte as the job
 * stream, and switches to `afterCut` once it sees a cut (GS V).
 */
class ScriptedPrinter {
  replies: Replies = READY;
  afterCut: Replies | undefined;
  silent = false;
  /** Sent ahead of every status reply, to test that the driver skips it. */
  noise: number[] = [];
  firmware: string | undefined;
  received: number[] = [];
  statusRequests = 0;

  constructor(readonly end: MemoryTransport) {
    end.on('data', (chunk) => this.onData(chunk));
  }

  /** Bytes that are not status requests: what would be printed. */
  get job(): Buffer {
    const out: number[] = [];
    const r = this.received;
    for (let i = 0; i < r.length; i++) {
      if (r[i] === 0x10 && r[i + 1] === 0x04) i += 2;
      else out.push(r[i]!);
    }
    return Buffer.from(out);
  }

  private onData(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      this.received.push(b);
      const r = this.received;
      const n = r.length;
      if (n >= 3 && r[n - 3] === 0x10 && r[n - 2] === 0x04 && r[n - 1]! >= 1 && r[n - 1]! <= 4) {
        this.statusRequests++;
        if (!this.silent) void this.end.write(Buffer.from([...this.noise, this.replies[r[n - 1]! - 1]!]));
      }
      if (n >= 3 && r[n - 3] === 0x1d && r[n - 2] === 0x56 && this.afterCut) this.replies = this.afterCut;
      if (n >= 3 && r[n - 3] === 0x1d && r[n - 2] === 0x49 && r[n - 1] === 0x41 && this.firmware && !this.silent) {
        void this.end.write(Buffer.concat([Buffer.of(0x5f), Buffer.from(this.firmware), Buffer.of(0)]));
      }
    }
  }
}

const receipt: Receipt = { lines: [{ text: '缴费凭条 PAYMENT RECEIPT', align: 'center' }, { text: '￥50.00', large: true }], qr: 'TXN-1' };

async function setup(t: Tap.Test, opts: Partial<EscposPrinterOptions> = {}, prepare?: (p: ScriptedPrinter) => void) {
  const [host, dev] = memoryPair('escpos');
  await dev.open();
  const printer = new ScriptedPrinter(dev);
  prepare?.(printer);
  const driver = new EscposPrinter({
    transport: host,
    // Generous: the machine is shared and a reply must never miss it. Tests of silence lower it.
    statusTimeoutMs: 2000,
    pollIntervalMs: 60_000,
    settleMs: 0,
    reconnect: { initialMs: 20, maxMs: 40 },
    ...opts,
  });
  const events: DeviceStatus[] = [];
  driver.on('status', (s) => events.push(s));
  t.teardown(() => driver.close());
  return { driver, printer, events };
}

function statusEvent(driver: EscposPrinter, code: string): Promise<DeviceStatus> {
  return new Promise((resolve) => {
    const on = (s: DeviceStatus) => {
      if (s.code !== code) return;
      driver.off('status', on);
      resolve(s);
    };
    driver.on('status', on);
  });
}

t.test('open initialises and reads status 1..4', async (t) => {
  const { driver, printer, events } = await setup(t);
  await driver.open();
  t.same([...printer.received.slice(0, 2)], [0x1b, 0x40], 'ESC @ first');
  t.same(printer.received.slice(2), [0x10, 4, 1, 0x10, 4, 2, 0x10, 4, 3, 0x10, 4, 4]);
  t.same(driver.status(), { health: 'ok', code: 'ok', detail: 'ready' });
  t.same(events.map((e) => e.code), ['ok']);
  t.same(driver.identity(), { kind: 'printer', model: 'ESC/POS' });
});

t.test('a good print: status, job, status', async (t) => {
  const { driver, printer } = await setup(t);
  await driver.open();
  const before = printer.statusRequests;
  await driver.print(receipt);
  t.equal(printer.statusRequests - before, 8, 'four requests before and four after');
  const job = printer.job;
  t.ok(job.indexOf(Buffer.of(0x1c, 0x26)) > 0, 'Chinese mode');
  t.ok(job.indexOf(Buffer.from('TXN-1')) > 0, 'QR data');
  t.same([...job.subarray(job.indexOf(Buffer.of(0x1d, 0x56)), job.indexOf(Buffer.of(0x1d, 0x56)) + 3)], [0x1d, 0x56, 0x01]);
  t.equal(driver.status().health, 'ok');
});

t.test('paper out before the job: refused, nothing sent', async (t) => {
  const { driver, printer } = await setup(t, {}, (p) => (p.replies = PAPER_OUT));
  await driver.open();
  t.match(driver.status(), { health: 'fault', code: 'paper-out' }, 'open succeeds: the printer answered');
  const sent = printer.job.length;
  const err = await driver.print(receipt).catch((e: unknown) => e);
  t.type(err, PrinterError);
  t.equal((err as PrinterError).code, 'paper-out');
  t.equal(printer.job.length, sent, 'no job bytes written');
});

t.test('cover open before the job: refused', async (t) => {
  const { driver, printer } = await setup(t, {}, (p) => (p.replies = COVER_OPEN));
  await driver.open();
  const sent = printer.job.length;
  await t.rejects(driver.print(receipt), { code: 'cover-open' });
  t.equal(printer.job.length, sent);
});

t.test('paper runs out during the job: PrinterError paper-out after sending', async (t) => {
  const { driver, printer } = await setup(t, {}, (p) => (p.afterCut = PAPER_OUT));
  await driver.open();
  await t.rejects(driver.print(receipt), { code: 'paper-out', message: /may be incomplete/ });
  t.ok(printer.job.indexOf(Buffer.of(0x1d, 0x56, 0x01)) > 0, 'the job was sent');
  t.match(driver.status(), { health: 'fault', code: 'paper-out' });
});

t.test('paper near end: printed, health degraded', async (t) => {
  const { driver } = await setup(t, {}, (p) => (p.replies = NEAR_END));
  await driver.open();
  await driver.print(receipt);
  t.match(driver.status(), { health: 'degraded', code: 'paper-near-end' });
});

t.test('a silent printer is offline', async (t) => {
  const { driver, printer, events } = await setup(t, { statusTimeoutMs: 150 }, (p) => (p.silent = true));
  await t.rejects(driver.open(), /no answer/);
  t.match(driver.status(), { health: 'offline', code: 'no-answer' });
  t.match(events[0], { health: 'offline' });
  const sent = printer.job.length;
  await t.rejects(driver.print(receipt), { code: 'offline' });
  t.equal(printer.job.length, sent, 'no job bytes written');
});

t.test('a printer that goes silent after open: print fails offline', async (t) => {
  const { driver, printer } = await setup(t);
  await driver.open();
  printer.silent = true;
  const sent = printer.job.length;
  await t.rejects(driver.print(receipt), { code: 'offline' });
  t.equal(printer.job.length, sent);
  t.equal(driver.status().health, 'offline');
});

t.test('the driver keeps retrying and comes back when the printer answers', async (t) => {
  const { driver, printer } = await setup(t, { statusTimeoutMs: 150 }, (p) => (p.silent = true));
  await t.rejects(driver.open());
  const back = statusEvent(driver, 'ok');
  printer.silent = false;
  await back;
  await driver.open();
  t.equal(driver.status().health, 'ok');
});

t.test('the idle poll reports paper near end and paper out before anyone prints', async (t) => {
  const { driver, printer } = await setup(t, { pollIntervalMs: 10 });
  await driver.open();
  const nearEnd = statusEvent(driver, 'paper-near-end');
  printer.replies = NEAR_END;
  t.match(await nearEnd, { health: 'degraded' });
  const out = statusEvent(driver, 'paper-out');
  printer.replies = PAPER_OUT;
  t.match(await out, { health: 'fault' });
});

t.test('bytes that are not status replies are skipped', async (t) => {
  const { driver } = await setup(t, {}, (p) => {
    p.noise = [0x00, 0xff, 0x5f, 0x32, 0x00];
    p.replies = NEAR_END;
  });
  await driver.open();
  t.match(driver.status(), { code: 'paper-near-end' }, 'the 0x32 inside a GS I block was not read as paper end');
});

t.test('firmware version from GS I 65 when asked for', async (t) => {
  const { driver } = await setup(t, { queryVersion: true }, (p) => (p.firmware = 'V1.02'));
  await driver.open();
  t.same(driver.identity(), { kind: 'printer', model: 'ESC/POS', version: 'V1.02' });
});

t.test('close: offline, and print refused', async (t) => {
  const { driver } = await setup(t);
  await driver.open();
  await driver.close();
  t.match(driver.status(), { health: 'offline', code: 'closed' });
  await t.rejects(driver.print(receipt), { code: 'offline' });
});

t.test('a receipt that cannot be encoded', async (t) => {
  const { driver } = await setup(t);
  await driver.open();
  await t.rejects(driver.print({ lines: [], qr: '二维码' }), { code: 'invalid-receipt' });
});

t.test('factory', async (t) => {
  t.equal(createEscposPrinter({ transport: 'lp', port: '/nonexistent/lp0' }).kind, 'printer');
  t.throws(() => createEscposPrinter({ transport: 'serial' }), /needs a port/);
  t.throws(() => createEscposPrinter({ transport: 'serial', port: '/dev/null', baudRate: 1200 }), /baud rate/);
  const p = createEscposPrinter({ transport: 'lp', port: '/nonexistent/lp0' });
  await t.rejects(p.open(), /cannot open printer device \/nonexistent\/lp0/);
  t.equal(p.status().health, 'offline');
  await p.close();
});
