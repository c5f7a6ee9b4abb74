import t from 'tap';
import { runChaos, validatorOf, type RunReport } from '../../hw-sim/chaos/campaign.js';
import { formatRun, formatSummary, replayCommand } from '../../hw-sim/chaos/format.js';
import { chaosCommand } from '../../hw-sim/chaos/command.js';
import type { ValidatorModel } from '../../hw-sim/stack.js';

t.test('mixed rotates the protocol by the seed alone, so a seed replays with its own protocol', async (t) => {
  t.same([0, 1, 2, 3, 4, 5].map((s) => validatorOf(s, 'mixed')), ['id003', 'essp', 'ccnet', 'id003', 'essp', 'ccnet']);
  t.equal(validatorOf(154, 'mixed'), 'essp');
  t.equal(validatorOf(2, 'mixed'), 'ccnet');
  for (const m of ['id003', 'essp', 'ccnet'] as const) t.equal(validatorOf(154, m), m, `--validator ${m} fixes it`);
  t.equal(replayCommand({ seed: 154, validator: 'essp' }), 'kiosk-sim chaos --runs 1 --seed 154 --validator essp');
});

/** A stand-in run: finishes after `delay(seed)` ms, fails on the seeds in `failing`. */
function fakeRunner(delay: (seed: number) => number, failing: number[] = [], running?: { now: number; max: number }) {
  return async (seed: number, _keep: boolean, validator: ValidatorModel): Promise<RunReport> => {
    if (running) running.max = Math.max(running.max, ++running.now);
    await new Promise((r) => setTimeout(r, delay(seed)));
    if (running) running.now--;
    const ok = !failing.includes(seed);
    return {
      seed,
      validator,
      ok,
      steps: 1,
      transactions: 2,
      kills: 1,
      killDetails: ['timed'],
      cardPath: seed % 2 === 0 ? 'reader' : 'terminal',
      cards: { requested: 1, approved: 1, declined: 0, unknown: 0 },
      violations: ok ? [] : ['a made-up violation'],
      recorded: [],
      plan: 'p',
      outcomes: ['paid'],
      wallet: { code: 1, qr: 0, paid: 1 },
      durationMs: delay(seed),
      phases: {},
    };
  };
}

t.test('--jobs runs at once, and the report and each line stay in seed order whatever finishes first', async (t) => {
  // Later seeds finish first.
  const delay = (seed: number) => (20 - seed) * 15;
  const told: number[] = [];
  const running = { now: 0, max: 0 };
  const parallel = await runChaos({ runs: 8, seed: 10, jobs: 3, runner: fakeRunner(delay, [13], running), onRun: (r) => told.push(r.seed) });
  t.equal(running.max, 3, 'three runs were under way at once');
  const serial = await runChaos({ runs: 8, seed: 10, jobs: 1, runner: fakeRunner(delay, [13]) });
  t.same(parallel.results.map((r) => r.seed), [10, 11, 12, 13, 14, 15, 16, 17]);
  t.same(told, [10, 11, 12, 13, 14, 15, 16, 17], 'the lines come out in seed order');
  t.same(
    parallel.results.map((r) => [r.seed, r.validator, r.ok]),
    serial.results.map((r) => [r.seed, r.validator, r.ok]),
    'the same per-seed results as one at a time',
  );
  t.same(parallel.failingSeeds, [13]);
  t.equal(parallel.jobs, 3);
  t.same(parallel.byValidator, {
    ccnet: { runs: 3, kills: 3, transactions: 6, failing: 0 },
    essp: { runs: 3, kills: 3, transactions: 6, failing: 1 },
    id003: { runs: 2, kills: 2, transactions: 4, failing: 0 },
  });
  t.same(parallel.byCardPath, { reader: { runs: 4, kills: 4, transactions: 8, failing: 0 }, terminal: { runs: 4, kills: 4, transactions: 8, failing: 1 } });
  t.same(parallel.wallet, { code: 8, qr: 0, paid: 8 });
  const summary = formatSummary(parallel).join('\n');
  t.match(summary, /by validator: ccnet 3 run\(s\)\/3 kill\(s\)\/6 txn\(s\), essp 3 run\(s\)\/3 kill\(s\)\/6 txn\(s\)\/1 FAILING, id003 2 run/);
  t.match(summary, /failing seeds: 13 \(essp\)/);
  const failing = formatRun(parallel.results[3]!).join('\n');
  t.match(failing, /^FAIL {2}seed 13 essp:/);
  t.match(failing, /replay: kiosk-sim chaos --runs 1 --seed 13 --validator essp/);
});

t.test('a run that throws is a failing run of the report, not the end of the campaign', async (t) => {
  const report = await runChaos({
    runs: 3,
    seed: 1,
    jobs: 2,
    runner: (seed, keep, v) => (seed === 2 ? Promise.reject(new Error('no pty')) : fakeRunner(() => 1)(seed, keep, v)),
  });
  t.same(report.results.map((r) => [r.seed, r.ok]), [[1, true], [2, false], [3, true]]);
  t.match(report.results[1]!.violations[0], /could not be set up: no pty/);
});

t.test('bad options are refused with exit code 2 and say what is allowed', async (t) => {
  const base = { runs: '1', seed: '1', validator: 'mixed', jobs: '1' };
  const cases: [Partial<typeof base>, RegExp][] = [
    [{ runs: '0' }, /--runs must be a positive whole number, got 0/],
    [{ runs: '2.5' }, /--runs must be a positive whole number/],
    [{ seed: '-1' }, /--seed must be a whole number from 0 to 4294967295, got -1/],
    [{ validator: 'ID003' }, /--validator must be one of id003, essp, ccnet, mixed, got ID003/],
    [{ validator: 'cctalk' }, /--validator must be one of/],
    [{ jobs: '0' }, /--jobs must be a whole number from 1 to 16, got 0/],
    [{ jobs: 'two' }, /--jobs must be a whole number from 1 to 16, got two/],
    [{ jobs: '17' }, /--jobs must be a whole number from 1 to 16/],
  ];
  const errors: string[] = [];
  const original = console.error;
  console.error = (line: string) => errors.push(line);
  try {
    for (const [bad, message] of cases) {
      errors.length = 0;
      t.equal(await chaosCommand({ ...base, ...bad }), 2, JSON.stringify(bad));
      t.match(errors.join('\n'), message);
    }
  } finally {
    console.error = original;
  }
});
