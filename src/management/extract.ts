import { z } from 'zod';
import type { Journal } from '../journal/index.js';

/** At most this many events go in one extract; the answer says when there were more. */
export const MAX_EXTRACT_EVENTS = 5000;

const instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be a date-time, e.g. 2025-01-02T03:04:05Z');

/** The last N events, or those in [from, to) (either end may be left open). */
export const extractArgsSchema = z
  .object({
    last: z.number().int().min(1).max(MAX_EXTRACT_EVENTS).optional(),
    from: instant.optional(),
    to: instant.optional(),
  })
  .strict()
  .refine((a) => (a.last === undefined) !== (a.from === undefined && a.to === undefined), 'give either last, or from and/or to');
export type ExtractArgs = z.infer<typeof extractArgsSchema>;

/** One journal event as uploaded; the hashes let the receiver check the chain it was cut from. */
export interface ExtractEvent {
  seq: number;
  txnId: string | null;
  type: string;
  data: unknown;
  at: string;
  prevHash: string | null;
  hash: string | null;
}

export interface JournalExtract {
  events: ExtractEvent[];
  /** More events matched than MAX_EXTRACT_EVENTS; the first ones are given. */
  truncated: boolean;
}

interface EventRow {
  seq: number;
  txn_id: string | null;
  type: string;
  data: string;
  at: string;
  prev_hash: string | null;
  hash: string | null;
}

/** Reads the events an upload-journal command asks for, oldest first. */
export function journalExtract(journal: Journal, args: ExtractArgs): JournalExtract {
  const rows = journal.withTables((db) => {
    if (args.last !== undefined) {
      return (db.prepare('SELECT * FROM events ORDER BY seq DESC LIMIT ?').all(args.last) as EventRow[]).reverse();
    }
    // Stored instants are toISOString() text, so they compare as text once the bounds are alike.
    const from = args.from === undefined ? '' : new Date(args.from).toISOString();
    const to = args.to === undefined ? '\uffff' : new Date(args.to).toISOString();
    return db.prepare('SELECT * FROM events WHERE at >= ? AND at < ? ORDER BY seq LIMIT ?').all(from, to, MAX_EXTRACT_EVENTS + 1) as EventRow[];
  });
  const truncated = rows.length > MAX_EXTRACT_EVENTS;
  return {
    truncated,
    events: rows.slice(0, MAX_EXTRACT_EVENTS).map((r) => ({
      seq: r.seq,
      txnId: r.txn_id,
      type: r.type,
      data: JSON.parse(r.data) as unknown,
      at: r.at,
      prevHash: r.prev_hash,
      hash: r.hash,
    })),
  };
}
