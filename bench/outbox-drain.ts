/**
 * Store and forward under a long backlog: 100,000 payments in the outbox, the reference server up,
 * the kiosk's forwarder (journal, adapter, mutual-TLS link) in a child process. Figures: the drain
 * rate, the child's peak RSS during the drain, and the time from the server coming back after an
 * outage to the first message it acknowledges.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import BetterSqlite3 from 'better-sqlite3';
import { devHostTls } from '../hw-sim/host/dev-tls.js';
import { startHost } from '../hw-sim/host/server.js';
import { repoRoot } from '../hw-sim/stack.js';
import { MB } from '../hw-sim/soak/process-stats.js';
import { Journal, loadOrCreateKey } from '../src/journal/index.js';
import { bindOutboxRows } from '../src/journal/bindings.js';
import { bareNodeRssBytes } from './lib/bare-node.js';
import { figure, type BenchContext, type BenchResult, type Benchmark } from './lib/types.js';

const BATCH = 20;
const TARGET_RATE = 500;
const TARGET_PEAK_BYTES = 90 * MB;
const TARGET_FIRST_MS = 500;

type Report = { event: string; at: number; [k: string]: unknown };

/**
 * Writes `n` settled payments straight into the outbox table, in one commit, each bound to the
 * journal's chain as the journal itself binds what it queues (the forwarder sends nothing else).
 */
function fill(journalPath: string, key: Buffer, from: number, n: number): void {
  const db = new BetterSqlite3(journalPath);
  db.pragma('busy_timeout = 10000');
  // Only the outbox is measured: its payments have no transaction rows, which the binding events'
  // txn_id would otherwise have to reference.
  db.pragma('foreign_keys = OFF');
  try {
    const insert = db.prepare('INSERT INTO outbox (message_id, txn_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)');
    const at = new Date().toISOString();
    const ids = new Set<string>();
    db.transaction(() => {
      for (let i = from; i < from + n; i++) {
        const txnId = `bench-${String(i).padStart(7, '0')}`;
        const messageId = `${txnId}:payment`;
        const phone = `137${String(i % 100_000_000).padStart(8, '0')}`;
        const payload = { messageId, txnId, service: 'topup', phone, amount: 1000, currency: 'CNY', cashIn: 1000, settledAt: at };
        insert.run(messageId, txnId, 'payment', JSON.stringify(payload), at);
        ids.add(messageId);
      }
      bindOutboxRows(db, key, 'benchmark', ids);
    })();
  } finally {
    db.close();
  }
}

/**
 * Fsynced single-row commits per second on the same disk, for `ms`: each batch costs one such commit
 * on the kiosk and one on the server, so half this rate times the batch size bounds the drain.
 */
function bareCommitsPerSecond(file: string, ms: number): number {
  const db = new BetterSqlite3(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < ms) {
      insert.run('x'.repeat(200));
      n += 1;
    }
    return n / ((performance.now() - started) / 1000);
  } finally {
    db.close();
  }
}

