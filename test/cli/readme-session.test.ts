// The README's own session, run as a newcomer would (issue 21, item 3): the commands and the
// outcomes are read from README.md itself (each `kiosk> ` line is typed, each `... a / b` line
// must be seen at the prompt before the next command), through the real launcher, twice in the
// same folder: the second run must find fresh demo bills. Needs dist/ (npm run build).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kiosk-readme-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

type Step = { type: 'send'; line: string } | { type: 'expect'; phrases: string[] };

/** The README's code blocks that are sessions at the prompt, in order. */
export function readmeSession(markdown: string): Step[] {
  const steps: Step[] = [];
  const blocks: string[][] = [];
  let open: string[] | undefined;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) {
      if (open) blocks.push(open);
      open = open ? undefined : [];
    } else open?.push(line);
  }
  for (const lines of blocks) {
    if (!lines.some((l) => l.startsWith('kiosk> '))) continue;
    for (const line of lines) {
      if (line.startsWith('kiosk> ')) steps.push({ type: 'send', line: line.slice('kiosk> '.length).replace(/\s+#.*$/, '').trim() });
      else if (line.startsWith('... ')) steps.push({ type: 'expect', phrases: line.slice(4).split(' / ').map((p) => p.trim()) });
    }
  }
  return steps;
}

class Launcher {
  output = '';
  private mark = 0;
  readonly child: ChildProcessWithoutNullStreams;

  constructor() {
    this.child = spawn(process.execPath, [join(root, 'dist/hw-sim/cli.js'), 'start', '--dir', dir], { cwd: root, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (c: string) => (this.output += c));
    this.child.stderr.setEncoding('utf8').on('data', (c: string) => (this.output += c));
  }

  /** Waits until `text` appears in what was printed since the last mark. */
  async waitFor(text: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.slice(this.mark).includes(text)) {
      if (this.child.exitCode !== null) throw new Error(`the launcher exited before printing '${text}':\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`'${text}' not printed within ${timeoutMs} ms; since the last command:\n${this.output.slice(this.mark)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async send(line: string): Promise<void> {
    this.mark = this.output.length;
    this.child.stdin.write(line + '\n');
    // The command was handled once the prompt is drawn again.
    await this.waitFor('kiosk> ', 15_000);
  }

  async quit(): Promise<number | null> {
    this.child.stdin.write('quit\n');
    return new Promise((r) => this.child.once('exit', (code) => r(code)));
  }
}

const session = readmeSession(readFileSync(join(root, 'README.md'), 'utf8'));

t.test('the README holds a session with commands and outcomes', async (t) => {
  t.ok(existsSync(join(root, 'dist/hw-sim/cli.js')), 'dist/ is built');
  t.ok(session.filter((s) => s.type === 'send').length >= 4, 'commands found');
  t.ok(session.some((s) => s.type === 'expect'), 'outcomes found');
});

for (const run of [1, 2]) {
  t.test(`run ${run}: the README's session at the launcher's prompt`, async (t) => {
    const launcher = new Launcher();
    t.teardown(() => {
      if (launcher.child.exitCode === null) launcher.child.kill('SIGKILL');
    });
    await launcher.waitFor('kiosk> ', 90_000);
    t.match(launcher.output, /terminal in service/, 'the prompt comes once the kiosk is in service');
    for (const step of session) {
      if (step.type === 'send') await launcher.send(step.line);
      else for (const phrase of step.phrases) await launcher.waitFor(phrase, 30_000);
      t.pass(step.type === 'send' ? `typed: ${step.line}` : `seen: ${step.phrases.join(' / ')}`);
    }
    t.notMatch(launcher.output, /paid coin \d+\/\d+/, 'no per-coin emulator lines at the prompt');
    t.notMatch(launcher.output, /device powered up/, 'no routine power-up warning');
    t.equal(await launcher.quit(), 0, 'quit stops it cleanly');
    const log = readFileSync(join(dir, 'kiosk.log'), 'utf8');
    t.match(log, /"msg":"note stacked and credited"/, 'the full JSON log is in kiosk.log');
  });
}
