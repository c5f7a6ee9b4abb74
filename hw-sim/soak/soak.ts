import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readKey } from '../../src/journal/index.js';
import { SimStack } from '../stack.js';
import { checkCash, checkJournal, checkServer, type HostRecords } from './checks.js';
import { Customer, paymentMix, startInService, type Payment } from './customer.js';
import { judgeAfterWarmUp, judgeGrowth, type GrowthRule, type GrowthVerdict, type WarmVerdict } from './growth.js';
import { MB, openFds, rssBytes } from './process-stats.js';

export interface SoakOptions {
  transactions: number;
  /** Folder for the run; by default a fresh temporary one, removed after a passing run. */
  dir?: string;
  /** Keep the folder (journal, receipts, the last log lines) even when the run passes. */
  keep?: boolean;
  /**
   * Fit the receipt printer too. Off by default: the printer driver lets each receipt settle for
   * 1.5 s, which would set the pace of the whole run.
   */
  printer?: boolean;
  /** Progress lines while it runs. */
  progress?: (line: string) => void;
}

export interface SoakSample {
  /** Transactions done when it was taken. */
  at: number;
  rssBytes: number;
  fds: number;
}

export interface SoakReport {
  ok: boolean;
  transactions: number;
  /** How long the payments took, from the first to the end of the last (boot and checks not counted). */
  durationMs: number;
  devices: string[];
  rss: { startBytes: number; endBytes: number; peakBytes: number; verdict: GrowthVerdict; afterWarmUp: WarmVerdict };
  fds: { start: number; end: number; verdict: GrowthVerdict };
  journal: { startBytes: number; endBytes: number; bytesPerTransaction: number };
  /** Payments run, by kind. */
  kinds: Record<string, number>;
  /** Every way the money or the transactions went wrong; empty on a good run. */
  violations: string[];
  samples: SoakSample[];
  folder?: string;
}

const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;
/** The memory rule: the second half's fitted RSS line may rise by at most max(4 MB, 5 % of its mean). */
const RSS_RULE: GrowthRule = { minTransactions: 1000, minSamples: 10, floor: 4 * MB, fraction: 0.05, format: mb };
/** Issue 20's memory target: the end's RSS at most 1.15 × the RSS after the first 1,000 payments. */
const RSS_WARM_UP = 1000;
const RSS_END_FACTOR = 1.15;
/** A descriptor leaked per transaction, or per few hundred, shows as more than 4 across the second half. */
const FD_RULE: GrowthRule = { minTransactions: 1000, minSamples: 10, floor: 4, fraction: 0, format: (n) => `${n.toFixed(1)} fds` };
/** SimStack fills in the validator's port; the generated config merges this over it. */
const FAST_POLL: Record<string, unknown> = { validator: { pollIntervalMs: 50 } };
const SAMPLES = 200;
const REFILL_EVERY = 25;
const LOG_KEPT = 2000;

