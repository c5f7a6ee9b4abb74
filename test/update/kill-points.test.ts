import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { until } from './fixture.js';
import { KillWorld } from './kill-world.js';

// Issue 19, item 5: the kiosk SIGKILLed during the unpacking, between the unpacking and the
// switch, and right after the switch. Each time it comes back on the old release or the new one,
// whole (no half-unpacked folder is ever current), and the update, sent again by the management
// server because it was never acknowledged, ends on the new release, marked good. The kill during
// the download is in kill-download.test.ts. Against the real runtime (dist/).

// Real processes on a shared machine: several starts, downloads and restarts of the kiosk.
t.setTimeout(900_000);
const k = new KillWorld(t);
// No download cap: none of these kill points is in the download.
await k.start();
const { w, sup } = k;

t.test('SIGKILL during the unpacking: back on the old release, unpacked again', async (t) => {
  await k.updateWithKill(t, '9.0.6', async () => {
    await until('the unpacking', () => (k.unpacking() ? true : undefined), 120_000);
    const restarted = sup.waitFor<string>('start', () => true, 30_000);
    sup.kill();
    t.equal(await restarted, k.old, 'the old release started again');
  });
});

t.test('SIGKILL between the unpacking and the switch: back on the old release', async (t) => {
  // The crash seam kills right after the switch is journalled, before the link is renamed.
  sup.nextEnv = { KIOSK_CRASH_AFTER: 'update.switched' };
  const restarted = sup.waitFor<string>('start', () => true, 30_000);
  sup.kill();
  await restarted;
  await w.inService(k.old);
  await k.updateWithKill(t, '9.0.7', async () => {
    const exit = await sup.waitFor<{ signal: string | null; version: string }>('exit', () => true, 240_000);
    t.equal(exit.signal, 'SIGKILL', 'killed by the seam');
    t.equal(readlinkSync(join(w.root, 'current')), `releases/${k.old}`, 'current still the old release');
  });
});

t.test('SIGKILL right after the switch: the new release starts on trial', async (t) => {
  await k.updateWithKill(t, '9.0.8', async () => {
    await until('the switch', () => (readlinkSync(join(w.root, 'current')) === 'releases/9.0.8' ? true : undefined), 240_000);
    const restarted = sup.waitFor<string>('start', () => true, 30_000);
    sup.kill();
    t.equal(await restarted, '9.0.8', 'the new release started');
  });
});
