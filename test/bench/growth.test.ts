import t from 'tap';
import { fitSlope, judgeAfterWarmUp, judgeGrowth, type GrowthRule, type Sample } from '../../hw-sim/soak/growth.js';

const RULE: GrowthRule = { minTransactions: 1000, minSamples: 10, floor: 4_000_000, fraction: 0.05, format: (v) => `${Math.round(v)}` };

/** 200 samples over `n` transactions: a base, a warm-up rise in the first half, noise, and a steady leak per transaction. */
function series(n: number, leakPerTxn: number, noise = 3_000_000): Sample[] {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: 200 }, (_, i) => {
    const at = Math.round(((i + 1) * n) / 200);
    const warmUp = Math.min(at, n / 4) * (40_000_000 / (n / 4));
    return { at, value: 90_000_000 + warmUp + leakPerTxn * at + (random() - 0.5) * noise };
  });
}

t.test('the slope of a straight line is found', async (t) => {
  t.equal(fitSlope([{ at: 0, value: 5 }, { at: 10, value: 25 }, { at: 20, value: 45 }]), 2);
  t.equal(fitSlope([{ at: 3, value: 1 }]), 0);
});

t.test('a warm-up in the first half and noise are not growth', async (t) => {
  const v = judgeGrowth(series(10_000, 0), 10_000, RULE);
  t.ok(v.judged);
  t.notOk(v.growing, v.reason);
});

t.test('a steady leak of 2 KB per transaction is growth', async (t) => {
  const v = judgeGrowth(series(10_000, 2_000), 10_000, RULE);
  t.ok(v.judged);
  t.ok(v.growing, v.reason);
  t.ok(Math.abs(v.slope - 2_000) < 200, `slope ${v.slope} is about 2000 per transaction`);
  t.match(v.reason, /keeps growing/);
});

t.test('a short run gets no verdict', async (t) => {
  const v = judgeGrowth(series(50, 100_000), 50, RULE);
  t.notOk(v.judged);
  t.notOk(v.growing);
  t.match(v.reason, /not judged: 50 transactions/);
  const sparse = judgeGrowth(series(5000, 0).filter((_, i) => i % 40 === 0), 5000, RULE);
  t.notOk(sparse.judged);
  t.match(sparse.reason, /samples in the second half/);
});

t.test('the end is judged against the RSS after the warm-up', async (t) => {
  const at = (n: number, v: (a: number) => number) => Array.from({ length: 200 }, (_, i) => ({ at: ((i + 1) * n) / 200, value: v(((i + 1) * n) / 200) }));
  // 96 MB rising to 140 MB over the first 1,000 payments, then flat: within.
  const settled = judgeAfterWarmUp(at(10_000, (a) => 96e6 + Math.min(a, 1000) * 44_000), 10_000, 1000, 1.15, String);
  t.ok(settled.judged);
  t.notOk(settled.over, settled.reason);
  t.equal(settled.warm, 140e6);
  // 3 KB per payment after the warm-up ends 27 MB higher: 1.19 ×, over.
  const leaking = judgeAfterWarmUp(at(10_000, (a) => 140e6 + Math.max(0, a - 1000) * 3_000), 10_000, 1000, 1.15, String);
  t.ok(leaking.over, leaking.reason);
  t.ok(Math.abs(leaking.ratio - 167 / 140) < 0.001, `ratio ${leaking.ratio}`);
  t.match(leaking.reason, /over the 1\.15 allowed/);
  const short = judgeAfterWarmUp(at(1500, () => 1), 1500, 1000, 1.15, String);
  t.notOk(short.judged);
  t.notOk(short.over);
});
