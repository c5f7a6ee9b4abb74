import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import iconv from 'iconv-lite';
import t from 'tap';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { runEscposDevice } from '../../hw-sim/devices/escpos/console.js';

async function until(check: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('the printer runs on a socat pty pair, driven by operator lines', async (t) => {
  const dir = t.testdir();
  const devicePath = join(dir, 'a');
  const hostPath = join(dir, 'b');
  const outDir = join(dir, 'out');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    socat.kill();
  });
  await until(() => existsSync(devicePath) && existsSync(hostPath), 'socat links');

  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  const device = await runEscposDevice({ port: devicePath, outDir, input, output, columns: 32 });
  t.teardown(() => device.stop());

  const line = new SerialTransport({ path: hostPath, baudRate: 9600 });
  await line.open();
  t.teardown(() => line.close());
  const received: number[] = [];
  line.on('data', (chunk) => received.push(...chunk));

  input.write('paper-near-end\n');
  await until(() => printed.includes('paper near end'), 'the near-end report');
  await line.write(Uint8Array.of(0x10, 0x04, 4));
  await until(() => received.length === 1, 'the status byte');
  t.equal(received[0], 0x1e, 'DLE EOT 4 over the pty: near end');
  await until(() => printed.includes('status request n=4 → 0x1E'), 'the status report');

  const job = [0x1b, 0x40, 0x1c, 0x26, ...iconv.encode('话费 ￥50.00', 'gb18030'), 0x0a, 0x1d, 0x56, 0x00];
  await line.write(Uint8Array.from(job));
  const file = join(outDir, 'receipt-1.txt');
  await until(() => printed.includes(`receipt 1 printed → ${file} (2 lines)`), 'the receipt report');
  t.equal(readFileSync(file, 'utf8'), '话费 ￥50.00\n----- cut -----\n');

  const before = printed;
  input.write('frobnicate\n');
  await until(() => printed.length > before.length, 'an answer to the bad line');
  t.equal(printed.slice(before.length), 'error: unknown command "frobnicate" (type help)\n', 'one error line');
  const beforeArg = printed;
  input.write('paper-out now\n');
  await until(() => printed.length > beforeArg.length, 'an answer to the extra argument');
  t.equal(printed.slice(beforeArg.length), 'error: paper-out: takes no argument\n');

  const beforeStatus = printed;
  input.write('status\n');
  await until(() => printed.length > beforeStatus.length, 'the status line');
  t.match(printed.slice(beforeStatus.length), /^online, paper near end, cover closed, 1 receipts printed, 0 lost, DLE EOT 1→0x12 2→0x12 3→0x12 4→0x1E\n$/);
  input.write('help\n');
  await until(() => printed.includes('power-cycle'), 'the help text');
});

t.test('a port that cannot be opened is a clear error', async (t) => {
  await t.rejects(
    runEscposDevice({ port: '/nonexistent/tty-escpos', outDir: t.testdir(), input: new PassThrough(), output: new PassThrough() }),
    /cannot open serial port \/nonexistent\/tty-escpos/,
  );
});
