import t from 'tap';
import { fitSlope, judgeGrowth, type GrowthRule, type Sample } from '../../hw-sim/soak/growth.js';

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
