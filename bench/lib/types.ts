/**
 * The contract of a benchmark module: every bench/<name>.ts that exports `benchmark` is found and
 * run by bench/run.ts, so adding one is adding a file.
 */

/** One measured figure, shown as a ratio to its limit. */
export interface Figure {
  /** What was measured, e.g. 'reaction p99'. */
  name: string;
  value: number;
  unit: string;
  /**
   * What the value is divided by: a physical limit measured in the same run (wire time, a bare
   * SQLite loop, a bare Node process), or, where there is none, the target itself (measured false).
   */
  limit: { name: string; value: number; measured: boolean };
  /** value / limit.value */
  ratio: number;
  /** The target in words, or null for a figure given for context. */
  target: string | null;
  /** Whether this run met the target; null when there is none. */
  met: boolean | null;
  /** A short remark printed after the figure, e.g. the overhead in milliseconds. */
  note?: string;
}

export interface BenchResult {
  benchmark: string;
  /** How it was measured: the path taken through the code, the sizes, what is added or left out. */
  method: string;
  figures: Figure[];
  /** Raw numbers behind the figures, for the results file. */
  details: Record<string, unknown>;
}

export interface BenchContext {
  /** Tiny sizes for the smoke test: the figures are well-formed, not meaningful. */
  smoke: boolean;
  /** A scratch folder on the disk being measured, removed after the run. */
  dir: string;
  /** Progress lines (stderr). */
  progress: (line: string) => void;
}

export interface Benchmark {
  /** Short name, e.g. 'escrow-reaction'. */
  name: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** A figure whose ratio is value / limit. */
export function figure(f: Omit<Figure, 'ratio'>): Figure {
  return { ...f, ratio: f.value / f.limit.value };
}
