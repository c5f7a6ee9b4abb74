import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import t from 'tap';
import { Supervisor } from '../../hw-sim/update/supervisor.js';
import { ReleaseLayout } from '../../src/update/layout.js';

// The systemd stand-in lives in the test's process, beside the device emulators. Its product
// checks are Node processes that take a second to start on a loaded machine; run synchronously,
// they left the validator emulator unanswered that long and the kiosk took the validator offline.

const root = mkdtempSync(join(tmpdir(), 'kiosk-supervisor-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const layout = new ReleaseLayout(root);
mkdirSync(join(layout.releases, '1'), { recursive: true });
symlinkSync(join(process.cwd(), 'dist'), join(layout.releases, '1', 'dist'));
writeFileSync(join(layout.releases, '1', 'package.json'), readFileSync('package.json'));
writeFileSync(join(layout.releases, '1', 'service.mjs'), 'setInterval(() => undefined, 1000);');
symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
layout.point('current', '1');

t.test('the product checks run beside this process, not in its way', async (t) => {
  const sup = new Supervisor({ root, entry: 'service.mjs', args: [], restartMs: 100, checkMs: 50 });
  t.teardown(() => sup.stop());
  const took: number[] = [];
  let since = performance.now();
  sup.on('check', () => {
    took.push(performance.now() - since);
    since = performance.now();
  });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  sup.start();
  while (took.length < 4) await new Promise((r) => setTimeout(r, 20));
  delay.disable();
  t.same(sup.checks.slice(0, 2).map((c) => c.mode), ['start', 'timer'], 'the start check, then the timer');
  t.ok(sup.checks.every((c) => c.action === 'none'), 'nothing on trial, nothing done');
  const shortest = Math.min(...took);
  const worst = delay.max / 1e6;
  t.ok(worst < shortest / 2, `the event loop waited at most ${worst.toFixed(0)} ms while a check took ${shortest.toFixed(0)} ms or more`);
});
