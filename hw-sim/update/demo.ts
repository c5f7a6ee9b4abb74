/**
 * `kiosk-sim updates`: a technician's A/B update of the simulated kiosk. The kiosk is installed
 * from this tree into an A/B root and run by the systemd stand-in; at the prompt the technician
 * packs and publishes a release (whole or broken on purpose), sends it the `update` command through
 * the reference management server, and watches it switch, pass its health check or roll back.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { BREAKAGES, brokenTree, type Breakage } from '../release/breakage.js';
import { installFirst } from '../release/install.js';
import { makeKeys } from '../release/keys.js';
import { packRelease } from '../release/pack.js';
import { publishRelease } from '../release/publish.js';
import { repoRoot, SimStack } from '../stack.js';
import { Supervisor } from './supervisor.js';
import { ReleaseLayout } from '../../src/update/layout.js';

const NOTABLE = /^(terminal (in service|degraded|out of service)|remote command update|release |switched|the update was rolled back|update waits)/;
const HELP = `commands:
  update <version> [${BREAKAGES.join('|')}]   pack this tree as <version> (broken on purpose if asked), publish it, send the update
  status                                      the releases, current and previous, a trial or a rollback
  quit`;

export async function runUpdateDemo(dirArg: string, firstVersion: string): Promise<void> {
  const dir = resolve(dirArg);
  const keys = join(dir, 'keys');
  const repo = join(dir, 'repo');
  const root = join(dir, 'opt');
  if (!existsSync(join(keys, 'root.json'))) makeKeys(keys);
  const pack = async (version: string, breakage?: Breakage): Promise<string> => {
    const from = breakage ? brokenTree(repoRoot(), join(dir, `tree-${version}`), breakage) : repoRoot();
    const out = join(dir, `kiosk-${version}.tar`);
    // Without node_modules: the root's node_modules link serves every release (see docs/updates.md).
    await packRelease({ from, version, out, include: ['dist', 'package.json'], deps: false });
    return out;
  };
  if (!existsSync(join(root, 'current'))) {
    console.log(`installing ${firstVersion} into ${root}`);
    await installFirst(root, await pack(firstVersion), { nodeModules: join(repoRoot(), 'node_modules') });
  }
  const stack = new SimStack({ dir: join(dir, 'sim'), updatesDir: repo, config: { update: { trustedRoot: join(keys, 'root.json'), healthMs: 30_000, maxStarts: 3 } } });
  await stack.start();
  const sup = new Supervisor({ root, entry: 'dist/hw-sim/runtime-entry.js', args: ['--config', stack.configPath], restartMs: 500, burst: 5, intervalMs: 60_000, checkMs: 3000 });
  sup.on('start', (v: string) => console.log(`[supervisor] starting release ${v}`));
  sup.on('exit', (x: { code: number | null; signal: string | null; version: string }) => console.log(`[supervisor] release ${x.version} exited (${x.signal ?? `code ${x.code}`})`));
  sup.on('check', (c: { mode: string; action: string; detail: string }) => {
    if (c.action !== 'none') console.log(`[rollback-check ${c.mode}] ${c.action}: ${c.detail}`);
  });
  sup.on('log', (e: Record<string, unknown>) => {
    if (typeof e.msg === 'string' && NOTABLE.test(e.msg)) console.log(`[${String(e.release)}] ${e.msg}${e.err ? `: ${String(e.err)}` : ''}`);
  });
  sup.start();
  console.log(HELP);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (;;) {
      const [cmd, version, how] = (await rl.question('update> ')).trim().split(/\s+/);
      if (!cmd) continue;
      if (cmd === 'quit' || cmd === 'exit') break;
      if (cmd === 'status') {
        const l = new ReleaseLayout(root);
        console.log(JSON.stringify({ current: l.linked('current'), previous: l.linked('previous'), ...l.state() }, null, 2));
      } else if (cmd === 'update' && version) {
        if (how && !(BREAKAGES as readonly string[]).includes(how)) {
          console.log(`unknown breakage '${how}' (${BREAKAGES.join(', ')})`);
          continue;
        }
        const [p] = await publishRelease({ keysDir: keys, repo, bundles: [await pack(version, how as Breakage | undefined)] });
        const m = stack.host.management!;
        m.queueCommand({ terminalId: 'SIM-0001', type: 'update', args: { version, url: `${m.url}/v1/updates/${p!.url}`, digest: p!.sha256 }, by: 'technician' });
        console.log(`published ${p!.name} (${p!.length} bytes, sha256 ${p!.sha256.slice(0, 12)}…); update sent`);
      } else console.log(HELP);
    }
  } finally {
    rl.close();
    await sup.stop();
    await stack.stop();
  }
}
