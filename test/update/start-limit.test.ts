import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Supervisor } from '../../hw-sim/update/supervisor.js';
import { ReleaseLayout } from '../../src/update/layout.js';

// Issue 19, item 3: a crash loop faster than the trial's own start count. The systemd stand-in
// trips its start limit (StartLimitBurst) and runs the OnFailure= check, which is the product's
// `kiosk update rollback-check --failed`: the release on trial is replaced by the previous one,
// which then keeps running. Each release here is this tree's build plus a tiny service script.

const root = mkdtempSync(join(tmpdir(), 'kiosk-start-limit-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const layout = new ReleaseLayout(root);
const service = { '1': 'setInterval(() => undefined, 1000);', '2': "console.error('crash'); process.exit(1);" };
for (const [v, code] of Object.entries(service)) {
  mkdirSync(join(layout.releases, v), { recursive: true });
  symlinkSync(join(process.cwd(), 'dist'), join(layout.releases, v, 'dist'));
  writeFileSync(join(layout.releases, v, 'package.json'), readFileSync('package.json'));
  writeFileSync(join(layout.releases, v, 'service.mjs'), code);
}
symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
layout.point('previous', '1');
layout.point('current', '2');
const now = Date.now();
// maxStarts far above the burst: only the start limit can end this loop.
layout.writeState({ trial: { version: '2', from: '1', switchedAt: new Date(now).toISOString(), deadline: new Date(now + 600_000).toISOString(), starts: 0, maxStarts: 20, command: null }, rolledBack: null, good: null });

t.test('the start limit runs the product check, which rolls back; the previous release runs on', async (t) => {
  const sup = new Supervisor({ root, entry: 'service.mjs', args: [], restartMs: 100, burst: 3, intervalMs: 60_000, checkMs: 60_000 });
  t.teardown(() => sup.stop());
  const back = sup.waitFor<{ mode: string; action: string }>('check', (c) => c.mode === 'failed', 60_000);
  const previous = sup.waitFor<string>('start', (v) => v === '1', 60_000);
  sup.start();
  const c = await back;
  t.equal(c.action, 'rolled-back');
  await previous;
  t.same(sup.started, ['2', '2', '2', '1'], 'three crashes of the trial release, then the previous one');
  t.equal(layout.linked('current'), '1');
  t.match(layout.state().rolledBack, { version: '2', backTo: '1', reason: /stopped restarting/ });
  await new Promise((r) => setTimeout(r, 1000));
  t.ok(sup.running, 'the previous release keeps running');
});
