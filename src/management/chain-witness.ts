import type { AlarmSink } from '../alarms/sink.js';
import type { HeadRef, Journal } from '../journal/index.js';
import type { Logger } from '../log.js';

const ALARM = { kind: 'journal-rollback', source: 'journal' } as const;
/**
 * A confirmed head is journalled at most this often. Each is a commit of its own (an fsync on the
 * main thread); with a heartbeat a second, one per heartbeat stalled notes in escrow. Every answer
 * is still checked at once; only the kept copy may lag by this much.
 */
export const ACKNOWLEDGE_EVERY_MS = 10_000;

/**
 * The kiosk's side of rollback detection. A journal put back to an older copy (or with its WAL cut
 * short) is a sound chain by itself; the servers are the witnesses that saw a later head. The kiosk
 * reports its head with each heartbeat and delivery; each server answers with the highest head it
 * knew before and after the report; both must be events of this journal with the same hash. If
 * not, the journal was rolled back or forked: a critical alarm, and the terminal leaves service
 * and stays out (`failure`) until the operator has looked at it.
 *
 * The last head a server confirmed is also kept in the journal and checked at boot; on its own it
 * cannot catch a rollback of the whole file (it is rolled back with it), which is why every
 * server answer is checked as well. A rollback found is journalled into the file in use, so a
 * restart does not serve customers until a server answers again: the mark holds the kiosk out
 * of service from boot on until an engineer accepts the journal (a replaced storage card).
 */
export class ChainWitness {
  private failed: string | null = null;
  /** Heads of a journal an engineer set aside: a server still holding one is no longer a witness against us. */
  private readonly accepted = new Set<string>();
  /** Server heads journalled as marks in this run: each server's head is marked once, so an acceptance covers them all. */
  private readonly marked = new Set<string>();
  private acknowledgedAt = -Infinity;

  constructor(
    private readonly journal: Pick<
      Journal,
      'chainHead' | 'hashAt' | 'acknowledgedHead' | 'acknowledgeHead' | 'recordRollback' | 'unresolvedRollback' | 'acceptedHeads' | 'acceptRollback'
    >,
    private readonly alarms: AlarmSink,
    private readonly log: Pick<Logger, 'error'>,
    /** The journal was found rolled back or forked. */
    private readonly onRollback: (reason: string) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    for (const h of journal.acceptedHeads()) this.accepted.add(refKey(h));
  }

  /** What to report to a server now. */
  report(): HeadRef {
    return this.journal.chainHead();
  }

  /** Why the terminal must not serve, or null: a rollback seen in this run, or the journal below its acknowledged head. */
  failure(): string | null {
    if (this.failed !== null) return this.failed;
    const mark = this.journal.unresolvedRollback();
    if (mark) {
      this.fail(`${mark.reason} (found before this start; an engineer must accept the journal: journal-rollback-accept)`);
      return this.failed;
    }
    const ack = this.journal.acknowledgedHead();
    if (ack) {
      const why = this.mismatch(`the ${ack.server} server`, ack);
      if (why) this.fail(why, { server: ack.server, head: ack });
    }
    return this.failed;
  }

  /**
   * An engineer accepts the journal in use: the heads the servers saw are set aside, the alarm is
   * cleared, and the terminal may be recovered into service again. Returns the heads set aside.
   */
  accept(by: string, peer?: { uid: number; user: string; pid: number }): HeadRef[] {
    const heads = this.journal.acceptRollback(by, peer);
    for (const h of heads) this.accepted.add(refKey(h));
    this.failed = null;
    this.alarms.clear(ALARM.kind, ALARM.source);
    return heads;
  }

  /**
   * A server's answer: the highest heads it knew before and after this report (absent: a server
   * that keeps none). Each must be in this journal's chain.
   */
  serverSaw(server: string, heads: { chainHead?: HeadRef | undefined; chainHeadBefore?: HeadRef | undefined }): void {
    for (const ref of [heads.chainHeadBefore, heads.chainHead]) {
      if (!ref || this.accepted.has(refKey(ref))) continue;
      const why = this.mismatch(`the ${server} server`, ref);
      if (why) return this.fail(why, { server, head: ref });
    }
    if (heads.chainHead && !this.accepted.has(refKey(heads.chainHead))) this.acknowledge(heads.chainHead, server);
  }

  private acknowledge(head: HeadRef, server: string): void {
    const now = this.now();
    if (now - this.acknowledgedAt < ACKNOWLEDGE_EVERY_MS) return;
    this.acknowledgedAt = now;
    this.journal.acknowledgeHead(head, server);
  }

  private mismatch(who: string, ref: HeadRef): string | null {
    const own = this.journal.hashAt(ref.seq);
    if (own === ref.hash) return null;
    const head = this.journal.chainHead();
    return own === undefined
      ? `journal rolled back: ${who} saw event ${ref.seq}, but the journal ends at event ${head.seq}`
      : `journal forked: event ${ref.seq} differs from the one ${who} saw`;
  }

  /** `seen`: the server's head that shows it, journalled as the durable mark (none when the mark is already there). */
  private fail(reason: string, seen?: { server: string; head: HeadRef }): void {
    const first = this.failed === null;
    this.failed = reason;
    this.alarms.raise({ ...ALARM, severity: 'critical', detail: reason });
    const mark = seen && `${seen.server}:${refKey(seen.head)}`;
    if (seen && mark && !this.marked.has(mark)) {
      this.marked.add(mark);
      this.journal.recordRollback(seen.server, seen.head, reason);
    }
    if (!first) return;
    this.log.error({ reason }, 'the journal is not the one the servers saw: out of service');
    this.onRollback(reason);
  }
}

function refKey(h: HeadRef): string {
  return `${h.seq}:${h.hash}`;
}
