/**
 * The ZVT driver against the terminal emulator over a real socat pseudo-terminal pair: the serial
 * framing with its ACK/NAK under every outcome, reversal and end of day.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { SerialTransport } from '../../drivers/transport/serial.js';
import type { DeviceStatus, TerminalProgress } from '../../drivers/types.js';
import { ZvtTerminal } from '../../drivers/zvt/driver.js';
import { createZvtTerminal } from '../../drivers/zvt/index.js';
import { SerialApduLink } from '../../drivers/zvt/link.js';
import { runZvtDevice } from '../../hw-sim/devices/zvt/console.js';

async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('over a pty pair: approve, decline, time-out, silence after the PIN, noise, reversal, end of day', async (t) => {
  const dir = t.testdir();
  const terminalPath = join(dir, 'terminal');
  const kioskPath = join(dir, 'kiosk');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${terminalPath}`, `pty,raw,echo=0,link=${kioskPath}`], { stdio: 'ignore' });
  t.teardown(() => {
    socat.kill();
  });
  await until(() => existsSync(terminalPath) && existsSync(kioskPath), 'socat links');

  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (c: Buffer) => (printed += c.toString('utf8')));
  const device = await runZvtDevice({ port: terminalPath, input, output, stepMs: 5, ackTimeoutMs: 2000 });
  t.teardown(() => device.stop());
  t.match(printed, /ready on serial .*terminal\n/);
  const say = async (line: string): Promise<void> => {
    const before = printed.length;
    input.write(`${line}\n`);
    await until(() => printed.length > before, `an answer to ${line}`);
  };

  const link = new SerialApduLink(new SerialTransport({ path: kioskPath, baudRate: 9600, stopBits: 2 }), { ackTimeoutMs: 500 });
  const term = new ZvtTerminal({
    link,
    ackTimeoutMs: 3000,
    idleTimeoutMs: 2500,
    abortWaitMs: 1000,
    healthIntervalMs: 0,
    reconnect: { initialMs: 50, maxMs: 200 },
  });
  t.teardown(() => term.close());
  const progress: TerminalProgress[] = [];
  term.on('progress', (p) => progress.push(p));
  const statuses: DeviceStatus[] = [];
  term.on('status', (s) => statuses.push(s));
  const reconnected = async (): Promise<void> => {
    const from = statuses.length;
    await until(() => statuses.slice(from).some((s) => s.health === 'offline'), 'the reconnect to start');
    await until(() => statuses.at(-1)?.health === 'ok', 'the terminal registered again');
  };

  await term.open();
  t.match(term.status().detail, /registered on serial:.*kiosk/);

  const approved = await term.authorise(5000, 'serial-1');
  t.equal(approved.outcome, 'approved');
  t.equal(approved.approval?.receiptNo, 1);
  t.ok(approved.receipts[0]?.lines.includes('APPROVED'), 'the text block crossed the framing');

  await say('decline');
  const declined = await term.authorise(1000, 'serial-2');
  t.same([declined.outcome, declined.resultCode], ['declined', 5]);

  await say('garbage');
  const noisy = await term.authorise(1010, 'serial-3');
  t.equal(noisy.outcome, 'approved', 'noise and a bad frame are NAKed and passed over');
  t.ok(link.stats.badFrames >= 1, 'the damaged frame was seen');
  t.ok(link.stats.noise >= 1, 'and the noise');

  await say('timeout');
  const silent = await term.authorise(1020, 'serial-4');
  t.same([silent.outcome, silent.code], ['unknown', 'timeout']);
  await reconnected();

  progress.length = 0;
  await say('silent-after-pin');
  const afterPin = await term.authorise(1030, 'serial-5');
  t.same([afterPin.outcome, afterPin.code], ['unknown', 'timeout']);
  t.equal(progress.at(-1)?.stage, 'pin');
  await reconnected();

  const reversed = await term.reverse(approved.approval!.receiptNo);
  t.equal(reversed.outcome, 'reversed');
  const day = await term.endOfDay();
  t.same([day.outcome, day.total], ['done', 1010], 'only the noisy payment stays booked');

  const before = printed.length;
  input.write('status\n');
  await until(() => printed.length > before, 'the status line');
  t.match(printed.slice(before), /approved 6010 fen, reversed 5000 fen, net 1010 fen/);
});

t.test('the factory: serial needs a port, TCP a host', async (t) => {
  t.throws(() => createZvtTerminal({ transport: 'serial' }), /needs a port/);
  t.throws(() => createZvtTerminal({ transport: 'tcp' }), /needs a host/);
  const term = createZvtTerminal({ transport: 'tcp', host: '127.0.0.1', tcpPort: 1, timeouts: { healthIntervalMs: 0 } });
  t.equal(term.kind, 'payment-terminal');
  await t.rejects(term.open(), /zvt on tcp:127\.0\.0\.1:1: cannot connect/);
  await term.close();
  const serial = createZvtTerminal({ transport: 'serial', port: '/nonexistent/tty-zvt', password: '123456', currency: 978 });
  await t.rejects(serial.open(), /cannot open serial port \/nonexistent\/tty-zvt/);
  await serial.close();
});