/** The child's reports, and a way to wait for the next one of a kind. */
function reports(child: ChildProcess): (event: string, timeoutMs: number) => Promise<Report> {
  const seen: Report[] = [];
  const waiting: { event: string; resolve: (r: Report) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const r = JSON.parse(line) as Report;
    const w = waiting.findIndex((x) => x.event === r.event);
    if (w >= 0) waiting.splice(w, 1)[0]!.resolve(r);
    else seen.push(r);
  });
  return (event, timeoutMs) => {
    const i = seen.findIndex((r) => r.event === event);
    if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the kiosk process did not report '${event}' within ${timeoutMs} ms`)), timeoutMs);
      waiting.push({ event, resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  };
}

export const benchmark: Benchmark = {
  name: 'outbox-drain',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const messages = ctx.smoke ? 200 : 100_000;
    const afterOutage = ctx.smoke ? 20 : 100;
    const outageMs = ctx.smoke ? 500 : 3000;
    const dir = join(ctx.dir, 'outbox-drain');
    mkdirSync(dir, { recursive: true });
    const journalPath = join(dir, 'journal.db');
    const keyFile = join(dir, 'journal.key');
    const key = loadOrCreateKey(keyFile);
    Journal.open(journalPath, { key }).close();
    fill(journalPath, key, 0, messages);
    ctx.progress(`outbox-drain: ${messages} payments in the outbox`);

    const { tls, files } = await devHostTls(join(dir, 'pki'), 'BENCH-0001');
    const host = await startHost({ port: 0, tls, dbPath: join(dir, 'host.db'), accounts: [] });
    const child = spawn(
      process.execPath,
      [
        join(repoRoot(), 'dist', 'bench', 'lib', 'outbox-drain-kiosk.js'),
        ...['--journal', journalPath, '--journal-key', keyFile, '--port', String(host.port), '--batch', String(BATCH)],
        ...['--ca', files.ca, '--cert', files.clientCert, '--key', files.clientKey],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const next = reports(child);
    try {
      await next('up', 30_000);
      const start = await next('start', 30_000);
      const drained = await next('drained', ctx.smoke ? 60_000 : 900_000);
      const drainMs = drained.at - start.at;
      const rate = messages / (drainMs / 1000);
      ctx.progress(`outbox-drain: ${rate.toFixed(0)} messages/s; now an outage of ${outageMs} ms with ${afterOutage} payments taken meanwhile`);

      host.setMode('down');
      await next('down', 30_000);
      fill(journalPath, key, messages, afterOutage);
      await new Promise((r) => setTimeout(r, outageMs));
      const back = Date.now();
      host.setMode('ok');
      const up = await next('up', 120_000);
      const first = await next('first-after-reconnect', 30_000);
      await next('drained', 60_000);

      const commits = bareCommitsPerSecond(join(dir, 'bare.db'), ctx.smoke ? 300 : 3000);
      const bound = (commits / 2) * BATCH;
      const held = host.records().payments.length;
      if (held !== messages + afterOutage) throw new Error(`the server holds ${held} payments, expected ${messages + afterOutage}`);
      const bare = await bareNodeRssBytes();
      const samples = drained.samples as number[];
      const peak = drained.hwm as number;
      const firstMs = first.at - up.at;
      return {
        benchmark: 'outbox-drain',
        method:
          `${messages} payments written to the outbox, then drained by the kiosk's forwarder (journal, envelope adapter, ` +
          `one mutual-TLS connection; batches of ${BATCH}, the configuration default) in a child process, to the reference ` +
          `server in this process; each batch is one fsynced commit on each side (the bound: a bare loop of such commits on the same disk, measured after the drain). Rate: messages over the time from the ` +
          `link up to the outbox empty. Peak RSS: the child's VmHWM when the outbox is empty. Then the server refuses ` +
          `connections for ${outageMs} ms while ${afterOutage} more payments are queued; reconnect figures are from ` +
          `the child's 'up' and first acknowledged message (the back-off before the reconnect is the configuration's, 1 s doubling to 60 s).`,
        figures: [
          figure({ name: 'drain rate', value: rate, unit: 'messages/s', limit: { name: 'target', value: TARGET_RATE, measured: false }, target: `≥ ${TARGET_RATE} messages/s`, met: rate >= TARGET_RATE }),
          figure({
            name: 'drain rate',
            value: rate,
            unit: 'messages/s',
            limit: { name: `two bare fsynced commits per batch of ${BATCH}`, value: bound, measured: true },
            target: null,
            met: null,
          }),
          figure({
            name: 'peak RSS during the drain',
            value: peak / MB,
            unit: 'MB',
            limit: { name: 'target', value: TARGET_PEAK_BYTES / MB, measured: false },
            target: `≤ ${TARGET_PEAK_BYTES / MB} MB`,
            met: peak <= TARGET_PEAK_BYTES,
          }),
          figure({ name: 'peak RSS during the drain', value: peak / MB, unit: 'MB', limit: { name: 'bare node process', value: bare / MB, measured: true }, target: null, met: null }),
          figure({
            name: 'link up → first message acknowledged',
            value: firstMs,
            unit: 'ms',
            limit: { name: 'target', value: TARGET_FIRST_MS, measured: false },
            target: `≤ ${TARGET_FIRST_MS} ms`,
            met: firstMs <= TARGET_FIRST_MS,
          }),
          figure({ name: 'server back → first message acknowledged', value: first.at - back, unit: 'ms', limit: { name: 'reconnect back-off ceiling', value: 60_000, measured: false }, target: null, met: null, note: 'mostly the reconnect back-off' }),
        ],
        details: {
          messages,
          batchSize: BATCH,
          drainMs,
          bareCommitsPerSecond: commits,
          rssAtStartBytes: start.rss,
          rssAtEndBytes: drained.rss,
          rssSamplesEvery1000Bytes: samples,
          peakRssBytes: peak,
          bareNodeRssBytes: bare,
          reconnectMs: up.at - back,
          firstAfterUpMs: firstMs,
        },
      };
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await host.close();
    }
  },
};
