// The command line as the lead wires it (registerDiagCommand on a commander program): exit codes,
// usage errors, and stdout holding only the JSON object. Run in this process, with process.exit,
// stdout and console.error stood in for, because the emulators answering it live here too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { registerDiagCommand } from '../../src/diag/command.js';

class Exit extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

async function kiosk(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command().name('kiosk').exitOverride();
  registerDiagCommand(program);
  let stdout = '';
  let stderr = '';
  const { exit } = process;
  const write = process.stdout.write;
  const error = console.error;
  process.exit = ((code?: number) => {
    throw new Exit(code ?? 0);
  }) as typeof process.exit;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  console.error = (...parts: unknown[]) => {
    stderr += parts.join(' ') + '\n';
  };
  try {
    await program.parseAsync(['node', 'kiosk', 'diag', ...args]);
    throw new Error('kiosk diag returned without exiting');
  } catch (err) {
    if (err instanceof Exit) return { code: err.code, stdout, stderr };
    throw err;
  } finally {
    process.exit = exit;
    process.stdout.write = write;
    console.error = error;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'kiosk-diag-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('usage errors exit 2 before any device is opened', async (t) => {
  const alone = await kiosk('--port', join(dir, 'tty'));
  t.equal(alone.code, 2);
  t.match(alone.stderr, /--port and --kind go together/);
  const address = await kiosk('--port', join(dir, 'tty'), '--kind', 'id003', '--address', '3');
  t.equal(address.code, 2);
  t.match(address.stderr, /--address is for --kind cctalk-coin or cctalk-hopper/);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ validator: {}, server: { host: '127.0.0.1', port: 1 } }));
  const bad = await kiosk('--config', join(dir, 'bad.json'));
  t.equal(bad.code, 2);
  t.match(bad.stderr, /validator\.port/);
  t.equal(bad.stdout, '');
});

t.test('a failed device exits 1; --json prints the JSON object and nothing else', async (t) => {
  const r = await kiosk('--port', join(dir, 'gone'), '--kind', 'cctalk-hopper', '--address', '4', '--json');
  t.equal(r.code, 1, r.stderr);
  const result = JSON.parse(r.stdout) as { ok: boolean; devices: { port: string; steps: { detail: string }[] }[] };
  t.equal(result.ok, false);
  t.equal(result.devices[0]?.port, join(dir, 'gone'));
  t.match(result.devices[0]?.steps[0]?.detail, /^cannot open/);
});

t.test('a configuration whose devices all pass exits 0', async (t) => {
  const stack = new SimStack({ dir: join(dir, 'sim') });
  await stack.start();
  t.teardown(() => stack.stop());
  const r = await kiosk('--config', stack.configPath);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^checking validator \(id003 on /);
  t.match(r.stdout, /the device passed\n$/);
});
