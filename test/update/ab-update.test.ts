import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { A, B, UpdateWorld, until } from './fixture.js';

// Issue 19, items 1-3 and 5: the embedded kiosk, run from an A/B root by the systemd stand-in,
// takes the `update` command over the management link, downloads B through TUF, switches between
// transactions and comes back on B, which passes its health check and is marked good.
// Against the real runtime (dist/, `npm run build`).

// Real processes on a shared machine: several starts, downloads and restarts of the kiosk.
t.setTimeout(400_000);
const w = new UpdateWorld();
t.teardown(() => w.tearDown());
await w.setUp();

t.test('update A → B: downloaded, verified, switched, restarted and marked good', async (t) => {
  const published = await w.publish(await w.pack(B));
  const sup = w.startKiosk();
  await w.inService(A);
  const onB = w.inService(B, 90_000);
  const id = w.requestUpdate(published);
  await onB;
  await sup.waitFor<Record<string, unknown>>('log', (e) => e.release === B && e.msg === 'release passed its health check: marked good', 60_000);
  t.equal(readlinkSync(join(w.root, 'current')), `releases/${B}`);
  t.equal(readlinkSync(join(w.root, 'previous')), `releases/${A}`);
  t.same(readdirSync(join(w.root, 'releases')).sort(), [A, B], 'no half-unpacked folder left');
  const cmd = await until('the command acknowledged', () => (w.command(id)?.ackedAt ? w.command(id) : undefined));
  t.equal(cmd.ok, true, JSON.stringify(cmd.result));
  t.equal(cmd.result?.to, B);
  const hb = await until('a heartbeat from B after its health check', () => {
    const last = w.stack.host.management!.records().heartbeats[0]?.last as { version?: string; update?: { trial?: string } } | undefined;
    return last?.version === B && last.update?.trial === 'good' ? last : undefined;
  });
  t.match(hb.update, { running: B, trial: 'good' }, 'the heartbeat reports the release and its health');
  t.notOk(existsSync(join(w.stack.dir, 'update', 'parts')) && readdirSync(join(w.stack.dir, 'update', 'parts')).length > 0, 'no part file left');
  t.same(sup.started.slice(0, 2), [A, B]);
});
