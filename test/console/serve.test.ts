import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { parseConfig } from '../../src/config/load.js';
import { serveControl } from '../../src/control/server.js';
import type { ControlRequest } from '../../src/control/protocol.js';
import { hashPin, verifyPin } from '../../src/console/pin.js';
import { hashPinCommand, serveConsole } from '../../src/console/serve.js';

async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function ptyPair(a: string, b: string): ChildProcess {
  return spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
}

t.test('serveConsole: serial line, service gone and back, cable pulled and re-plugged', async (t) => {
  // A short folder: a unix socket path must stay under 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-console-'));
  // Undone last-first: the console, then the service, then the folder.
  const cleanups: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  t.teardown(async () => {
    for (const undo of cleanups.reverse()) await undo();
  });
  const socket = join(dir, 'kiosk.sock');
  const requests: ControlRequest[] = [];
  const handler = (req: ControlRequest) => {
    requests.push(req);
    if (req.cmd === 'verify') return { ok: true as const, problems: [] };
    return { ok: true as const };
  };
  let control: Server | undefined = await serveControl(socket, handler);
  cleanups.push(() => control?.close());

  const config = parseConfig(
    {
      terminalId: 'T-7',
      validator: { port: '/dev/null' },
      server: { host: '127.0.0.1', port: 1 },
      console: { engineers: [{ name: 'bob', pin: hashPin('987654') }] },
    },
    'test',
    dir,
  );
  const consoleEnd = join(dir, 'console');
  const laptopEnd = join(dir, 'laptop');
  let socat = ptyPair(consoleEnd, laptopEnd);
  cleanups.push(() => socat.kill());
  await until(() => existsSync(consoleEnd) && existsSync(laptopEnd), 'the socat links');
  const served = await serveConsole({ config, port: consoleEnd, socket, reopenDelayMs: 100, requestTimeoutMs: 2000 });
  cleanups.push(() => served.stop());

  let screen = '';
  const openLaptop = async () => {
    const laptop = new SerialTransport({ path: laptopEnd, baudRate: 115200 });
    await laptop.open();
    laptop.on('data', (chunk) => (screen += chunk.toString('utf8')));
    return laptop;
  };
  let laptop = await openLaptop();
  cleanups.push(() => laptop.close());
  const type = async (text: string, expect: RegExp) => {
    const mark = screen.length;
    await laptop.write(Buffer.from(text + '\r'));
    await until(() => expect.test(screen.slice(mark)), `${expect} after '${text}'; the screen shows:\n${screen.slice(mark)}`);
    return screen.slice(mark);
  };

  await type('bob', /PIN: $/);
  await type('987654', /bob@T-7> $/);
  t.match(await type('journal verify', /bob@T-7> $/), /journal verified: no problems found/);

  await new Promise<void>((r) => control!.close(() => r()));
  control = undefined;
  const down = await type('journal verify', /bob@T-7> $/);
  t.match(down, /service not reachable: cannot reach the kiosk at\s+\S*kiosk\.sock/, 'one clear line; the console stays up');

  control = await serveControl(socket, handler);
  t.match(await type('journal verify', /bob@T-7> $/), /journal verified/, 'and answers again once the service is back');

  // The USB-serial adapter is pulled out and plugged in again: the same paths come back.
  await laptop.close();
  await new Promise<void>((r) => {
    socat.once('exit', () => r());
    socat.kill();
  });
  await until(() => requests.some((q) => q.cmd === 'audit' && q.action === 'logout: serial line closed'), 'the logout on line loss');
  socat = ptyPair(consoleEnd, laptopEnd);
  await until(() => existsSync(consoleEnd) && existsSync(laptopEnd), 'the new socat links');
  laptop = await openLaptop();
  // The console reopens its end by itself and shows the login prompt, not bob's. When it reopened
  // before the laptop's end was open, opening that end discards the prompt already on its way (the
  // serial open flushes), so the engineer presses Enter, as one does on a fresh terminal.
  await until(() => /T-7 login: $/.test(screen), 'the login prompt after re-plugging', 3_000).catch(async () => {
    await laptop.write(Buffer.from('\r'));
    await until(() => /T-7 login: $/.test(screen), 'the login prompt after re-plugging and Enter', 15_000);
  });
  await type('bob', /PIN: $/);
  await type('987654', /bob@T-7> $/);
  t.same(
    requests.filter((q) => q.cmd === 'audit').map((q) => (q.cmd === 'audit' ? q.action : '')),
    ['login', 'journal verify', 'journal verify', 'logout: serial line closed', 'login'],
    'the command the service missed could not be audited; everything else was',
  );
});

t.test('hashPinCommand reads the PIN twice and prints only the hash', async (t) => {
  const run = async (typed: string) => {
    const input = new PassThrough();
    const prompts = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    let printed = '';
    prompts.on('data', (c: Buffer) => (shown += c.toString()));
    output.on('data', (c: Buffer) => (printed += c.toString()));
    const done = hashPinCommand({ input, prompts, output });
    input.end(typed);
    try {
      return { hash: await done, shown, printed };
    } catch (e) {
      return { error: (e as Error).message, shown, printed };
    }
  };
  const ok = await run('246810\r\n246810\r\n');
  t.ok(ok.hash && await verifyPin('246810', ok.hash), 'the hash verifies');
  t.equal(ok.printed, `${ok.hash}\n`, 'stdout carries the hash alone');
  t.notMatch(ok.shown, /246810/, 'the PIN is never echoed');
  t.notMatch(ok.shown, /\*/, 'not even stars: the length is not shown');

  t.equal((await run('246810\n246811\n')).error, 'the two PINs differ');
  t.equal((await run('12a4\n')).error, 'a PIN is 6 to 12 digits');
  t.equal((await run('1234\n1234\n')).error, 'a PIN is 6 to 12 digits', 'four digits are too few');
  t.equal((await run('123456\n123456\n')).printed.split('$')[0], 'scrypt');
});
