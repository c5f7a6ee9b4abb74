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
