import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Journal } from '../src/journal/index.js';
import { figure, type BenchContext, type BenchResult, type Benchmark } from './lib/types.js';

/** A 10 yuan note as the ID-003 driver reports it (escrow code 0x63). */
export const NOTE = { value: 1000, currency: 'CNY', code: 0x63 };
/** The commits of one two-note payment, as the runtime makes them. */
const EVENTS_PER_PAYMENT = 7;

/** One payment through the journal API: each call is one committed, fsynced SQLite transaction. */
export function payment(journal: Journal, id: string): void {
  journal.startTransaction(id, 'pay');
  journal.recordLookup(id, { phone: '13800138000', amountDue: 2000 });
  for (let i = 0; i < 2; i++) {
    journal.noteEscrowed(id, NOTE);
    // The note flow reads the pending escrow before crediting it.
    journal.pendingEscrow(id);
    journal.noteStacked(id, NOTE, 'vend-valid');
  }
  journal.settle(id, { endReason: 'paid' });
}

/** A bare database with the journal's pragmas and one plain table: what the disk allows. */
function openBare(file: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (db.pragma('synchronous', { simple: true }) !== 2) throw new Error('the bare loop did not get synchronous=FULL');
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, txn_id TEXT, type TEXT NOT NULL, data TEXT NOT NULL, at TEXT NOT NULL)');
  return db;
}

/**
 * Payments through the journal and as many single-row commits in the bare database, one payment's
 * worth at a time, each side timed on its own: the box is shared, and interleaving makes a busy
 * moment cost both sides alike.
 */
function interleaved(dir: string, payments: number): { journal: number; bare: number } {
  const journal = Journal.open(join(dir, 'journal.db'), { key: randomBytes(32) });
  const bare = openBare(join(dir, 'bare.db'));
  try {
    const insert = bare.prepare('INSERT INTO events (txn_id, type, data, at) VALUES (?, ?, ?, ?)');
    const data = JSON.stringify({ note: NOTE, via: 'vend-valid' });
    let journalMs = 0;
    let bareMs = 0;
    for (let i = 0; i < payments; i++) {
      const t0 = performance.now();
      payment(journal, `bench-${i}`);
      const t1 = performance.now();
      for (let e = 0; e < EVENTS_PER_PAYMENT; e++) insert.run(`bench-${i}`, 'note.stacked', data, new Date().toISOString());
      const t2 = performance.now();
      journalMs += t1 - t0;
      bareMs += t2 - t1;
    }
    const events = payments * EVENTS_PER_PAYMENT;
    return { journal: (events * 1000) / journalMs, bare: (events * 1000) / bareMs };
  } finally {
    journal.close();
    bare.close();
  }
}

export const benchmark: Benchmark = {
  name: 'journal',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const payments = ctx.smoke ? 2 : 500;
    const dir = join(ctx.dir, 'journal');
    mkdirSync(dir, { recursive: true });
    ctx.progress(`journal: ${payments} payments, interleaved with the bare loop`);
    const rates = interleaved(dir, payments);
    rmSync(dir, { recursive: true, force: true });
    return {
      benchmark: 'journal',
      method:
        `${payments} two-note payments through the Journal API (start, lookup, escrowed + stacked twice, settle: ` +
        `${EVENTS_PER_PAYMENT} commits each, plus the note flow's pending-escrow reads), interleaved payment by payment ` +
        `with as many single-row commits of a bare better-sqlite3 loop; both WAL, synchronous=FULL, foreign_keys=ON, ` +
        `in the same folder; each side timed on its own.`,
      figures: [
        figure({
          name: 'durable events/s',
          value: rates.journal,
          unit: 'events/s',
          limit: { name: 'bare better-sqlite3 loop', value: rates.bare, measured: true },
          target: '≥ 0.8 of the bare loop',
          met: rates.journal / rates.bare >= 0.8,
        }),
      ],
      details: { payments, eventsPerSide: payments * EVENTS_PER_PAYMENT, journalEventsPerS: rates.journal, bareEventsPerS: rates.bare },
    };
  },
};
