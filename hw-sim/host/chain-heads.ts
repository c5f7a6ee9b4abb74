/**
 * What a reference server keeps of each terminal's journal chain head: every head it was told,
 * by seq. A kiosk that reports a head below the highest one seen (its journal was put back to an
 * older copy, or its WAL cut short) or a different hash for a seq seen before (a forked journal)
 * is an anomaly. The answer carries the highest head known before and after the report, so the
 * kiosk, which holds the whole chain, can check that its own chain passes through both.
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';

export const headSchema = z.object({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
export type Head = z.infer<typeof headSchema>;

export interface HeadVerdict {
  /** The highest head known before this report (absent for a terminal never heard of). */
  before?: Head;
  /** The highest head known now. */
  highest: Head;
  anomaly: { kind: 'chain-rolled-back' | 'chain-forked'; detail: string } | null;
}

export class ChainHeadBook {
  constructor(
    private readonly db: Database.Database,
    private readonly table: string,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
      terminal_id TEXT NOT NULL,
      seq         INTEGER NOT NULL,
      hash        TEXT NOT NULL,
      first_seen  TEXT NOT NULL,
      PRIMARY KEY (terminal_id, seq)
    )`);
  }

  report(terminalId: string, head: Head, at: string): HeadVerdict {
    return this.db.transaction(() => {
      const top = this.db.prepare(`SELECT seq, hash FROM ${this.table} WHERE terminal_id = ? ORDER BY seq DESC LIMIT 1`).get(terminalId) as Head | undefined;
      const same = this.db.prepare(`SELECT hash FROM ${this.table} WHERE terminal_id = ? AND seq = ?`).get(terminalId, head.seq) as { hash: string } | undefined;
      let anomaly: HeadVerdict['anomaly'] = null;
      if (same && same.hash !== head.hash) {
        anomaly = { kind: 'chain-forked', detail: `${terminalId} reports event ${head.seq} with hash ${head.hash.slice(0, 12)}…, seen before as ${same.hash.slice(0, 12)}…` };
      } else if (top && head.seq < top.seq) {
        anomaly = { kind: 'chain-rolled-back', detail: `${terminalId} reports its journal ending at event ${head.seq}; it reported event ${top.seq} before` };
      }
      if (!same) this.db.prepare(`INSERT INTO ${this.table} (terminal_id, seq, hash, first_seen) VALUES (?, ?, ?, ?)`).run(terminalId, head.seq, head.hash, at);
      const highest = top && top.seq >= head.seq ? { seq: top.seq, hash: top.hash } : head;
      return top ? { before: { seq: top.seq, hash: top.hash }, highest, anomaly } : { highest, anomaly };
    }).immediate();
  }

  /**
   * Forgets what a terminal reported: its operator replaced the journal on purpose (a new storage
   * card) and accepted it on the kiosk. The next report starts the record afresh. Returns the rows forgotten.
   */
  reset(terminalId: string): number {
    return this.db.prepare(`DELETE FROM ${this.table} WHERE terminal_id = ?`).run(terminalId).changes;
  }

  /** Every head seen, by terminal and seq. */
  all(): { terminalId: string; seq: number; hash: string; firstSeen: string }[] {
    return this.db.prepare(`SELECT terminal_id AS terminalId, seq, hash, first_seen AS firstSeen FROM ${this.table} ORDER BY terminal_id, seq`).all() as {
      terminalId: string;
      seq: number;
      hash: string;
      firstSeen: string;
    }[];
  }
}
