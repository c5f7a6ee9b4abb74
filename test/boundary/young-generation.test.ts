// Issue 20: an idle kiosk carried ~30 MB of young generation that V8 grew for its start-up burst
// and never gave back. `kiosk run` imports src/young-generation.js before anything else; after a
// burst like that one, its young generation is still at its initial size.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { repoRoot } from '../../hw-sim/stack.js';

/** Objects that live through a few scavenges, as module loading and the journal's replay leave them. */
const BURST = `
if (process.env.FIRST) await import(process.env.FIRST);
const { getHeapSpaceStatistics } = await import('node:v8');
let keep = [];
for (let i = 0; i < 3_000_000; i++) { keep.push({ n: i, s: 'x' + i }); if (keep.length > 200_000) keep = []; }
console.log(getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
`;

function newSpaceAfterBurst(first?: string): number {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', BURST], { env: { ...process.env, NODE_OPTIONS: '', ...(first ? { FIRST: first } : {}) }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

const MB = 1024 * 1024;

t.test('after a start-up burst the young generation is still at its initial size', async (t) => {
  const plain = newSpaceAfterBurst();
  t.ok(plain >= 16 * MB, `without it V8 grows the young generation (${(plain / MB).toFixed(1)} MiB): the burst is big enough to show it`);
  const kept = newSpaceAfterBurst(join(repoRoot(), 'dist', 'src', 'young-generation.js'));
  t.ok(kept <= 8 * MB, `with it: ${(kept / MB).toFixed(1)} MiB`);
});

t.test('kiosk run imports it before anything else', async (t) => {
  const first = /^import .*$/m.exec(readFileSync(join(repoRoot(), 'src', 'run-kiosk.ts'), 'utf8'))?.[0];
  t.equal(first, "import './young-generation.js';");
});
