import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readManifest } from '../../src/update/bundle.js';
import { A, UpdateWorld, until } from './fixture.js';

// Issue 19, item 5: the kiosk SIGKILLed during the download, during the unpacking, between the
// unpacking and the switch, and right after the switch. Each time it comes back on the old release
// or the new one, whole (no half-unpacked folder is ever current), and the update, sent again by
// the management server because it was never acknowledged, ends on the new release, marked good.
// A download cut short resumes with an HTTP Range request. Against the real runtime (dist/).

// Real processes on a shared machine: several starts, downloads and restarts of the kiosk.
t.setTimeout(900_000);
const w = new UpdateWorld();
t.teardown(() => w.tearDown());
// The cap makes the download last a few seconds, long enough to be killed in.
await w.setUp({ bytesPerSec: 400_000, healthMs: 90_000 });
const sup = w.startKiosk();
await w.inService(A);
let old = A;

type Download = { phase: string; bytes: number; total: number | null };
/** The download's progress as the kiosk's last heartbeat reported it to the management server. */
function reportedDownload(): Download | undefined {
  const last = w.stack.host.management!.records().heartbeats[0]?.last as { update?: { download?: Download | null } } | undefined;
  return last?.update?.download ?? undefined;
}

const unpacking = () => existsSync(join(w.root, 'releases')) && readdirSync(join(w.root, 'releases')).some((n) => n.startsWith('.unpacking-'));

async function updateWithKill(t: Tap.Test, version: string, kill: () => Promise<void>): Promise<void> {
  const published = await w.publish(await w.pack(version));
  const good = sup.waitFor<Record<string, unknown>>('log', (e) => e.release === version && e.msg === 'release passed its health check: marked good', 300_000);
  w.requestUpdate(published);
  await kill();
  await good;
  // Every start ran a whole release: the old one or the new one.
  t.ok(sup.started.every((v) => [A, '9.0.5', '9.0.6', '9.0.7', '9.0.8'].includes(v)));
  t.equal(readlinkSync(join(w.root, 'current')), `releases/${version}`);
  t.notOk(unpacking(), 'no temporary folder left');
  const m = await readManifest(join(w.repo, published.url));
  t.equal(m.version, version);
  old = version;
}

t.test('SIGKILL during the download: back on the old release, the download resumes', async (t) => {
  await updateWithKill(t, '9.0.5', async () => {
    const d = await until('a download under way, in the heartbeat', () => {
      const d = reportedDownload();
      return d?.phase === 'downloading' && d.bytes > 100_000 ? d : undefined;
    }, 180_000);
    t.ok(d.total !== null && d.bytes < d.total, `progress reported: ${d.bytes} of ${d.total} bytes`);
    const restarted = sup.waitFor<string>('start', () => true, 30_000);
    sup.kill();
    t.equal(await restarted, old, 'the old release started again');
  });
  t.ok(w.stack.host.management!.updates!.requests.some((r) => r.path.includes('9.0.5') && r.range !== null), 'the download resumed with a Range request');
});

t.test('SIGKILL during the unpacking: back on the old release, unpacked again', async (t) => {
  await updateWithKill(t, '9.0.6', async () => {
    await until('the unpacking', () => (unpacking() ? true : undefined), 120_000);
    const restarted = sup.waitFor<string>('start', () => true, 30_000);
    sup.kill();
    t.equal(await restarted, old, 'the old release started again');
  });
});

t.test('SIGKILL between the unpacking and the switch: back on the old release', async (t) => {
  // The crash seam kills right after the switch is journalled, before the link is renamed.
  sup.nextEnv = { KIOSK_CRASH_AFTER: 'update.switched' };
  const restarted = sup.waitFor<string>('start', () => true, 30_000);
  sup.kill();
  await restarted;
  await w.inService(old);
  await updateWithKill(t, '9.0.7', async () => {
    const exit = await sup.waitFor<{ signal: string | null; version: string }>('exit', () => true, 240_000);
    t.equal(exit.signal, 'SIGKILL', 'killed by the seam');
    t.equal(readlinkSync(join(w.root, 'current')), `releases/${old}`, 'current still the old release');
  });
});

t.test('SIGKILL right after the switch: the new release starts on trial', async (t) => {
  await updateWithKill(t, '9.0.8', async () => {
    await until('the switch', () => (readlinkSync(join(w.root, 'current')) === 'releases/9.0.8' ? true : undefined), 240_000);
    const restarted = sup.waitFor<string>('start', () => true, 30_000);
    sup.kill();
    t.equal(await restarted, '9.0.8', 'the new release started');
  });
});
