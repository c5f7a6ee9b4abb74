import { chainHash, headMac } from './chain.js';
import type { QuietCheckpoint } from './checkpoint.js';
import type { EventPayloads, EventType, JournalEvent, TypedEvent } from './events.js';
import { asTyped } from './events.js';
import type { Database } from './store.js';
import { toJson } from './validate.js';

import type { Service } from '../domain/service.js';

export type { Service };
export type TxnStatus = 'open' | 'completed' | 'cancelled';

export interface TxnRow {
  id: string;
  service: Service;
  phone: string | null;
  amountDue: number | null;
  status: TxnStatus;
  endReason: string | null;
  cashIn: number;
  /** Taken by card and not reversed (fen). */
  cardIn: number;
  /** Paid by a mobile wallet and credited (fen). */
  mobileIn: number;
  credited: number;
  changePaid: number;
  changeOwed: number;
  /** Given to the customer for change owed; set whenever changeOwed > 0 after a settle. */
  claimCode: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TxnRecord {
  id: string;
  service: Service;
  phone: string | null;
  amount_due: number | null;
  status: TxnStatus;
  end_reason: string | null;
  cash_in: number;
  card_in: number;
  mobile_in: number;
  credited: number;
  change_paid: number;
  change_owed: number;
  claim_code: string | null;
  created_at: string;
  updated_at: string;
}

export interface EventRecord {
  seq: number;
  txn_id: string | null;
  type: string;
  data: string;
  at: string;
}

/** Told of the events each write committed, right after the commit. */
export type CommitObserver = (events: readonly JournalEvent[]) => void;

/** The currency of payments and of the cash box (src/domain). */
export { CURRENCY as PAYMENT_CURRENCY } from '../domain/money.js';

/**
 * What every concern module writes through: one SQLite transaction per money fact, the hash chain
 * that each event joins, the clock, and the transaction rows the facts belong to.
 */
export class Ledger {
  /** Events written by the write under way; reported only once it committed. */
  private uncommitted: JournalEvent[] = [];
  private depth = 0;
  /** The last event the write under way chained, until its head is moved at the end of it. */
  private head: { seq: number; hash: string } | undefined;
  private readonly sql: ReturnType<typeof prepare>;
  /**
   * The transaction wrappers, made once: better-sqlite3 builds four wrapper functions for every
   * db.transaction() call, which on the money path cost more than a statement.
   */
  private readonly outermost: (fn: () => unknown) => unknown;
  private readonly nested: (fn: () => unknown) => unknown;
  /** Told of each commit when the WAL is checkpointed at quiet moments (checkpoint.ts). */
  checkpoint: QuietCheckpoint | undefined;

  constructor(
    readonly db: Database,
    private readonly key: Buffer,
    private readonly now: () => Date,
    private readonly onCommit?: CommitObserver,
  ) {
    this.sql = prepare(db);
    this.outermost = db.transaction((fn: () => unknown) => this.bodyWithHead(fn));
    this.nested = db.transaction((fn: () => unknown) => fn());
  }

  /**
   * Runs `fn` as one SQLite transaction (a nested call joins the outer one). Only after the
   * outermost one committed is the observer told of its events, so whatever it does (a test's
   * SIGKILL) always finds them on disk.
   */
  write<T>(fn: () => T): T {
    if (this.depth === 0) {
      this.uncommitted = [];
      this.head = undefined;
    }
    const headBefore = this.head;
    const eventsBefore = this.uncommitted.length;
    this.depth += 1;
    let result: T;
    try {
      result = (this.depth === 1 ? this.outermost(fn) : this.nested(fn)) as T;
    } catch (err) {
      // A nested write rolled back to its savepoint: its events and head went with it.
      this.uncommitted.length = eventsBefore;
      this.head = headBefore;
      throw err;
    } finally {
      this.depth -= 1;
    }
    if (this.depth > 0) return result;
    const committed = this.uncommitted;
    this.uncommitted = [];
    if (this.onCommit && committed.length > 0) this.onCommit(committed);
    this.checkpoint?.committed();
    return result;
  }

  /** The body of the outermost write, with the chain head moved (and sealed) once, before COMMIT. */
  private bodyWithHead<T>(fn: () => T): T {
    const result = fn();
    const head = this.head;
    if (head) this.sql.moveHead.run(head.seq, head.hash, headMac(this.key, head));
    return result;
  }

  /** Chains a catalogue event of the write under way. */
  insert<T extends EventType>(txnId: string | null, type: T, data: EventPayloads[T], at: string): TypedEvent<T> {
    return this.insertRaw(txnId, type, data as Record<string, unknown>, at) as TypedEvent<T>;
  }

