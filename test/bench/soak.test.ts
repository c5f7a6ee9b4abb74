import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runSoak } from '../../hw-sim/soak/soak.js';

// Correctness only: 50 payments are too few for the memory verdict, and no timing is asserted.
t.test('a short soak: every payment ends as planned and every note and coin is accounted for', async (t) => {
  // Not t.testdir(): the control socket's path must stay under the 108 bytes a unix socket allows.
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-soak-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const report = await runSoak({ transactions: 50, dir });
  t.same(report.violations, [], 'no violations');
  t.equal(report.transactions, 50);
  t.same(report.kinds, { 'one note': 13, 'two notes': 13, 'note and coins': 12, 'change in coins': 12 });
  t.ok(report.ok);
  t.notOk(report.rss.verdict.judged, 'too short for a memory verdict');
  t.ok(report.rss.startBytes > 0 && report.rss.endBytes > 0 && report.rss.peakBytes >= report.rss.endBytes);
  t.ok(report.fds.start > 0 && report.fds.end > 0);
  t.ok(report.journal.bytesPerTransaction > 0, 'the journal grew');
  t.ok(report.samples.length >= 2);
  t.same(report.devices, ['validator', 'coin', 'h100', 'h50']);
});
