import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readKey } from '../../src/journal/index.js';
import { checkCounters, checkServer, journalProblems, type DeviceCounters, type HostRecords } from '../soak/checks.js';
import { SIM_HOPPERS, SimStack } from '../stack.js';
import { Ledger } from './ledger.js';
import { describePlan, generatePlan } from './plan.js';
import { runSession } from './session.js';
import { checkSteps } from './step-checks.js';

export interface ChaosOptions {
  runs: number;
  seed: number;
  /** Keep every run's folder; a failing run's is always kept. */
  keep?: boolean;
  /** Told of each run as it ends. */
  onRun?: (r: RunReport) => void;
}

export interface RunReport {
  seed: number;
  ok: boolean;
  steps: number;
  /** Transactions the journal holds at the end. */
  transactions: number;
  kills: number;
  killDetails: string[];
  violations: string[];
  /** Customer money a device fault took, recorded by the journal for the cash count (not violations). */
  recorded: string[];
  plan: string;
  outcomes: string[];
  durationMs: number;
  folder?: string;
}

export interface ChaosReport {
  ok: boolean;
  firstSeed: number;
  runs: number;
  kills: number;
  transactions: number;
  violations: number;
  failingSeeds: number[];
  durationMs: number;
  results: RunReport[];
}

/** Fast mechanics (as the soak) with a slower stack, so kills and the jam can land while a note is on its way. */
const TIMING = { acceptingMs: 30, stackingMs: 300, stackedMs: 30, returningMs: 60 };
/** Short customer time-outs, so a walk-away ends in seconds; fast retries, so the outbox drains quickly. */
const CONFIG = {
  validator: { pollIntervalMs: 50 },
  timeouts: { inputMs: 3000, lookupMs: 2000, cashMs: 3000 },
  forwarder: { backoffInitialMs: 100, backoffMaxMs: 500 },
} as Record<string, unknown>;
const LOG_KEPT = 3000;

/** Runs `runs` chaos runs with seeds seed, seed+1, …; each is its own fresh simulated kiosk. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const results: RunReport[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const r = await runOne(opts.seed + i, opts.keep ?? false);
    results.push(r);
    opts.onRun?.(r);
  }
  const failing = results.filter((r) => !r.ok);
  return {
    ok: failing.length === 0,
    firstSeed: opts.seed,
    runs: results.length,
    kills: results.reduce((a, r) => a + r.kills, 0),
    transactions: results.reduce((a, r) => a + r.transactions, 0),
    violations: results.reduce((a, r) => a + r.violations.length, 0),
    failingSeeds: failing.map((r) => r.seed),
    durationMs: Date.now() - started,
    results,
  };
}

/** One run: a fresh stack, the seed's plan driven through it, then every check. */
export async function runOne(seed: number, keep: boolean): Promise<RunReport> {
  const started = Date.now();
  const plan = generatePlan(seed);
  // Not under the test's folder: the control socket's path must stay under 108 bytes.
  const folder = mkdtempSync(join(tmpdir(), 'kiosk-chaos-'));
  const ledger = new Ledger();
  const log: string[] = [];
  const stack = new SimStack({
    dir: folder,
    fitted: { coins: true, hoppers: true, printer: true },
    emulatorTiming: TIMING,
    config: CONFIG,
    onRuntimeLog: (e) => {
      log.push(JSON.stringify(e));
      if (log.length > LOG_KEPT) log.shift();
    },
    onDeviceLine: (device, line) => {
      ledger.line(device, line);
      log.push(`[${device}] ${line}`);
      if (log.length > LOG_KEPT) log.shift();
    },
  });
  const report: RunReport = {
    seed,
    ok: false,
    steps: plan.steps.length,
    transactions: 0,
    kills: 0,
    killDetails: [],
    violations: [],
    recorded: [],
    plan: describePlan(plan),
    outcomes: [],
    durationMs: 0,
  };
  try {
    await stack.start();
    const session = await runSession(stack, plan, ledger);
    report.kills = session.kills.length;
    report.killDetails = session.kills.map((k) => `${k.kind} ${k.detail} (step ${k.step + 1})`);
    report.outcomes = session.steps.map((s) => s.outcome);
    report.violations.push(...session.problems);
    const counters = await deviceCounters(stack);
    const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as HostRecords;
    const journalPath = join(folder, 'journal.db');
    report.transactions = countTransactions(journalPath);
    report.violations.push(...journalProblems(journalPath, readKey(join(folder, 'journal.key'))));
    report.violations.push(...checkServer(journalPath, records));
    report.violations.push(...checkCounters(journalPath, counters));
    const steps = checkSteps(journalPath, session.steps, ledger, plan);
    report.violations.push(...steps.violations);
    report.recorded = steps.recorded;
  } catch (e) {
    report.violations.push(`the run stopped: ${(e as Error).message}`);
  } finally {
    await stack.stop().catch((e: Error) => report.violations.push(`could not stop the stack: ${e.message}`));
  }
  report.ok = report.violations.length === 0;
  report.durationMs = Date.now() - started;
  if (report.ok && !keep) {
    rmSync(folder, { recursive: true, force: true });
  } else {
    writeFileSync(join(folder, 'run.log'), log.join('\n') + '\n');
    writeFileSync(join(folder, 'plan.json'), JSON.stringify(plan, null, 2) + '\n');
    report.folder = folder;
  }
  return report;
}