  /**
   * Chains the event to the chain head. The hash covers the seq, so the seq is chosen here (the
   * one AUTOINCREMENT would give next) rather than by the insert.
   */
  insertRaw(txnId: string | null, type: string, data: Record<string, unknown>, at: string): JournalEvent {
    if (this.depth === 0) throw new Error('journal: events are written only inside Ledger.write()');
    // The head is read once a write; its later events chain to the one written before them.
    let prev = this.head;
    if (!prev) {
      const row = this.sql.chainHead.get() as { hash: string | null; next: number } | undefined;
      if (!row?.hash) throw new Error('journal: the chain head record is missing; the journal was tampered with');
      prev = { seq: row.next - 1, hash: row.hash };
    }
    const seq = prev.seq + 1;
    const json = toJson(data, `event "${type}"`);
    const hash = chainHash(this.key, prev.hash, { seq, txn_id: txnId, type, data: json, at });
    this.sql.insertEvent.run(seq, txnId, type, json, at, prev.hash, hash);
    this.head = { seq, hash };
    const event = { seq, txnId, type, data, at };
    this.uncommitted.push(event);
    return event;
  }

  stamp(): string {
    return this.now().toISOString();
  }

  rows<T>(sql: string, ...params: unknown[]): T[] {
    return this.db.prepare(sql).all(...params) as T[];
  }

  transaction(id: string): TxnRow | undefined {
    const r = this.sql.txn.get(id) as TxnRecord | undefined;
    return r && toTxn(r);
  }

  mustGet(id: string): TxnRow {
    const row = this.transaction(id);
    if (!row) throw new Error(`journal: unknown transaction "${id}"`);
    return row;
  }

  mustBeOpen(id: string, action: string): TxnRow {
    const row = this.mustGet(id);
    if (row.status !== 'open') throw new Error(`journal: cannot ${action} transaction "${id}": it is ${row.status}`);
    return row;
  }

  mustHaveEnded(id: string, action: string): TxnRow {
    const row = this.mustGet(id);
    if (row.status === 'open') throw new Error(`journal: cannot ${action} transaction "${id}": it is still open`);
    return row;
  }

  touch(id: string, at: string): void {
    this.sql.touch.run(at, id);
  }

  /**
   * Stamps an open transaction, in place of reading it first: the update finds no row when the
   * transaction is unknown or ended, and only then is it read, for the error that says which.
   */
  touchOpen(id: string, at: string, action: string): void {
    if (this.sql.touchOpen.run(at, id).changes === 0) this.mustBeOpen(id, action);
  }

  /** Throws mustBeOpen's error for a conditional update on an open transaction that changed nothing. */
  requireChanged(changes: number, id: string, action: string): void {
    if (changes === 0) this.mustBeOpen(id, action);
  }

  /** A transaction's events, oldest first, as stored. */
  events(txnId: string): JournalEvent[] {
    return (this.sql.events.all(txnId) as EventRecord[]).map(toEvent);
  }

  /** A transaction's events of one type, oldest first, their data checked against the catalogue. */
  eventsOf<T extends EventType>(txnId: string, type: T): TypedEvent<T>[] {
    return (this.sql.eventsOfTxn.all(txnId, type) as EventRecord[]).map((r) => asTyped(toEvent(r), type));
  }

  /** Every event of one type, oldest first, checked against the catalogue. */
  eventsOfType<T extends EventType>(type: T): TypedEvent<T>[] {
    return (this.sql.eventsOfType.all(type) as EventRecord[]).map((r) => asTyped(toEvent(r), type));
  }

  /** The newest event of one type, checked against the catalogue. */
  lastOfType<T extends EventType>(type: T): TypedEvent<T> | undefined {
    const r = this.sql.lastOfType.get(type) as EventRecord | undefined;
    return r && asTyped(toEvent(r), type);
  }
}

function prepare(db: Database) {
  return {
    txn: db.prepare('SELECT * FROM transactions WHERE id = ?'),
    touch: db.prepare('UPDATE transactions SET updated_at = ? WHERE id = ?'),
    touchOpen: db.prepare(`UPDATE transactions SET updated_at = ? WHERE id = ? AND status = 'open'`),
    // The seq AUTOINCREMENT would give next (a cut-off tail is never reissued), with the head's hash.
    chainHead: db.prepare(
      `SELECT hash, MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                        COALESCE((SELECT MAX(seq) FROM events), 0)) + 1 AS next
       FROM chain_head WHERE id = 1`,
    ),
    insertEvent: db.prepare(
      'INSERT INTO events (seq, txn_id, type, data, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    moveHead: db.prepare('UPDATE chain_head SET seq = ?, hash = ?, mac = ? WHERE id = 1'),
    events: db.prepare('SELECT * FROM events WHERE txn_id = ? ORDER BY seq'),
    eventsOfTxn: db.prepare('SELECT * FROM events WHERE txn_id = ? AND type = ? ORDER BY seq'),
    eventsOfType: db.prepare('SELECT * FROM events WHERE type = ? ORDER BY seq'),
    lastOfType: db.prepare('SELECT * FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1'),
  };
}

export function toTxn(r: TxnRecord): TxnRow {
  return {
    id: r.id,
    service: r.service,
    phone: r.phone,
    amountDue: r.amount_due,
    status: r.status,
    endReason: r.end_reason,
    cashIn: r.cash_in,
    cardIn: r.card_in,
    mobileIn: r.mobile_in,
    credited: r.credited,
    changePaid: r.change_paid,
    changeOwed: r.change_owed,
    claimCode: r.claim_code,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function toEvent(r: EventRecord): JournalEvent {
  return { seq: r.seq, txnId: r.txn_id, type: r.type, data: JSON.parse(r.data) as Record<string, unknown>, at: r.at };
}
