import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { A, UpdateWorld, until, type Breakage } from './fixture.js';

// Issue 19, items 3 and 5: a release broken on purpose (its compiled product code changed) is
// switched to, fails its trial, and the previous release comes back by itself through the
// product's `kiosk update rollback-check` that the systemd stand-in runs; the rollback is
// journalled by A and reported to the management server as an alarm.
// Against the real runtime (dist/, `npm run build`).

// Real processes on a shared machine: several starts, downloads and restarts of the kiosk.
t.setTimeout(900_000);
const w = new UpdateWorld();
t.teardown(() => w.tearDown());
// A short health limit: "never in service" is only found out when it passes.
await w.setUp({ healthMs: 12_000, maxStarts: 3 });
const sup = w.startKiosk();
await w.inService(A);

const only = process.env.UPDATE_TEST_ONLY;
const cases = (
  [
    ['exits-at-start', '9.1.0'],
    ['never-in-service', '9.2.0'],
    ['fails-self-test', '9.3.0'],
  ] as [Breakage, string][]
).filter(([b]) => !only || b === only);

for (const [breakage, version] of cases) {
  t.test(`B ${breakage}: rolled back to A by itself, and reported`, async (t) => {
    const published = await w.publish(await w.pack(version, { breakage }));
    const backOnA = sup.waitFor<Record<string, unknown>>('log', (e) => e.release === A && e.msg === 'the update was rolled back', 300_000);
    const id = w.requestUpdate(published);
    await sup.waitFor<string>('start', (v) => v === version, 240_000);
    const entry = await backOnA;
    t.equal(entry.from, version);
    t.equal(readlinkSync(join(w.root, 'current')), `releases/${A}`, 'current points at A again');
    await w.inService(A);
    t.ok(sup.checks.some((c) => c.action === 'rolled-back' && c.detail.includes(version)), 'the product check rolled back');
    const alarm = await until('the rollback alarm at the server', () =>
      w.stack.host.management!.records().alarms.find((a) => a.kind === 'update-rolled-back' && a.action === 'raise' && a.detail.includes(version)),
    );
    t.match(alarm.detail, `release ${version} was rolled back to ${A}`);
    // The command itself was carried out by A (it switched); the failure is the alarm's to tell.
    t.equal(w.command(id)?.result?.to, version);
  });
}
