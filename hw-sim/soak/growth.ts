/** One reading of a counter (RSS, open fds) after `at` transactions. */
export interface Sample {
  at: number;
  value: number;
}

export interface GrowthVerdict {
  /** False when the run is too short for a verdict; `growing` is then false too. */
  judged: boolean;
  growing: boolean;
  /** Least-squares slope over the second half, per transaction. */
  slope: number;
  /** What that line rises by across the second half. */
  rise: number;
  /** The rise above which the counter counts as growing. */
  limit: number;
  reason: string;
}

export interface GrowthRule {
  /** Fewer transactions than this give no verdict: warm-up and noise would dominate. */
  minTransactions: number;
  /** Samples needed in the second half. */
  minSamples: number;
  /** The rise allowed across the second half: the larger of this… */
  floor: number;
  /** …and this fraction of the mean value over the second half. */
  fraction: number;
  /** How a value reads in the verdict, e.g. in MiB. */
  format: (value: number) => string;
}

/**
 * Whether a counter keeps growing: a straight line fitted through the samples of the second half
 * of the run (the first half is warm-up: JIT, caches and heap sizing settle there) must not rise by
 * more than the rule allows. A leak of a steady amount per transaction shows as that slope; the
 * ups and downs of garbage collection average out over the fit.
 */
export function judgeGrowth(samples: readonly Sample[], transactions: number, rule: GrowthRule): GrowthVerdict {
  const half = samples.filter((s) => s.at >= transactions / 2);
  const none = { judged: false, growing: false, slope: 0, rise: 0, limit: 0 };
  if (transactions < rule.minTransactions) {
    return { ...none, reason: `not judged: ${transactions} transactions, a verdict needs ${rule.minTransactions}` };
  }
  if (half.length < rule.minSamples) {
    return { ...none, reason: `not judged: ${half.length} samples in the second half, a verdict needs ${rule.minSamples}` };
  }
  const slope = fitSlope(half);
  const span = half[half.length - 1]!.at - half[0]!.at;
  const rise = slope * span;
  const mean = half.reduce((a, s) => a + s.value, 0) / half.length;
  const limit = Math.max(rule.floor, rule.fraction * mean);
  const growing = rise > limit;
  return {
    judged: true,
    growing,
    slope,
    rise,
    limit,
    reason:
      `${growing ? 'keeps growing' : 'steady'}: the line fitted through the second half rises by ${rule.format(rise)} ` +
      `over ${span} transactions (allowed ${rule.format(limit)})`,
  };
}

/** Ordinary least squares slope of value over at. */
export function fitSlope(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((a, s) => a + s.at, 0) / n;
  const my = samples.reduce((a, s) => a + s.value, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.at - mx) * (s.value - my);
    den += (s.at - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface WarmVerdict {
  /** False when the run has no sample at or after the warm-up mark; `over` is then false too. */
  judged: boolean;
  over: boolean;
  /** The counter after the warm-up (the first sample at or after `warmUp` transactions). */
  warm: number;
  end: number;
  /** end / warm */
  ratio: number;
  reason: string;
}

/**
 * Whether the counter ends more than `factor` times what it was once warm: the first `warmUp`
 * transactions fill caches and size the heap, what it adds after that is what the run keeps. A run
 * too short to go past the warm-up twice gives no verdict.
 */
export function judgeAfterWarmUp(samples: readonly Sample[], transactions: number, warmUp: number, factor: number, format: (v: number) => string): WarmVerdict {
  const warmSample = samples.find((s) => s.at >= warmUp);
  const endSample = samples[samples.length - 1];
  if (transactions < 2 * warmUp || !warmSample || !endSample) {
    return { judged: false, over: false, warm: 0, end: 0, ratio: 0, reason: `not judged: ${transactions} transactions, a verdict needs ${2 * warmUp}` };
  }
  const ratio = endSample.value / warmSample.value;
  const over = ratio > factor;
  return {
    judged: true,
    over,
    warm: warmSample.value,
    end: endSample.value,
    ratio,
    reason:
      `end ${format(endSample.value)} is ${ratio.toFixed(3)} × the ${format(warmSample.value)} after ${warmSample.at} transactions ` +
      `(${over ? 'over' : 'within'} the ${factor} allowed)`,
  };
}
