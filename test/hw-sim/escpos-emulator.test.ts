import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import t, { type Test } from 'tap';
import { memoryPair, type MemoryTransport } from '../../drivers/transport/memory.js';
import { EscposEmulator, type LostJob, type PrintedReceipt } from '../../hw-sim/devices/escpos/emulator.js';

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const DLE = 0x10;

const CUT = [GS, 0x56, 0x01];

/** A small bill-payment receipt as a kiosk would send it. */
function receipt(amount: string): number[] {
  return [
    ESC, 0x40, FS, 0x26, ESC, 0x61, 1, ESC, 0x45, 1,
    ...iconv.encode('中国电信 话费缴费', 'gb18030'), 0x0a,
    ESC, 0x45, 0, ESC, 0x61, 0,
    ...iconv.encode(`金额：￥${amount}`, 'gb18030'), 0x0a,
    ESC, 0x64, 1,
    ...CUT,
  ];
}

class Host {
  readonly received: number[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly line: MemoryTransport) {
    line.on('data', (chunk) => {
      this.received.push(...chunk);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  send(bytes: number[]): Promise<void> {
    return this.line.write(Uint8Array.from(bytes));
  }

  /** Sends DLE EOT n and returns the one-byte answer. */
  async status(n: number): Promise<number> {
    const before = this.received.length;
    const arrived = new Promise<void>((resolve) => this.waiters.push(resolve));
    await this.send([DLE, 0x04, n]);
    await arrived;
    if (this.received.length !== before + 1) {
      throw new Error(`expected one status byte, got ${this.received.length - before}`);
    }
    return this.received[before]!;
  }

  async statuses(): Promise<number[]> {
    return [await this.status(1), await this.status(2), await this.status(3), await this.status(4)];
  }
}

async function setup(t: Test, columns = 32) {
  const outDir = t.testdir();
  const [hostEnd, deviceEnd] = memoryPair('escpos');
  await hostEnd.open();
  const emulator = new EscposEmulator({ transport: deviceEnd, outDir, columns });
  const reports: string[] = [];
  emulator.on('report', (line) => reports.push(line));
  await emulator.start();
  t.teardown(async () => {
    await emulator.stop();
    await hostEnd.close();
  });
  return { emulator, host: new Host(hostEnd), reports, outDir };
}

/** Lets the memory line deliver what is in flight (it delivers on the next macrotask). */
const drain = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

t.test('DLE EOT 1..4 answer with the exact byte for each state', async (t) => {
  const { emulator, host } = await setup(t);
  t.same(await host.statuses(), [0x12, 0x12, 0x12, 0x12], 'online, paper ok');

  emulator.paperNearEnd();
  t.same(await host.statuses(), [0x12, 0x12, 0x12, 0x1e], 'near end: 0x0C on n=4 only, still online');

  emulator.paperOutNow();
  t.same(await host.statuses(), [0x1a, 0x32, 0x12, 0x7e], 'paper out: offline, paper-end stop, roll end');

  emulator.clear();
  emulator.openCover();
  t.same(await host.statuses(), [0x1a, 0x16, 0x12, 0x12], 'cover open: offline, cover bit');

  emulator.clear();
  emulator.jamCutter();
  t.same(await host.statuses(), [0x1a, 0x52, 0x1a, 0x12], 'cutter error: offline, error, cutter bit on n=3');
  await host.send([DLE, 0x05, 1]);
  await drain();
  t.same(await host.statuses(), [0x12, 0x12, 0x12, 0x12], 'DLE ENQ 1 recovers from the cutter error');

  emulator.overheat();
  t.same(await host.statuses(), [0x1a, 0x52, 0x52, 0x12], 'head overheated: auto-recoverable error on n=3');
  await host.send([DLE, 0x05, 2]);
  await drain();
  t.equal(await host.status(3), 0x52, 'DLE ENQ does not cool the head');
  emulator.clear();
  t.same(await host.statuses(), [0x12, 0x12, 0x12, 0x12], 'clear ends it all');
});

t.test('a status request in the middle of a job is answered at once', async (t) => {
  const { emulator, host } = await setup(t);
  const job = receipt('50.00');
  const before = host.received.length;
  await host.send([...job.slice(0, 20), DLE, 0x04, 2, ...job.slice(20, 25)]);
  await drain();
  t.same(host.received.slice(before), [0x12]);
  const printed = once(emulator, 'job');
  await host.send(job.slice(25));
  const [r] = (await printed) as [PrintedReceipt];
  t.equal(r.text, readFileSync(r.file, 'utf8'));
  t.match(r.text, /金额：￥50\.00/, 'the status request did not disturb the text');
});

t.test('a job is written to receipt-<n>.txt with the expected text', async (t) => {
  const { emulator, host, reports, outDir } = await setup(t, 32);
  const printed = once(emulator, 'job');
  await host.send(receipt('50.00'));
  const [r] = (await printed) as [PrintedReceipt];
  const expected = ['       **中国电信 话费缴费**', '金额：￥50.00', '', '----- cut -----', ''].join('\n');
  t.equal(readFileSync(join(outDir, 'receipt-1.txt'), 'utf8'), expected);
  t.same({ ...r, text: undefined }, { number: 1, file: join(outDir, 'receipt-1.txt'), text: undefined, lines: 4, complete: true });
  t.ok(reports.includes(`receipt 1 printed → ${join(outDir, 'receipt-1.txt')} (4 lines)`), 'reported');

  const second = once(emulator, 'job');
  await host.send(receipt('100.00'));
  const [r2] = (await second) as [PrintedReceipt];
  t.equal(r2.number, 2);
  t.match(readFileSync(join(outDir, 'receipt-2.txt'), 'utf8'), /￥100\.00/);
});

t.test('numbering goes on after receipts already in the folder', async (t) => {
  const outDir = t.testdir({ 'receipt-7.txt': 'old\n', 'notes.txt': 'x' });
  const [hostEnd, deviceEnd] = memoryPair('escpos');
  await hostEnd.open();
  const emulator = new EscposEmulator({ transport: deviceEnd, outDir });
  await emulator.start();
  t.teardown(() => emulator.stop());
  const printed = once(emulator, 'job');
  await hostEnd.write(Uint8Array.from(receipt('1.00')));
  t.equal(((await printed) as [PrintedReceipt])[0].number, 8);
  t.equal(readFileSync(join(outDir, 'receipt-7.txt'), 'utf8'), 'old\n', 'the old receipt is untouched');
});

t.test('paper out: the job is not printed and the status says so', async (t) => {
  const { emulator, host, reports, outDir } = await setup(t);
  emulator.on('job', () => t.fail('nothing may be printed while the paper is out'));
  emulator.paperOutNow();
  const lost = once(emulator, 'lost');
  await host.send(receipt('50.00'));
  const [l] = (await lost) as [LostJob];
  t.equal(l.reason, 'paper out');
  t.match(l.text, /￥50\.00/, 'the lost job is reported with what it would have printed');
  await emulator.settled();
  t.same(readdirSync(outDir), [], 'no receipt file');
  t.ok(reports.some((line) => line.startsWith('receipt lost: paper out')));
  t.equal(await host.status(2), 0x32, 'DLE EOT 2: printing stopped by paper end');
  t.equal(await host.status(4), 0x7e, 'DLE EOT 4: roll end');
  t.match(emulator.describe(), /offline \(paper out\).*0 receipts printed, 1 lost/);
});

t.test('paper running out mid-job gives a partial receipt that says so', async (t) => {
  const { emulator, host, outDir } = await setup(t);
  const job = receipt('50.00');
  const secondLine = job.indexOf(0x0a) + 1;
  await host.send(job.slice(0, secondLine));
  await drain();
  emulator.paperOutNow();
  const printed = once(emulator, 'job');
  await host.send(job.slice(secondLine));
  const [r] = (await printed) as [PrintedReceipt];
  t.equal(r.complete, false);
  t.equal(
    readFileSync(join(outDir, 'receipt-1.txt'), 'utf8'),
    ['       **中国电信 话费缴费**', '----- paper out: 2 lines not printed -----', ''].join('\n'),
    'the first line, then the loss, and no cut',
  );
});

t.test('cover open loses the job; after clear, printing works again', async (t) => {
  const { emulator, host } = await setup(t);
  emulator.openCover();
  const lost = once(emulator, 'lost');
  await host.send(receipt('20.00'));
  t.equal(((await lost) as [LostJob])[0].reason, 'cover open');
  emulator.clear();
  const printed = once(emulator, 'job');
  await host.send(receipt('30.00'));
  const [r] = (await printed) as [PrintedReceipt];
  t.equal(r.number, 1);
  t.ok(r.complete);
  t.match(r.text, /￥30\.00/);
});

t.test('silent: no answer and nothing printed until clear', async (t) => {
  const { emulator, host, outDir } = await setup(t);
  emulator.silent();
  await host.send([DLE, 0x04, 1, ...receipt('5.00')]);
  await drain();
  await emulator.settled();
  t.same(host.received, [], 'no answer');
  t.same(readdirSync(outDir), [], 'nothing printed');
  t.match(emulator.describe(), /silent.*bytes ignored while silent/);
  emulator.clear();
  t.equal(await host.status(1), 0x12, 'answers again after clear');
});

t.test('power cycle drops a half-received command and keeps physical faults', async (t) => {
  const { emulator, host, outDir } = await setup(t);
  // A QR store announcing 100 bytes that never come would swallow the status request.
  await host.send([GS, 0x28, 0x6b, 100, 0, 0x31, 0x50, 0x30, 0x41]);
  await host.send([DLE, 0x04, 1]);
  await drain();
  t.same(host.received, [], 'the request is part of the unfinished QR data');
  t.match(emulator.describe(), /in the middle of a command/);
  emulator.openCover();
  emulator.powerCycle();
  t.equal(await host.status(1), 0x1a, 'answers after the power cycle; the cover is still open');
  emulator.clear();
  const printed = once(emulator, 'job');
  await host.send(receipt('8.00'));
  t.match(((await printed) as [PrintedReceipt])[0].text, /￥8\.00/, 'and prints once the cover is shut');
  t.notOk(existsSync(join(outDir, 'receipt-2.txt')));
});
