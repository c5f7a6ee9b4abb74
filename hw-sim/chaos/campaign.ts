import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readKey, type EventType } from '../../src/journal/index.js';
import { checkCounters, checkServer, journalProblems, type DeviceCounters, type HostRecords } from '../soak/checks.js';
import { SIM_HOPPERS, SimStack } from '../stack.js';
import { cardDevice, checkCards, journalCardIn, type CardHeld } from './card-checks.js';
import { checkWallet } from './wallet-checks.js';
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
  /** How the run took cards, and what became of its card requests in the journal. */
  cardPath: 'reader' | 'terminal';
  cards: CardCounts;
  violations: string[];
  /** Customer money a device fault took, recorded by the journal for the cash count (not violations). */
  recorded: string[];
  plan: string;
  outcomes: string[];
  durationMs: number;
  folder?: string;
}

/** Card requests by their journalled outcome (a request may end approved and then unknown: reversed). */
export interface CardCounts {
  requested: number;
  approved: number;
  declined: number;
  unknown: number;
}

export interface ChaosReport {
  ok: boolean;
  firstSeed: number;
  runs: number;
  kills: number;
  transactions: number;
  cards: CardCounts;
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
  // cardAuthMs above the reference server's answer on a loaded box, so an approval is not taken for a time-out.
  // The kiosk's QR runs out in seconds, and is queried often, so a wallet step that lets it expire ends quickly.
  timeouts: {
    inputMs: 3000,
    lookupMs: 2000,
    cashMs: 3000,
    cardAuthMs: 5000,
    mobileScanMs: 5000,
    mobileChargeMs: 2000,
    mobileQueryIntervalMs: 300,
    mobileQueryLimitMs: 6000,
    mobileQrMs: 4000,
  },
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
    cards: {
      requested: results.reduce((a, r) => a + r.cards.requested, 0),
      approved: results.reduce((a, r) => a + r.cards.approved, 0),
      declined: results.reduce((a, r) => a + r.cards.declined, 0),
      unknown: results.reduce((a, r) => a + r.cards.unknown, 0),
    },
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
    // Every run has the 2D scanner (keyboard mode) for its wallet code steps.
    fitted: { coins: true, hoppers: true, printer: true, scanner: 'keyboard', ...cardDevice(plan.cardPath) },
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
    cardPath: plan.cardPath,
    cards: { requested: 0, approved: 0, declined: 0, unknown: 0 },
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
    const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as HostRecords & CardHeld;
    const journalPath = join(folder, 'journal.db');
    report.transactions = countTransactions(journalPath);
    report.cards = countCards(journalPath);
    report.violations.push(...journalProblems(journalPath, readKey(join(folder, 'journal.key'))));
    report.violations.push(...checkServer(journalPath, records));
    report.violations.push(...checkCounters(journalPath, counters));
    const steps = checkSteps(journalPath, session.steps, ledger, plan);
    report.violations.push(...steps.violations);
    const cards = checkCards(journalPath, records);
    report.violations.push(...cards.violations);
    report.violations.push(...checkWallet(journalPath, stack.host.wallet, plan));
    if (plan.cardPath === 'terminal') report.violations.push(...(await terminalBookings(stack, journalPath)));
    report.recorded = [...steps.recorded, ...cards.recorded];
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
    // A folder removed under the run (a clean-up of the temporary folder by another job) must not cost the run its report.
    mkdirSync(folder, { recursive: true });
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

/** Long enough for the kiosk's terminal reversal worker (retrying each second) to catch up after the last restart. */
const TERMINAL_SETTLE_MS = 20_000;

/**
 * The terminal's own bookings (approved − reversed) net to what the journal kept as card in: a
 * booking the kiosk lost track of stays on the customer's card. Asked until they agree, since a
 * reversal may still be on its way.
 */
async function terminalBookings(stack: SimStack, journalPath: string): Promise<string[]> {
  const want = journalCardIn(journalPath);
  const deadline = Date.now() + TERMINAL_SETTLE_MS;
  let line = '';
  for (;;) {
    const answered = stack.waitForDeviceLine('zvt', (l) => {
      if (!/net -?\d+ fen/.test(l)) return false;
      line = l;
      return true;
    }, 10_000);
    stack.deviceCommand('status', 'zvt');
    await answered;
    const net = Number(/net (-?\d+) fen/.exec(line)![1]);
    if (net === want) return [];
    if (Date.now() > deadline) return [`the payment terminal's bookings net ${net} fen, the journal's card in is ${want} fen (${line})`];
    await new Promise((r) => setTimeout(r, 500));
  }
}

function countCards(path: string): CardCounts {
  const db = new Database(path, { readonly: true });
  try {
    const n = (type: EventType) => (db.prepare('SELECT COUNT(*) AS n FROM events WHERE type = ?').get(type) as { n: number }).n;
    return { requested: n('card.requested'), approved: n('card.approved'), declined: n('card.declined'), unknown: n('card.unknown') };
  } finally {
    db.close();
  }
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
      `${r.cardPath} ${r.cards.approved}/${r.cards.requested} card(s) approved (${r.cards.declined} declined, ${r.cards.unknown} unknown), ` +
      `${r.violations.length} violation(s)  (${(r.durationMs / 1000).toFixed(1)} s)`,
  ];
  for (const v of r.violations) lines.push(`      violation: ${v}`);
  if (!r.ok) {
    lines.push(`      plan: ${r.plan}`);
    lines.push(`      kills: ${r.killDetails.join('; ') || 'none'}; outcomes: ${r.outcomes.join('; ')}`);
    lines.push(`      replay: kiosk-sim chaos --runs 1 --seed ${r.seed}   (same plan; timing may differ)`);
  }
  if (r.folder) lines.push(`      files kept in ${r.folder}`);
  return lines;
}

export function formatSummary(c: ChaosReport): string[] {
  return [
    `${c.ok ? 'PASS' : 'FAIL'}  chaos: ${c.runs} run(s) from seed ${c.firstSeed}, ${c.kills} kill(s), ${c.transactions} transaction(s), ` +
      `${c.cards.requested} card request(s) (${c.cards.approved} approved, ${c.cards.declined} declined, ${c.cards.unknown} unknown), ` +
      `${c.violations} violation(s) in ${(c.durationMs / 1000).toFixed(0)} s`,
    `      failing seeds: ${c.failingSeeds.length > 0 ? c.failingSeeds.join(' ') : 'none'}`,
  ];
}
