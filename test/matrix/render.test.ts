import t from 'tap';
import type { CellResult } from '../../hw-sim/matrix/cell.js';
import { accounted, cellText, renderMarkdown, type MatrixReport } from '../../hw-sim/matrix/render.js';

function cell(over: Partial<CellResult> = {}): CellResult {
  return {
    fault: 'hopper-jam',
    step: 'change',
    terminalDuring: 'degraded',
    terminalAfter: 'inService',
    noticed: true,
    refused: null,
    ledger: {
      transactions: [
        { id: 't1', service: 'pay', status: 'completed', endReason: 'paid', cashIn: 10000, credited: 8350, changePaid: 200, changeOwed: 1450 },
      ],
      receipts: { t1: 'printed' },
      alarms: ['device-fault (hopper:h100)'],
      unresolvedNotes: 0,
      unattributedNotes: 0,
      emulatorCashbox: 10000,
      journalCashbox: 10000,
      coinsDropped: 200,
      coinsAccepted: 0,
    },
    violations: [],
    error: null,
    durationMs: 1000,
    ...over,
  };
}

function report(cells: CellResult[]): MatrixReport {
  return {
    date: '2026-11-26 18:00 UTC',
    machine: 'test box',
    durationMs: 5000,
    faults: [{ id: 'hopper-jam', label: 'hopper jam' }],
    steps: [
      { id: 'change', label: 'change payout' },
      { id: 'receipt', label: 'receipt printing' },
    ],
    cells,
  };
}

t.test('an accounted cell reads as its outcome with ✓', async (t) => {
  const c = cell();
  t.ok(accounted(c));
  t.equal(cellText(c), 'paid, change 2.00, owed 14.50 (claim), receipt printed<br>terminal degraded → in service<br>alarm: device-fault (hopper:h100)<br>✓');
});

t.test('a payment that went as without the fault is "no effect"', async (t) => {
  const c = cell({
    terminalDuring: 'inService',
    ledger: { ...cell().ledger, alarms: [], transactions: [{ ...cell().ledger.transactions[0]!, changePaid: 1650, changeOwed: 0 }], coinsDropped: 1650 },
  });
  t.equal(cellText(c), 'no effect<br>✓');
  t.equal(cellText({ ...c, noticed: false }), 'no effect (fault not reported)<br>✓');
});

t.test('a cell with money unaccounted is marked ✗ with what broke, and listed under the table', async (t) => {
  const bad = cell({ step: 'receipt', violations: ['the hoppers dropped 300 fen of coins, the journal says 200 fen of change was paid'] });
  t.notOk(accounted(bad));
  t.match(cellText(bad), /<br>✗ the hoppers dropped 300 fen of coins/);
  t.notMatch(cellText(bad), /✓/);
  const md = renderMarkdown(report([cell(), bad]));
  const row = md.split('\n').find((l) => l.startsWith('| hopper jam |'))!;
  const cells = row.split(' | ');
  t.match(cells[1], /✓$/, 'the change cell is accounted');
  t.match(cells[2], /✗ the hoppers dropped 300 fen/, 'the receipt cell is not');
  t.match(md, /2 cells, 1 with every fen accounted for, 1 not\./);
  t.match(md, /## Not accounted for\n\n- hopper-jam × receipt: the hoppers dropped 300 fen/);
});

t.test('a cell whose run failed is not counted as accounted', async (t) => {
  const broken = cell({ error: 'no matching h100 line within 20000 ms' });
  t.notOk(accounted(broken));
  t.equal(cellText(broken), '✗ run failed: no matching h100 line within 20000 ms');
});

t.test('the page has a legend, the date and the machine, and one column per step', async (t) => {
  const md = renderMarkdown(report([cell()]));
  t.match(md, /## Legend/);
  t.match(md, /on 2026-11-26 18:00 UTC on test box/);
  t.match(md, /\| fault \| change payout \| receipt printing \|\n\|---\|---\|---\|/);
  t.equal(md.split('\n').filter((l) => l.startsWith('| hopper jam |')).length, 1, 'one row per fault');
});
