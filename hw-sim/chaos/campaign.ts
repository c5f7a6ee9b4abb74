import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readKey, type EventType } from '../../src/journal/index.js';
import { checkCounters, checkServer, journalProblems, type DeviceCounters, type HostRecords } from '../soak/checks.js';
import { SIM_HOPPERS, SimStack, VALIDATOR_MODELS, type ValidatorModel } from '../stack.js';
import { cardDevice, checkCards, journalCardIn, type CardHeld } from './card-checks.js';
import { checkWallet } from './wallet-checks.js';
import { Ledger } from './ledger.js';
import { describePlan, generatePlan } from './plan.js';
import { runSession } from './session.js';
import { checkSteps } from './step-checks.js';

/** A campaign's validator: one protocol for every run, or 'mixed' (the protocol follows from the seed). */
export type ValidatorChoice = ValidatorModel | 'mixed';
export const VALIDATOR_CHOICES: readonly ValidatorChoice[] = [...VALIDATOR_MODELS, 'mixed'];

/** The protocol of one run: with 'mixed' seed % 3 picks it, so a seed replays with its own protocol whatever the first seed was. */
export function validatorOf(seed: number, choice: ValidatorChoice): ValidatorModel {
  return choice === 'mixed' ? VALIDATOR_MODELS[seed % VALIDATOR_MODELS.length]! : choice;
}

export interface ChaosOptions {
  runs: number;
  seed: number;
  validator?: ValidatorChoice;
  /** Runs under way at once (each its own stack and runtime process). */
  jobs?: number;
  /** Keep every run's folder; a failing run's is always kept. */
  keep?: boolean;
  /** Told of each run in seed order, as soon as it and every run before it ended. */
  onRun?: (r: RunReport) => void;
  /** Runs one seed; runOne unless a test stands in for the stack. */
  runner?: (seed: number, keep: boolean, validator: ValidatorModel) => Promise<RunReport>;
}

export interface RunReport {
  seed: number;
  validator: ValidatorModel;
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
  /** Wallet steps of the plan, by the way the customer meant to pay, and wallet payments the journal credited. */
  wallet: WalletCounts;
  durationMs: number;
  /** Where the run's wall time went (ms): stack start, session (boots, steps, drain), checks, stop. */
  phases: Record<string, number>;
  folder?: string;
}

export interface WalletCounts {
  code: number;
  qr: number;
  paid: number;
}

/** Runs, kills and transactions of one group of runs (a protocol, a card path). */
export interface GroupCounts {
  runs: number;
  kills: number;
  transactions: number;
  failing: number;
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
  validator: ValidatorChoice;
  jobs: number;
  runs: number;
  kills: number;
  transactions: number;
  cards: CardCounts;
  violations: number;
  failingSeeds: number[];
  byValidator: Partial<Record<ValidatorModel, GroupCounts>>;
  byCardPath: Partial<Record<'reader' | 'terminal', GroupCounts>>;
  wallet: WalletCounts;
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
    inputMs: 2000,
    lookupMs: 2000,
    cashMs: 2000,
    cardAuthMs: 5000,
    mobileScanMs: 5000,
    mobileChargeMs: 2000,
    mobileQueryIntervalMs: 300,
    mobileQueryLimitMs: 6000,
    mobileQrMs: 4000,
  },
  forwarder: { backoffInitialMs: 100, backoffMaxMs: 500 },
  // The emulated printer has the whole receipt (and any paper-out) at once: no thermal-speed wait before the status check.
  printer: { settleMs: 50 },
} as Record<string, unknown>;
/**
 * On the terminal path: a terminal that hangs (the ZVT emulator's 'timeout') is given up after 8 s
 * of silence, not the 90 s a real one gets for card, PIN and host; the emulator answers all else at once.
 */
const TERMINAL_CONFIG = { paymentTerminal: { idleTimeoutMs: 8000 } };
const LOG_KEPT = 3000;


