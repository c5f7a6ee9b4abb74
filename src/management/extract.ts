import { z } from 'zod';
import type { ChainedEvent, ManagementStore } from '../journal/index.js';

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
export type ExtractEvent = ChainedEvent;

export interface JournalExtract {
  events: ExtractEvent[];
  /** More events matched than MAX_EXTRACT_EVENTS; the first ones are given. */
  truncated: boolean;
}

/** Reads the events an upload-journal command asks for, oldest first. */
export function journalExtract(journal: { readonly management: ManagementStore }, args: ExtractArgs): JournalExtract {
  const store = journal.management;
  let rows: ChainedEvent[];
  if (args.last !== undefined) rows = store.lastEvents(args.last);
  else {
    // Stored instants are toISOString() text, so they compare as text once the bounds are alike.
    const from = args.from === undefined ? '' : new Date(args.from).toISOString();
    const to = args.to === undefined ? '\uffff' : new Date(args.to).toISOString();
    rows = store.eventsBetween(from, to, MAX_EXTRACT_EVENTS + 1);
  }
  const truncated = rows.length > MAX_EXTRACT_EVENTS;
  return {
    truncated,
    events: rows.slice(0, MAX_EXTRACT_EVENTS),
  };
}
