import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { SimStack } from '../../hw-sim/stack.js';
import { loadConfigFile } from '../../src/config/load.js';
import { hashPin } from '../../src/console/pin.js';
import { serveConsole } from '../../src/console/serve.js';

// The runtime runs from dist/: build first (`npx tsc -p tsconfig.json`).

const PIN = '482915';

async function until(check: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('the console on a serial line, against the real runtime of a simulated kiosk', async (t) => {
  // A short folder: a unix socket path must stay under 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-console-'));
  // Undone last-first: the console, then the service, then the folder.
  const cleanups: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  t.teardown(async () => {
    for (const undo of cleanups.reverse()) await undo();
  });
  const runtimeLog: string[] = [];
  const stack = new SimStack({
    onRuntimeLog: (e) => runtimeLog.push(JSON.stringify(e)),
    dir: join(dir, 'kiosk'),
    fitted: { coins: true, hoppers: true, printer: true },
    config: { console: { engineers: [{ name: 'alice', pin: hashPin(PIN) }], maxFailures: 3, lockoutMs: 60_000, idleMs: 600_000 } },
  });
  cleanups.push(() => stack.stop());
  await stack.start();
  await stack.startRuntime().catch((e: Error) => {
    throw new Error(`${e.message}; its last log lines:\n${runtimeLog.slice(-5).join('\n')}`);
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const st = await stack.control({ cmd: 'status' });
    if (st.ok && (st.terminal as { state: string }).state === 'inService') break;
    if (Date.now() > deadline) throw new Error(`the kiosk never came into service: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // The engineer's laptop on one end of a null-modem cable, the console on the other.
  const consoleEnd = join(dir, 'console');
  const laptopEnd = join(dir, 'laptop');
  const socat = spawn('socat', [`pty,raw,echo=0,link=${consoleEnd}`, `pty,raw,echo=0,link=${laptopEnd}`], { stdio: 'ignore' });
  cleanups.push(() => socat.kill());
  await until(() => existsSync(consoleEnd) && existsSync(laptopEnd), 'the socat links');

  const config = loadConfigFile(stack.configPath);
  let served = await serveConsole({ config, port: consoleEnd, socket: stack.socketPath });
  cleanups.push(() => served.stop());

  const laptop = new SerialTransport({ path: laptopEnd, baudRate: 115200 });
  await laptop.open();
  cleanups.push(() => laptop.close());
  let screen = '';
  const raw: Buffer[] = [];
  laptop.on('data', (chunk) => {
    raw.push(chunk);
    screen += chunk.toString('utf8');
  });
  let mark = 0;
  /** Types a line (as the terminal sends it: CR) and waits for the console's answer. */
  const type = async (text: string | Buffer, expect: RegExp): Promise<string> => {
    mark = screen.length;
    await laptop.write(typeof text === 'string' ? Buffer.from(text + '\r') : text);
    await until(() => expect.test(screen.slice(mark)), `${expect} after ${JSON.stringify(text.toString())}; the screen shows:\n${screen.slice(mark)}`);
    return screen.slice(mark);
  };

  await type('', /SIM-0001 login: $/);
  await type('alice', /PIN: $/);
  const bad = await type('111111', /login incorrect\r\nSIM-0001 login: $/);
  t.match(bad, /^\r\nlogin incorrect/, 'the PIN is not echoed at all, not even as stars');

  await type('alice', /PIN: $/);
  const welcome = await type(PIN, /alice@SIM-0001> $/);
  t.notMatch(welcome, PIN, 'the good PIN is not echoed either');
  t.match(welcome, /welcome, alice/);

  const status = await type('status', /alice@SIM-0001> $/);
  t.match(status, /\r\nterminal: in service\r\n/);
  t.match(status, /services: pay, topup, lookup/);
  t.match(status, /hopper:h100\s+ok/);
  t.notMatch(status.replace(/\r\n/g, ''), /[\r\n]/, 'every line ends with CRLF');

  const counters = await type('counters', /alice@SIM-0001> $/);
  t.match(counters, /cash box \(notes\):/);
  t.match(counters, /h100\s+1 yuan\s+200\s+200\.00/);
  t.match(counters, /h50\s+5 jiao\s+200\s+100\.00/);

  const refill = await type('refill h100 50', /alice@SIM-0001> $/);
  t.match(refill, /h100: 50 coins added, level now 250/);
  const hoppers = await stack.control({ cmd: 'hoppers' });
  t.equal(((hoppers.ok ? hoppers.hoppers : []) as { name: string; level: number }[]).find((h) => h.name === 'h100')?.level, 250, 'the service recorded the refill');

  // Line noise: NULs, high bytes, escape sequences (delete, up arrow, F1), a stray '('; then
  // Ctrl-U clears whatever it left on the line, and a clean command follows.
  const noise = Buffer.from([0x00, 0xff, 0x1b, 0x5b, 0x33, 0x7e, 0x1b, 0x5b, 0x41, 0x81, 0x9b, 0x07, 0x04, 0x1a, 0xc3, 0x28, 0x1b, 0x4f, 0x50, 0xfe]);
  await laptop.write(noise);
  await laptop.write(Buffer.from([0x15]));
  const after = await type('outbox', /alice@SIM-0001> $/);
  t.match(after, /outbox: \d+ pending/, 'the console still answers after the noise');
  const echoed = [...Buffer.concat(raw)].filter((b) => b < 0x20 && ![0x07, 0x08, 0x0a, 0x0d].includes(b));
  t.same(echoed, [], 'no control byte of the noise came back, only BS, BEL and line ends');
  t.notOk(Buffer.concat(raw).some((b) => b === 0x00 || b === 0xff || b === 0xfe || b === 0x9b || b === 0x81), 'nor any of its binary bytes');

  const bye = await type('logout', /SIM-0001 login: $/);
  t.match(bye, /logged out/);

  // The service journalled every console action.
  const db = new Database(config.journal.path, { readonly: true, fileMustExist: true });
  const audits = (db.prepare("SELECT data FROM events WHERE type = 'console.audit' ORDER BY seq").all() as { data: string }[]).map(
    (r) => JSON.parse(r.data) as { who: string; action: string; ok: boolean },
  );
  db.close();
  t.same(
    audits.map((a) => [a.who, a.action, a.ok]),
    [
      ['-', 'login refused: wrong PIN (name "alice")', false],
      ['alice', 'login', true],
      ['alice', 'status', true],
      ['alice', 'counters', true],
      ['alice', 'refill h100 50', true],
      ['alice', 'outbox', true],
      ['alice', 'logout', true],
    ],
  );

  // An 80×24 terminal: every row at most 80 columns, no screen of output past 23 rows.
  const rows = (text: string) => text.split('\r\n');
  const fits = (text: string, what: string) => {
    for (const row of rows(text)) t.ok(row.length <= 80, `${what}: ${row.length} columns: ${row}`);
  };
  await stack.control({ cmd: 'start', service: 'lookup' });
  await stack.control({ cmd: 'cancel' });
  for (let ended = false; !ended; await new Promise((r) => setTimeout(r, 50))) {
    const st = await stack.control({ cmd: 'status' });
    ended = st.ok && st.transaction === null;
  }
  await type('alice', /PIN: $/);
  await type(PIN, /alice@SIM-0001> $/);
  const help = await type('help', /--more-- \(Enter: next page, q: stop\) $/);
  // The typed line scrolls away: the output and the --more-- prompt fill the 24 rows at most.
  t.ok(rows(help).length - 1 <= 24, `help's first screen: ${rows(help).length - 1} rows`);
  fits(help, 'help');
  const helpRest = await type('', /alice@SIM-0001> $/);
  t.match(helpRest, /exit/);
  fits(helpRest, 'help, second screen');
  const txns = await type('transactions', /alice@SIM-0001> $/);
  fits(txns, 'transactions');
  t.match(txns, /customer-cancel/, 'how it ended, not only that it did');
  const id = /^\S+\s+(\S+)\s+lookup/m.exec(txns)?.[1] ?? '';
  t.ok(id.length >= 7 && id.length < 36, `a short id: ${id}`);
  const one = await type(`transaction ${id}`, /alice@SIM-0001> $/);
  t.match(one, /txn\.started/, 'the short id is accepted');
  fits(one, 'transaction');
  await type('logout', /SIM-0001 login: $/);

  // Ctrl-C and Ctrl-D at the login and PIN prompts: back to a fresh login prompt on a serial line.
  await type(Buffer.from([0x03]), /SIM-0001 login: $/);
  await type('alice', /PIN: $/);
  await type(Buffer.from([0x04]), /SIM-0001 login: $/);
  await type('exit', /SIM-0001 login: $/);

  // Locked after three failures; neither a new console nor a restarted service opens the lock.
  for (let i = 0; i < 3; i++) {
    await type('alice', /PIN: $/);
    await type('000000', /SIM-0001 login: $/);
  }
  await type('alice', /console locked after too many failed logins: try again in/);
  await served.stop();
  served = await serveConsole({ config, port: consoleEnd, socket: stack.socketPath });
  await type('', /SIM-0001 login: $/).catch(() => undefined);
  await type('alice', /console locked after too many failed logins: try again in/);
  await stack.killRuntime('SIGTERM');
  await stack.startRuntime();
  await type('alice', /console locked after too many failed logins: try again in/);
});