/**
 * Runs `runs` chaos runs with seeds seed, seed+1, …; each is its own fresh simulated kiosk, up to
 * `jobs` at once in this process (the runtimes are child processes; the emulators share this event loop).
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const choice = opts.validator ?? 'mixed';
  const jobs = Math.max(1, Math.min(opts.jobs ?? 1, opts.runs));
  const results: RunReport[] = new Array<RunReport>(opts.runs);
  let next = 0;
  let told = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.runs) {
      const i = next++;
      const seed = opts.seed + i;
      const validator = validatorOf(seed, choice);
      results[i] = await (opts.runner ?? runOne)(seed, opts.keep ?? false, validator).catch((e: Error) => brokenRun(seed, validator, e));
      for (; told < opts.runs && results[told]; told++) opts.onRun?.(results[told]!);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const failing = results.filter((r) => !r.ok);
  const sum = (rs: RunReport[], f: (r: RunReport) => number) => rs.reduce((a, r) => a + f(r), 0);
  const group = (rs: RunReport[]): GroupCounts => ({
    runs: rs.length,
    kills: sum(rs, (r) => r.kills),
    transactions: sum(rs, (r) => r.transactions),
    failing: rs.filter((r) => !r.ok).length,
  });
  const groupBy = <K extends string>(key: (r: RunReport) => K): Partial<Record<K, GroupCounts>> => {
    const out: Partial<Record<K, GroupCounts>> = {};
    for (const k of [...new Set(results.map(key))].sort()) out[k] = group(results.filter((r) => key(r) === k));
    return out;
  };
  return {
    ok: failing.length === 0,
    firstSeed: opts.seed,
    validator: choice,
    jobs,
    runs: results.length,
    kills: sum(results, (r) => r.kills),
    transactions: sum(results, (r) => r.transactions),
    cards: {
      requested: sum(results, (r) => r.cards.requested),
      approved: sum(results, (r) => r.cards.approved),
      declined: sum(results, (r) => r.cards.declined),
      unknown: sum(results, (r) => r.cards.unknown),
    },
    violations: sum(results, (r) => r.violations.length),
    failingSeeds: failing.map((r) => r.seed),
    byValidator: groupBy((r) => r.validator),
    byCardPath: groupBy((r) => r.cardPath),
    wallet: { code: sum(results, (r) => r.wallet.code), qr: sum(results, (r) => r.wallet.qr), paid: sum(results, (r) => r.wallet.paid) },
    durationMs: Date.now() - started,
    results,
  };
}

/** A run that could not even be set up: a failing report, so the other runs of the campaign still count. */
function brokenRun(seed: number, validator: ValidatorModel, e: Error): RunReport {
  return {
    seed,
    validator,
    ok: false,
    steps: 0,
    transactions: 0,
    kills: 0,
    killDetails: [],
    cardPath: generatePlan(seed).cardPath,
    cards: { requested: 0, approved: 0, declined: 0, unknown: 0 },
    violations: [`the run could not be set up: ${e.message}`],
    recorded: [],
    plan: describePlan(generatePlan(seed)),
    outcomes: [],
    wallet: { code: 0, qr: 0, paid: 0 },
    durationMs: 0,
    phases: {},
  };
}

/** One run: a fresh stack, the seed's plan driven through it, then every check. */
export async function runOne(seed: number, keep: boolean, validator: ValidatorModel = 'id003'): Promise<RunReport> {
  const started = Date.now();
  const phases: Record<string, number> = {};
  let mark = started;
  const phase = (name: string): void => {
    const now = Date.now();
    phases[name] = (phases[name] ?? 0) + now - mark;
    mark = now;
  };
  const plan = generatePlan(seed);
  // Not under the test's folder: the control socket's path must stay under 108 bytes.
  const folder = mkdtempSync(join(tmpdir(), 'kiosk-chaos-'));
  const ledger = new Ledger();
  const log: string[] = [];
  const stack = new SimStack({
    dir: folder,
    validatorModel: validator,
    // Every run has the 2D scanner (keyboard mode) for its wallet code steps.
    fitted: { coins: true, hoppers: true, printer: true, scanner: 'keyboard', ...cardDevice(plan.cardPath) },
    emulatorTiming: TIMING,
    config: plan.cardPath === 'terminal' ? { ...CONFIG, ...TERMINAL_CONFIG } : CONFIG,
    onRuntimeLog: (e) => {
      log.push(`+${Date.now() - started} ${JSON.stringify(e)}`);
      if (log.length > LOG_KEPT) log.shift();
    },
    onDeviceLine: (device, line) => {
      ledger.line(device, line);
      log.push(`+${Date.now() - started} [${device}] ${line}`);
      if (log.length > LOG_KEPT) log.shift();
    },
  });
  const mobile = plan.steps.flatMap((s) => (s.kind === 'mobile' ? [s.mode] : []));
  const report: RunReport = {
    seed,
    validator,
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
    wallet: { code: mobile.filter((m) => m === 'code').length, qr: mobile.filter((m) => m === 'qr').length, paid: 0 },
    durationMs: 0,
    phases,
  };
  try {
    await stack.start();
    phase('start');
    const session = await runSession(stack, plan, ledger, phase);
    report.kills = session.kills.length;
    report.killDetails = session.kills.map((k) => `${k.kind} ${k.detail} (step ${k.step + 1})`);
    report.outcomes = session.steps.map((s) => s.outcome);
    report.violations.push(...session.problems);
    const counters = await deviceCounters(stack);
    const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as HostRecords & CardHeld;
    const journalPath = join(folder, 'journal.db');
    report.transactions = countTransactions(journalPath);
    report.cards = countCards(journalPath);
    report.wallet.paid = countEvents(journalPath, 'mobile.paid');
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
    phase('checks');
  } catch (e) {
    report.violations.push(`the run stopped: ${(e as Error).message}`);
  } finally {
    await stack.stop().catch((e: Error) => report.violations.push(`could not stop the stack: ${e.message}`));
    phase('stop');
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
  const [cashbox, coinsAccepted, ...dispensed] = await Promise.all([
    ask('validator', /cash box: .*\(total (\d+) fen\)/),
    ask('coin', /accepted \d+ coin\(s\), total (\d+) fen/),
    ...SIM_HOPPERS.map((h) => ask(h.name, /life dispensed (\d+)/)),
  ]);
  const hoppersPaid = SIM_HOPPERS.reduce((a, h, i) => a + dispensed[i]! * h.coinValue, 0);
  return { cashbox: cashbox!, coinsAccepted: coinsAccepted!, hoppersPaid };
}

/** Long enough for the kiosk's terminal reversal worker (retrying each second) to catch up after the last restart. */
const TERMINAL_SETTLE_MS = 20_000;
/** The terminal is asked again this often until its bookings agree (usually at the first answer). */
const TERMINAL_ASK_MS = 100;

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
    await new Promise((r) => setTimeout(r, TERMINAL_ASK_MS));
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

function countEvents(path: string, type: EventType): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM events WHERE type = ?').get(type) as { n: number }).n;
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
