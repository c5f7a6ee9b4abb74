import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { loadConfigFile } from '../../src/config/load.js';

// The runtime runs from dist/: build first (`npm run build`). Needs root (to run a client as
// another user with setpriv), as the tests run in CI.

const run = promisify(execFile);
const NOBODY = 65534;

/** A control client in its own process, as user `nobody` (uid 65534) in one group: one answer per request line. */
async function asNobody(socket: string, requests: object[], group = NOBODY): Promise<string> {
  const client = `
    const c = require('net').connect(process.argv[1]);
    const lines = JSON.parse(process.argv[2]);
    let out = '', n = 0;
    c.on('error', (e) => { process.stdout.write('ERROR ' + e.code + '\\n'); process.exit(0); });
    c.on('connect', () => { for (const l of lines) c.write(JSON.stringify(l) + '\\n'); });
    c.on('data', (d) => { out += d; if (out.split('\\n').length > lines.length) { process.stdout.write(out); c.end(); } });
    c.on('close', () => process.exit(0));`;
  const { stdout } = await run('setpriv', [`--reuid=${NOBODY}`, `--regid=${group}`, `--groups=${group}`, process.execPath, '-e', client, socket, JSON.stringify(requests)], {
    timeout: 20_000,
  });
  return stdout;
}

t.test('the console socket names who connected and allows that user only the engineers\' commands', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-peer-'));
  // Other users may pass through the folders to the sockets; the sockets' own modes decide.
  chmodSync(dir, 0o711);
  const stack = new SimStack({ dir: join(dir, 'kiosk'), config: { control: { consoleGroup: NOBODY } } });
  t.teardown(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await stack.start();
  chmodSync(join(dir, 'kiosk'), 0o711);
  await stack.startRuntime();
  const config = loadConfigFile(stack.configPath);

  const answers = (await asNobody(config.control.consoleSocket, [
    { cmd: 'status' },
    { cmd: 'start', service: 'pay' },
    { cmd: 'hopper-level', name: 'h100', level: 5 },
    { cmd: 'audit', who: 'alice', action: 'status', ok: true },
  ]))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { ok: boolean; error?: string });
  t.equal(answers.length, 4);
  t.equal(answers[0]?.ok, true, 'a read-only command is allowed');
  t.same(answers[1], { ok: false, error: "'start' is not allowed for user nobody (uid 65534)" }, 'a customer transaction is refused');
  t.equal(answers[2]?.ok, false, 'setting a hopper level by hand is refused');
  t.equal(answers[3]?.ok, true, 'the audit is taken');

  t.match(await asNobody(config.control.socket, [{ cmd: 'status' }]), /^ERROR EACCES/, "the service's own socket stays closed to other users");
  t.match(await asNobody(config.control.consoleSocket, [{ cmd: "status" }], 100), /^ERROR EACCES/, 'and the console socket to users outside its group');

  const st = await stack.control({ cmd: 'status' });
  t.equal(st.ok && st.transaction, null, 'no transaction was started');
  const db = new Database(config.journal.path, { readonly: true, fileMustExist: true });
  const audit = db.prepare("SELECT data FROM events WHERE type = 'console.audit' ORDER BY seq DESC LIMIT 1").get() as { data: string };
  db.close();
  t.match(JSON.parse(audit.data), { who: 'alice', action: 'status', peer: { uid: NOBODY, user: 'nobody' } }, 'the audit names who really sent it');
});
