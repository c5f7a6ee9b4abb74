import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { MatrixReport } from '../../hw-sim/matrix/render.js';

// Through the CLI (dist/, built by `npm test`'s pretest), as a user runs it: two faults × two
// steps, each cell a fresh simulated kiosk with the real runtime as a child process.
t.test('kiosk-sim matrix: a small matrix, every cell run and every fen accounted for', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'fault-matrix.md');
  const run = spawnSync(
    process.execPath,
    ['dist/hw-sim/cli.js', 'matrix', '--faults', 'validator-power-cycle-with-bill,printer-paper-out', '--steps', 'escrow,partial', '--out', out, '--json'],
    { encoding: 'utf8', timeout: 180_000 },
  );
  t.equal(run.status, 0, `exit code (stderr: ${run.stderr.slice(-2000)})`);
  const report = JSON.parse(run.stdout) as MatrixReport;
  t.same(report.faults.map((f) => f.id), ['validator-power-cycle-with-bill', 'printer-paper-out']);
  t.same(report.steps.map((s) => s.id), ['escrow', 'partial']);
  t.equal(report.cells.length, 4);
  for (const c of report.cells) {
    t.equal(c.error, null, `${c.fault} × ${c.step} ran to its end`);
    t.same(c.violations, [], `${c.fault} × ${c.step}: money accounted for`);
  }
  const cell = (fault: string, step: string) => report.cells.find((c) => c.fault === fault && c.step === step)!;
  // The matrix found this one: the reset after a power cut with the note in the stacker finishes
  // the stack without VEND VALID, and the note was neither credited nor recorded.
  const powerCut = cell('validator-power-cycle-with-bill', 'escrow');
  t.match(powerCut.ledger.transactions, [{ status: 'completed', endReason: 'paid', cashIn: 10000, credited: 8350, changePaid: 1650 }], 'the note in the stacker at the power cut is credited');
  t.equal(powerCut.ledger.emulatorCashbox, 10000, 'two notes in the box, both credited');
  const partial = cell('printer-paper-out', 'partial');
  t.match(partial.ledger.transactions, [{ status: 'completed', endReason: 'paid', credited: 8350, changePaid: 1650 }], 'paper out does not stop the payment');
  t.equal(partial.ledger.receipts[partial.ledger.transactions[0]!.id], 'queued', 'its receipt is queued for a reprint');

  const md = readFileSync(out, 'utf8');
  t.match(md, /^# Fault matrix\n/);
  t.match(md, /4 cells, 4 with every fen accounted for, 0 not\./);
  t.match(md, /\| fault \| note in escrow \/ stacking \| after first note \(partial\) \|/);
  const rows = md.split('\n').filter((l) => l.startsWith('| validator power cycle holding the note |') || l.startsWith('| printer paper out |'));
  t.equal(rows.length, 2, 'one row per fault');
  for (const row of rows) {
    t.equal(row.match(/✓/g)?.length, 2, `every cell of "${row.slice(0, 30)}…" is marked accounted`);
    t.notMatch(row, /✗/);
  }
  t.notMatch(md, /## Not accounted for/);
});
