import { readHead } from './chain.js';
import type { Ledger } from './ledger.js';

/** A point of the hash chain: an event's seq and hash (seq 0 is the empty chain). */
export interface HeadRef {
  seq: number;
  hash: string;
}

export interface AcknowledgedHead extends HeadRef {
  /** Which server confirmed it saw this head ('business' or 'management'). */
  server: string;
  at: string;
}

/**
 * The chain head as the servers see it. A copy of the journal put back whole (or a WAL cut short)
 * is a sound chain by itself; only someone who saw a later head can tell. The kiosk reports its
 * head, the servers keep the highest they saw and send it back, and the kiosk keeps the highest
 * one a server confirmed, refusing to serve below it.
 */
export class ChainHeads {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly l: Ledger) {
    this.sql = prepare(l.db);
  }

  head(): HeadRef {
    const h = readHead(this.l.db);
    if (!h) throw new Error('journal: the chain head record is missing; the journal was tampered with');
    return { seq: h.seq, hash: h.hash };
  }

  /** The hash of the event at `seq` (seq 0: the empty chain), or undefined when there is none. */
  hashAt(seq: number): string | undefined {
    if (seq === 0) return '0'.repeat(64);
    return (this.sql.hashAt.get(seq) as { hash: string } | undefined)?.hash;
  }

  acknowledged(): AcknowledgedHead | undefined {
    return this.sql.acknowledged.get() as AcknowledgedHead | undefined;
  }

  /** Keeps `head` as acknowledged by `server` when it is higher than the one kept. */
  acknowledge(head: HeadRef, server: string): void {
    const known = this.acknowledged();
    if (known && known.seq >= head.seq) return;
    this.sql.acknowledge.run(head.seq, head.hash, server, this.l.stamp());
  }

  /**
   * Journals that a server saw a head this journal does not hold. Written into the file in use, so
   * that even a rolled-back file carries the mark from now on and the next boot stays out of service.
   */
  recordRollback(server: string, serverHead: HeadRef, reason: string): void {
    const own = this.head();
    this.l.write(() =>
      this.l.insert(null, 'journal.rollback-detected', { server, serverHead: pick(serverHead), ownHead: own, reason }, this.l.stamp()),
    );
  }

  /** The last rollback mark no engineer has accepted yet, or undefined. */
  unresolvedRollback(): RollbackMark | undefined {
    const detected = this.l.lastOfType('journal.rollback-detected');
    const accepted = this.l.lastOfType('journal.rollback-accepted');
    if (!detected || (accepted && accepted.seq > detected.seq)) return undefined;
    return { server: detected.data.server, serverHead: pick(detected.data.serverHead), reason: detected.data.reason };
  }

  /** Every server head an engineer accepted as belonging to a journal no longer in use. */
  acceptedHeads(): (HeadRef & { server: string })[] {
    return this.l.eventsOfType('journal.rollback-accepted').flatMap((e) => e.data.accepted.map((a) => ({ server: a.server, ...pick(a) })));
  }

  /**
   * An engineer accepts the journal in use: the heads of the marks since the last acceptance are
   * set aside, and a confirmed head this journal does not hold is forgotten (it belongs to the old
   * file). Returns the heads accepted.
   */
  acceptRollback(by: string, peer?: { uid: number; user: string; pid: number }): (HeadRef & { server: string })[] {
    return this.l.write(() => {
      const since = this.l.lastOfType('journal.rollback-accepted')?.seq ?? 0;
      const marks = this.l.eventsOfType('journal.rollback-detected').filter((e) => e.seq > since);
      const accepted = marks.map((e) => ({ server: e.data.server, ...pick(e.data.serverHead) }));
      const ack = this.acknowledged();
      if (ack && this.hashAt(ack.seq) !== ack.hash) this.sql.forget.run();
      this.l.insert(null, 'journal.rollback-accepted', { by, ...(peer ? { peer } : {}), accepted }, this.l.stamp());
      return accepted;
    });
  }
}

export interface RollbackMark {
  server: string;
  serverHead: HeadRef;
  reason: string;
}

function pick(h: HeadRef): HeadRef {
  return { seq: h.seq, hash: h.hash };
}

function prepare(db: Ledger['db']) {
  return {
    hashAt: db.prepare('SELECT hash FROM events WHERE seq = ?'),
    forget: db.prepare('DELETE FROM chain_acknowledged WHERE id = 1'),
    acknowledged: db.prepare('SELECT seq, hash, server, at FROM chain_acknowledged WHERE id = 1'),
    acknowledge: db.prepare(
      `INSERT INTO chain_acknowledged (id, seq, hash, server, at) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, server = excluded.server, at = excluded.at`,
    ),
  };
}
