import t from 'tap';
import { until } from './fixture.js';
import { KillWorld } from './kill-world.js';

// Issue 19, item 5: the kiosk SIGKILLed during the download comes back on the old release, and the
// update, sent again by the management server because it was never acknowledged, resumes the
// download with an HTTP Range request and ends on the new release, marked good. The other kill
// points are in kill-points.test.ts. Against the real runtime (dist/).

// Real processes on a shared machine: starts, a download and restarts of the kiosk.
t.setTimeout(900_000);
const k = new KillWorld(t);
// The cap makes the download last a few seconds, long enough to be killed in.
await k.start({ bytesPerSec: 400_000 });
const { w, sup } = k;

type Download = { phase: string; bytes: number; total: number | null };
/** The download's progress as the kiosk's last heartbeat reported it to the management server. */
function reportedDownload(): Download | undefined {
  const last = w.stack.host.management!.records().heartbeats[0]?.last as { update?: { download?: Download | null } } | undefined;
  return last?.update?.download ?? undefined;
}

t.test('SIGKILL during the download: back on the old release, the download resumes', async (t) => {
  await k.updateWithKill(t, '9.0.5', async () => {
    const d = await until('a download under way, in the heartbeat', () => {
      const d = reportedDownload();
      return d?.phase === 'downloading' && d.bytes > 100_000 ? d : undefined;
    }, 180_000);
    t.ok(d.total !== null && d.bytes < d.total, `progress reported: ${d.bytes} of ${d.total} bytes`);
    const restarted = sup.waitFor<string>('start', () => true, 30_000);
    sup.kill();
    t.equal(await restarted, k.old, 'the old release started again');
  });
  t.ok(w.stack.host.management!.updates!.requests.some((r) => r.path.includes('9.0.5') && r.range !== null), 'the download resumed with a Range request');
});
