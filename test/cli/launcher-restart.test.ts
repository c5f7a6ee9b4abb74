// The embedded launcher when its runtime dies (issue 21, item 5): it says so, starts the runtime
// again as systemd's Restart=always would, says that too, and the screen keeps its address.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kiosk-launcher-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** The launcher's child running the kiosk runtime, found in /proc by its parent and command line. */
function runtimePid(parent: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('runtime-entry.js')) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

t.test('a runtime killed under the launcher is reported and restarted', async (t) => {
  const child = spawn(process.execPath, [join(root, 'dist/hw-sim/cli.js'), 'start', '--dir', dir], { cwd: root, stdio: 'pipe' });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const waitFor = async (re: RegExp, from: number, ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!re.test(output.slice(from))) {
      if (Date.now() > deadline) throw new Error(`${re} not printed; output:\n${output.slice(from)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitFor(/kiosk> /, 0, 90_000);
  const pid = runtimePid(child.pid!);
  t.ok(pid, 'the runtime runs as a child of the launcher');
  const before = output.length;
  process.kill(pid!, 'SIGKILL');
  await waitFor(/the kiosk runtime died \(killed by SIGKILL\); restarting it in 2 s, as systemd would/, before);
  await waitFor(/the kiosk runtime was restarted/, before, 60_000);
  await waitFor(/terminal in service/, before, 60_000);
  t.not(runtimePid(child.pid!), pid, 'a new runtime process');

  const asked = output.length;
  child.stdin.write('status\n');
  await waitFor(/"state": "inService"/, asked, 15_000);
  t.pass('the control socket answers again');

  const screens = readFileSync(join(dir, 'kiosk.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"screen listening"'))
    .map((l) => (JSON.parse(l) as { url: string }).url);
  t.equal(screens.length, 2, 'the screen was served by both runtimes');
  t.equal(screens[0], screens[1], 'at the same address, so an open page reconnects');

  child.stdin.write('quit\n');
  await new Promise((r) => child.once('exit', r));
});
