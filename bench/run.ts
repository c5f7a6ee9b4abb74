/**
 * Runs every benchmark module in this folder (each bench/<name>.ts exporting `benchmark`, see
 * lib/types.ts), prints each figure as a ratio to its limit, and writes the results with the
 * machine they were measured on to bench/results/latest.json.
 *
 *   npm run bench [-- --only journal,boot] [-- --smoke] [-- --out FILE] [-- --dir FOLDER]
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { repoRoot } from '../hw-sim/stack.js';
import { machine, type Machine } from './lib/machine.js';
import type { BenchResult, Benchmark, Figure } from './lib/types.js';

export interface RunOptions {
  smoke?: boolean;
  /** Benchmark names to run; all when absent. */
  only?: string[];
  /** Scratch folder on the disk to measure; a fresh temporary one by default. */
  dir?: string;
  progress?: (line: string) => void;
}

export interface BenchFailure {
  benchmark: string;
  error: string;
}

export interface BenchReport {
  machine: Machine;
  smoke: boolean;
  results: BenchResult[];
  failures: BenchFailure[];
}

const here = dirname(fileURLToPath(import.meta.url));

/** The benchmark modules next to this file, by name: compiled .js under dist/, .ts from source. */
export async function findBenchmarks(): Promise<Benchmark[]> {
  const ext = extname(fileURLToPath(import.meta.url));
  const files = readdirSync(here)
    .filter((f) => extname(f) === ext && !f.endsWith(`.d${ext}`) && basename(f, ext) !== 'run')
    .sort();
  const found: Benchmark[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { benchmark?: Benchmark };
    if (mod.benchmark) found.push(mod.benchmark);
  }
  return found;
}

export async function runBenchmarks(opts: RunOptions = {}): Promise<BenchReport> {
  const progress = opts.progress ?? (() => undefined);
  const all = await findBenchmarks();
  const unknown = (opts.only ?? []).filter((name) => !all.some((b) => b.name === name));
  if (unknown.length > 0) throw new Error(`no benchmark named ${unknown.join(', ')} (there are: ${all.map((b) => b.name).join(', ')})`);
  const chosen = opts.only ? all.filter((b) => opts.only!.includes(b.name)) : all;
  const report: BenchReport = { machine: machine(), smoke: opts.smoke ?? false, results: [], failures: [] };
  const scratch = opts.dir ?? mkdtempSync(join(tmpdir(), 'kiosk-bench-'));
  try {
    for (const b of chosen) {
      const dir = join(scratch, b.name);
      mkdirSync(dir, { recursive: true });
      progress(`${b.name}: running`);
      try {
        report.results.push(await b.run({ smoke: report.smoke, dir, progress }));
      } catch (e) {
        report.failures.push({ benchmark: b.name, error: (e as Error).stack ?? String(e) });
      }
    }
  } finally {
    if (!opts.dir) rmSync(scratch, { recursive: true, force: true });
  }
  return report;
}

function formatValue(v: number, unit: string): string {
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${unit}`;
}

function formatFigure(f: Figure): string {
  const verdict = f.met === null ? '' : f.met ? '  met' : '  MISSED';
  const target = f.target ? `  target ${f.target}${verdict}` : '';
  const note = f.note ? `  (${f.note})` : '';
  const limit = `${f.limit.name} ${formatValue(f.limit.value, f.unit)}${f.limit.measured ? '' : ' (fixed)'}`;
  return `  ${f.name.padEnd(20)} ${formatValue(f.value, f.unit).padStart(14)}  / ${limit.padEnd(44)} = ${f.ratio.toFixed(2).padStart(6)}${target}${note}`;
}

export function formatReport(r: BenchReport): string[] {
  const m = r.machine;
  const lines = [
    `kiosk benchmarks${r.smoke ? ' (smoke sizes: not meaningful)' : ''}: ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.os}, load ${m.load}, ${m.date}`,
  ];
  for (const res of r.results) {
    lines.push('', `${res.benchmark}: ${res.method}`);
    for (const f of res.figures) lines.push(formatFigure(f));
  }
  for (const f of r.failures) lines.push('', `${f.benchmark}: FAILED TO RUN: ${f.error}`);
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      dir: { type: 'string' },
    },
  });
  const report = await runBenchmarks({
    smoke: values.smoke ?? false,
    ...(values.only ? { only: values.only.split(',').map((s) => s.trim()) } : {}),
    ...(values.dir ? { dir: values.dir } : {}),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  for (const line of formatReport(report)) console.log(line);
  const out = values.out ?? join(repoRoot(), 'bench', 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nresults written to ${out}`);
  // A missed target is a result to report; only a benchmark that could not run fails the command.
  process.exitCode = report.failures.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: Error) => {
    console.error(`bench: ${e.message}`);
    process.exit(2);
  });
}
