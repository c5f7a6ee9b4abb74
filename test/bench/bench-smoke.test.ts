import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { formatReport, runBenchmarks, type BenchReport } from '../../bench/run.js';
import { repoRoot } from '../../hw-sim/stack.js';

const EXPECTED = ['boot', 'escrow-reaction', 'fleet', 'journal', 'rss', 'screen-latency'];

// Tiny sizes: the figures must be well formed; their values are not looked at.
t.test('every benchmark runs and gives well-formed figures', async (t) => {
  // Not t.testdir(): the control socket's path must stay under the 108 bytes a unix socket allows.
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const report = await runBenchmarks({ smoke: true, dir });
  t.same(report.failures, [], 'no benchmark failed to run');
  const names = report.results.map((r) => r.benchmark);
  for (const name of EXPECTED) t.ok(names.includes(name), `${name} ran`);
  for (const r of report.results) {
    t.ok(r.method.length > 40, `${r.benchmark} says how it measured`);
    t.ok(r.figures.length > 0, `${r.benchmark} has figures`);
    for (const f of r.figures) {
      const what = `${r.benchmark} / ${f.name} / ${f.limit.name}`;
      t.ok(Number.isFinite(f.value) && f.value > 0, `${what}: value ${f.value}`);
      t.ok(Number.isFinite(f.limit.value) && f.limit.value > 0, `${what}: limit ${f.limit.value}`);
      t.equal(f.ratio, f.value / f.limit.value, `${what}: ratio is value / limit`);
      if (f.target === null) t.equal(f.met, null, `${what}: no target, no verdict`);
      else t.type(f.met, 'boolean', `${what}: a target has a verdict`);
    }
    t.ok(r.figures.some((f) => f.target !== null), `${r.benchmark} has at least one target`);
  }
  const text = formatReport(report).join('\n');
  t.match(text, /cores, Node v20/);
  for (const name of EXPECTED) t.match(text, new RegExp(`^${name}: `, 'm'));
});

t.test('an unknown benchmark name is refused, naming the ones there are', async (t) => {
  await t.rejects(runBenchmarks({ smoke: true, only: ['nonsense'] }), /no benchmark named nonsense \(there are: .*journal/);
});

t.test('npm run bench writes the results with the machine they were measured on', async (t) => {
  const out = join(t.testdir(), 'latest.json');
  const run = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'bench', 'run.js'), '--smoke', '--only', 'journal', '--out', out], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /durable events\/s .* = +\d+\.\d\d +target ≥ 0\.8 of the bare loop +(met|MISSED)/);
  const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport;
  t.match(report.machine, { cpu: String, cores: Number, node: process.version, date: String });
  t.equal(report.results.length, 1);
  t.equal(report.results[0]!.benchmark, 'journal');
});
