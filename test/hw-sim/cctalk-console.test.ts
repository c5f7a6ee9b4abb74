import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { runCctalkCoinDevice, runCctalkHopperDevice } from '../../hw-sim/devices/cctalk/console.js';
import { CctalkTestHost, command } from './cctalk-host.js';

async function until(check: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A linked pty pair from socat: the device opens one end, the test host the other. */
async function ptyPair(t: Test): Promise<{ devicePath: string; hostPath: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cctalk-'));
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
  return { devicePath, hostPath };
}

function operator(t: Test) {
  const input = new PassThrough();
  const output = new PassThrough();
  const printed = { text: '' };
  output.on('data', (chunk: Buffer) => (printed.text += chunk.toString('utf8')));
  /** Sends one operator line and returns what the device printed in answer. */
  const type = async (line: string, expect: string | RegExp): Promise<string> => {
    const before = printed.text.length;
    input.write(`${line}\n`);
    await until(() => {
      const answer = printed.text.slice(before);
      return typeof expect === 'string' ? answer.includes(expect) : expect.test(answer);
    }, `the answer to "${line}"`);
    return printed.text.slice(before);
  };
  t.teardown(() => input.end());
  return { input, output, printed, type };
}

async function openLine(t: Test, path: string): Promise<SerialTransport> {
  const line = new SerialTransport({ path, baudRate: 9600 });
  await line.open();
  t.teardown(() => line.close());
  return line;
}

t.test('hopper device on a socat pty pair: the host dispenses 2 coins and reads paid = 2', async (t) => {
  const { devicePath, hostPath } = await ptyPair(t);
  const { input, output, printed, type } = operator(t);
  const device = await runCctalkHopperDevice({ port: devicePath, input, output, coinIntervalMs: 20, level: 50 });
  t.teardown(() => device.stop());
  t.match(printed.text, /^ccTalk hopper at address 3 on .* \(9600 8N1, echo on\)/);
  const host = new CctalkTestHost(await openLine(t, hostPath), true);

  t.same((await host.request([0x03, 0x00, 0x01, 0xfe, 0xfe])).raw, [0x01, 0x00, 0x03, 0x00, 0xfc], 'Flow simple poll, echo stripped');
  const serial = (await host.request([0x03, 0x00, 0x01, 0xf2, 0x0a])).data;
  await host.request([0x03, 0x01, 0x01, 0xa4, 0xa5, 0xb2]);
  t.same((await host.request(command(3, 167, [...serial, 2]))).data, [1], 'dispense 2 accepted, event 1');

  let status: number[] = [];
  const deadline = Date.now() + 5000;
  do {
    status = (await host.request([0x03, 0x00, 0x01, 0xa6, 0x56])).data;
  } while (status[1] !== 0 && Date.now() < deadline);
  t.same(status, [1, 0, 2, 0], 'event 1, remaining 0, paid 2, unpaid 0');
  await until(() => printed.text.includes('payout done: paid 2, unpaid 0'), 'the payout report');
  t.match(printed.text, /dispense 2 coins \(event 1\)\npaid coin 1\/2\npaid coin 2\/2\npayout done: paid 2, unpaid 0\n/);

  t.equal(await type('frobnicate', '\n'), 'error: unknown command "frobnicate" (type help)\n', 'one error line');
  t.match(await type('refill many', '\n'), /^error: refill: needs a whole number[^\n]*\n$/);
  t.match(await type('status', '\n'), /^hopper at address 3: enabled, idle, level 48 coin\(s\) of 100 fen, event 1, remaining 0, paid 2, unpaid 0[^\n]*\n$/);
  await type('help', 'power-cycle');
  t.equal(device.emulator.level, 48);
});

t.test('coin device on a socat pty pair, echo off', async (t) => {
  const { devicePath, hostPath } = await ptyPair(t);
  const { input, output, type } = operator(t);
  const device = await runCctalkCoinDevice({ port: devicePath, input, output, echo: false });
  t.teardown(() => device.stop());
  const host = new CctalkTestHost(await openLine(t, hostPath), false);

  await host.request([2, 2, 1, 231, 255, 255, 22]);
  await host.request([0x02, 0x01, 0x01, 0xe4, 0x01, 0x17]);
  t.equal(await type('insert 100', '\n'), 'coin 100 fen accepted (channel 1, event 1)\n');
  t.same((await host.request([0x02, 0x00, 0x01, 0xe5, 0x18])).data, [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  t.match(await type('flood', '\n'), /^error: flood: needs a whole number/);
});

t.test('a port that cannot be opened is a clear error', async (t) => {
  const { input, output } = operator(t);
  await t.rejects(
    runCctalkHopperDevice({ port: '/nonexistent/tty-cctalk', input, output }),
    /cannot open serial port \/nonexistent\/tty-cctalk/,
  );
});