/** The emulators' own counters, asked on their consoles. */
async function deviceCounters(stack: SimStack): Promise<DeviceCounters> {
  const ask = async (device: string, re: RegExp): Promise<number> => {
    let value = NaN;
    const answered = stack.waitForDeviceLine(
      device,
      (l) => {
        const m = re.exec(l);
        if (m) value = Number(m[1]);
        return m !== null;
      },
      10_000,
    );
    stack.deviceCommand('status', device);
    await answered;
    return value;
  };
  const cashbox = await ask('validator', /cash box: .*\(total (\d+) fen\)/);
  const coinsAccepted = await ask('coin', /accepted \d+ coin\(s\), total (\d+) fen/);
  let hoppersPaid = 0;
  for (const h of SIM_HOPPERS) hoppersPaid += (await ask(h.name, /life dispensed (\d+)/)) * h.coinValue;
  return { cashbox, coinsAccepted, hoppersPaid };
}

function countTransactions(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM transactions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** One line per run; violations and where the files are kept under it. */
export function formatRun(r: RunReport): string[] {
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'}  seed ${r.seed}: ${r.steps} step(s), ${r.transactions} transaction(s), ${r.kills} kill(s), ` +
      `${r.violations.length} violation(s)  (${(r.durationMs / 1000).toFixed(1)} s)`,
  ];
  for (const v of r.violations) lines.push(`      violation: ${v}`);
  if (!r.ok) {
    lines.push(`      plan: ${r.plan}`);
    lines.push(`      kills: ${r.killDetails.join('; ') || 'none'}; outcomes: ${r.outcomes.join('; ')}`);
    lines.push(`      replay: kiosk sim chaos --runs 1 --seed ${r.seed}   (same plan; timing may differ)`);
  }
  if (r.folder) lines.push(`      files kept in ${r.folder}`);
  return lines;
}

export function formatSummary(c: ChaosReport): string[] {
  return [
    `${c.ok ? 'PASS' : 'FAIL'}  chaos: ${c.runs} run(s) from seed ${c.firstSeed}, ${c.kills} kill(s), ${c.transactions} transaction(s), ` +
      `${c.violations} violation(s) in ${(c.durationMs / 1000).toFixed(0)} s`,
    `      failing seeds: ${c.failingSeeds.length > 0 ? c.failingSeeds.join(' ') : 'none'}`,
  ];
}
