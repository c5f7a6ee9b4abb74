import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { replyDeadline } from '../../drivers/transport/reply-deadline.js';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { startPtyPair } from '../../hw-sim/stack.js';

// A reply written to the line while the kiosk's process is busy sits in the kernel's buffer.
// Against a real pseudo-terminal, which reaches Node only through libuv's I/O phase and thread pool.

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // The process is stalled, as while a large module compiles.
  }
}

async function line(t: Tap.Test): Promise<{ host: SerialTransport; device: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-deadline-'));
  const socat = await startPtyPair(join(dir, 'host'), join(dir, 'device'));
  const host = new SerialTransport({ path: join(dir, 'host'), baudRate: 9600 });
  await host.open();
  const device = openSync(join(dir, 'device'), 'r+');
  t.teardown(async () => {
    closeSync(device);
    await host.close();
    socat.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  return { host, device };
}

type Arm = (ms: number, onSilent: () => void) => { clear(): void };
const plainTimer: Arm = (ms, onSilent) => {
  const timer = setTimeout(onSilent, ms);
  return { clear: () => clearTimeout(timer) };
};

async function firstAfterStall(host: SerialTransport, device: number, arm: Arm): Promise<'reply' | 'silent'> {
  return new Promise((resolve) => {
    const deadline = arm(250, () => resolve('silent'));
    host.once('data', () => {
      deadline.clear();
      resolve('reply');
    });
    writeSync(device, Buffer.from([0xfc, 0x05, 0x11, 0x27, 0x56]));
    busy(800);
  });
}

t.test('a plain timer counts a stall of the process as the device being silent', async (t) => {
  const { host, device } = await line(t);
  t.equal(await firstAfterStall(host, device, plainTimer), 'silent', 'the reply was there, but the timer ran first');
});

t.test('the reply deadline reads the reply that arrived during the stall', async (t) => {
  const { host, device } = await line(t);
  t.equal(await firstAfterStall(host, device, replyDeadline), 'reply');
});

t.test('a device that stays silent is still timed out once the stall is over', async (t) => {
  const started = performance.now();
  const silent = await new Promise<number>((resolve) => {
    replyDeadline(100, () => resolve(performance.now()));
    busy(400);
  });
  t.ok(silent - started >= 400, 'not before the stall ended');
  const quiet = performance.now();
  await new Promise<void>((resolve) => replyDeadline(100, resolve));
  t.ok(performance.now() - quiet >= 99, 'no extension when the process kept up');
});