/**
 * Runs `transactions` cash payments back to back through the emulated devices and the real runtime
 * process, sampling its memory and descriptors, then checks every transaction and every coin and
 * note against the journal, the emulators and the reference server.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const n = opts.transactions;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`the number of transactions must be a positive whole number, got ${n}`);
  const folder = opts.dir ?? mkdtempSync(join(tmpdir(), 'kiosk-soak-'));
  const say = opts.progress ?? (() => undefined);
  const logTail: string[] = [];
  let validatorStatus = '';
  const stack = new SimStack({
    dir: folder,
    fitted: { coins: true, hoppers: true, printer: opts.printer ?? false },
    // The mechanism as quick as the driver can follow; the driver's own poll at its floor.
    emulatorTiming: { acceptingMs: 30, stackingMs: 60, stackedMs: 30, returningMs: 60 },
    config: FAST_POLL,
    onRuntimeLog: (e) => {
      logTail.push(JSON.stringify(e));
      if (logTail.length > LOG_KEPT) logTail.shift();
    },
    onDeviceLine: (device, line) => {
      if (device === 'validator' && line.includes('cash box:')) validatorStatus = line;
    },
  });
  const violations: string[] = [];
  const samples: SoakSample[] = [];
  const done: { id: string; payment: Payment }[] = [];
  const kinds: Record<string, number> = {};
  let report: SoakReport | undefined;
  try {
    await stack.start();
    await startInService(stack);
    const pid = stack.runtimePid!;
    const journalPath = join(folder, 'journal.db');
    const sample = (at: number): SoakSample => ({ at, rssBytes: rssBytes(pid), fds: openFds(pid) });
    const first = sample(0);
    samples.push(first);
    const journalStart = journalBytes(journalPath);
    const customer = new Customer(stack);
    const mix = paymentMix({ coins: true, hoppers: true });
    const loopStarted = Date.now();
    const every = Math.max(1, Math.ceil(n / SAMPLES));
    const progressEvery = Math.max(1, Math.round(n / 20));

    for (let i = 0; i < n; i++) {
      const payment = mix[i % mix.length]!;
      try {
        if (i % REFILL_EVERY === 0) await customer.refillHoppers(60, 100);
        done.push({ id: await customer.pay(payment), payment });
        kinds[payment.kind] = (kinds[payment.kind] ?? 0) + 1;
      } catch (e) {
        violations.push(`payment ${i + 1} (${payment.kind}) did not finish: ${(e as Error).message}`);
        break;
      }
      if ((i + 1) % every === 0) samples.push(sample(i + 1));
      if ((i + 1) % progressEvery === 0) {
        const last = samples[samples.length - 1]!;
        const rate = ((i + 1) * 1000) / (Date.now() - loopStarted);
        say(`${i + 1}/${n} transactions, ${rate.toFixed(1)}/s, RSS ${(last.rssBytes / MB).toFixed(1)} MB, ${last.fds} fds`);
      }
    }

    const loopMs = Date.now() - loopStarted;
    await outboxDrained(stack, 60_000).catch((e: Error) => violations.push(e.message));
    const last = sample(done.length);
    if (samples[samples.length - 1]!.at !== last.at) samples.push(last);
    const journalEnd = journalBytes(journalPath);
    const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as HostRecords;
    const cashboxLine = await emulatorCashbox(stack, () => validatorStatus);
    await stack.killRuntime('SIGTERM');

    violations.push(...checkJournal(journalPath, readKey(join(folder, 'journal.key')), done));
    violations.push(...checkServer(journalPath, records));
    violations.push(...checkCash(journalPath, done, cashboxLine, stack.coinsPaid));

    const rssVerdict = judgeGrowth(samples.map((s) => ({ at: s.at, value: s.rssBytes })), done.length, RSS_RULE);
    const rssWarm = judgeAfterWarmUp(samples.map((s) => ({ at: s.at, value: s.rssBytes })), done.length, RSS_WARM_UP, RSS_END_FACTOR, mb);
    const fdVerdict = judgeGrowth(samples.map((s) => ({ at: s.at, value: s.fds })), done.length, FD_RULE);
    report = {
      ok: violations.length === 0 && !rssVerdict.growing && !rssWarm.over && !fdVerdict.growing,
      transactions: done.length,
      durationMs: loopMs,
      devices: stack.deviceNames,
      rss: {
        startBytes: first.rssBytes,
        endBytes: last.rssBytes,
        peakBytes: Math.max(last.rssBytes, ...samples.map((s) => s.rssBytes)),
        verdict: rssVerdict,
        afterWarmUp: rssWarm,
      },
      fds: { start: first.fds, end: last.fds, verdict: fdVerdict },
      journal: {
        startBytes: journalStart,
        endBytes: journalEnd,
        bytesPerTransaction: done.length > 0 ? Math.round((journalEnd - journalStart) / done.length) : 0,
      },
      kinds,
      violations,
      samples,
    };
    return report;
  } finally {
    await stack.stop();
    if (report && report.ok && !opts.keep && !opts.dir) {
      rmSync(folder, { recursive: true, force: true });
    } else {
      writeFileSync(join(folder, 'runtime-tail.log'), logTail.join('\n') + '\n');
      if (report) report.folder = folder;
    }
  }
}

/** The journal's size as SQLite counts it (pages in use, WAL included), not the files' lengths. */
function journalBytes(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const size = db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  } finally {
    db.close();
  }
}

async function outboxDrained(stack: SimStack, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await stack.control({ cmd: 'status' });
    if (st.ok && (st.outbox as { pending: number }).pending === 0) return;
    if (Date.now() > deadline) throw new Error(`the outbox still held payments ${timeoutMs} ms after the last transaction`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Asks the validator emulator for its state line, which ends with its cash box total. */
async function emulatorCashbox(stack: SimStack, latest: () => string): Promise<string> {
  const answered = stack.waitForDeviceLine('validator', (l) => l.includes('cash box:'), 10_000);
  stack.deviceCommand('status');
  await answered;
  return latest();
}

/** The report as a few lines for a terminal. */
export function formatSoak(r: SoakReport): string[] {
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'}  soak: ${r.transactions} transactions in ${(r.durationMs / 1000).toFixed(0)} s ` +
      `(${((r.transactions * 1000) / r.durationMs).toFixed(1)}/s), devices ${r.devices.join(', ')}`,
    `      kinds: ${Object.entries(r.kinds).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `      RSS: start ${mb(r.rss.startBytes)}, end ${mb(r.rss.endBytes)}, peak ${mb(r.rss.peakBytes)}; ${r.rss.verdict.reason}; ${r.rss.afterWarmUp.reason}`,
    `      open fds: start ${r.fds.start}, end ${r.fds.end}; ${r.fds.verdict.reason}`,
    `      journal: ${(r.journal.bytesPerTransaction / 1024).toFixed(2)} KiB per transaction (${mb(r.journal.startBytes)} → ${mb(r.journal.endBytes)})`,
  ];
  for (const v of r.violations) lines.push(`      violation: ${v}`);
  if (r.folder) lines.push(`      files kept in ${r.folder}`);
  return lines;
}
