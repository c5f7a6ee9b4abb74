import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { runId003Device } from '../../hw-sim/devices/id003/console.js';
import { INHIBIT_OFF, RESET, STACK1, STATUS, TestHost, type Reply } from './id003-host.js';

const TIMING = { acceptingMs: 20, stackingMs: 20, stackedMs: 20, returningMs: 20, initializeMs: 20 };
const is = (status: number) => (r: Reply) => r.cmd === status;

async function until(check: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('the device runs on a socat pty pair, driven by operator lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'id003-'));
  const devicePath = join(dir, 'a');
  const hostPath = join(dir, 'b');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    socat.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await until(() => existsSync(devicePath) && existsSync(hostPath), 'socat links');

  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  const device = await runId003Device({ port: devicePath, input, output, timing: TIMING });
  t.teardown(() => device.stop());

  const line = new SerialTransport({ path: hostPath, baudRate: 9600, parity: 'even' });
  await line.open();
  t.teardown(() => line.close());
  const host = new TestHost(line);

  t.equal((await host.request(STATUS)).cmd, 0x40, 'power up over the pty');
  await host.request(RESET);
  await host.pollUntil(is(0x1a));
  await host.request(INHIBIT_OFF);
  await host.pollUntil(is(0x11));

  input.write('insert 5000\n');
  await until(() => printed.includes('escrow 5000 fen (code 0x65)'), 'the escrow report');
  t.same((await host.pollUntil(is(0x13))).at(-1)!.data, [0x65], 'the host sees the escrow');

  const before = printed;
  input.write('frobnicate now\n');
  await until(() => printed.length > before.length, 'an answer to the bad line');
  t.equal(printed.slice(before.length), 'error: unknown command "frobnicate" (type help)\n', 'one error line');

  const beforeBadAmount = printed;
  input.write('insert 12.5\n');
  await until(() => printed.length > beforeBadAmount.length, 'an answer to the bad amount');
  t.match(printed.slice(beforeBadAmount.length), /^error: insert: needs an amount in fen[^\n]*\n$/);
  t.equal((await host.request(STATUS)).cmd, 0x13, 'the bad lines changed nothing');

  await host.request(STACK1);
  await host.pollUntil(is(0x15));
  await host.send([0xfc, 0x05, 0x50, 0xaa, 0x05]);
  await host.pollUntil(is(0x11));
  await until(() => printed.includes('stacked 5000 fen'), 'the stacked report');

  const beforeStatusLine = printed;
  input.write('status\n');
  await until(() => printed.length > beforeStatusLine.length, 'the status line');
  const statusLine = printed.slice(beforeStatusLine.length);
  t.match(statusLine, /^state running, status 0x11, .*cash box: 5000x1 \(total 5000 fen\)\n$/);
  input.write('help\n');
  await until(() => printed.includes('power-cycle-with-bill'), 'the help text');

  input.end();
  const beforeStatus = printed;
  t.equal((await host.request(STATUS)).cmd, 0x11, 'still answering after the input closed');
  t.equal(printed, beforeStatus, 'a plain status poll prints nothing');
});

t.test('a port that cannot be opened is a clear error', async (t) => {
  const input = new PassThrough();
  const output = new PassThrough();
  await t.rejects(
    runId003Device({ port: '/nonexistent/tty-id003', input, output }),
    /cannot open serial port \/nonexistent\/tty-id003/,
  );
});
