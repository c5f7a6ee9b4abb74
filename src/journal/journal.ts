import type { Note } from '../../drivers/types.js';
import { openDatabase, type Database } from './db.js';

export type Service = 'pay' | 'topup' | 'lookup';
export type TxnStatus = 'open' | 'completed' | 'cancelled';

export interface TxnRow {
  id: string;
  service: Service;
  phone: string | null;
  amountDue: number | null;
  status: TxnStatus;
  endReason: string | null;
  cashIn: number;
  credited: number;
  changePaid: number;
  changeOwed: number;
  createdAt: string;
  updatedAt: string;
}

export interface JournalEvent {
  seq: number;
  txnId: string | null;
  type: string;
  data: Record<string, unknown>;
  at: string;
}

export interface OutboxRow {
  seq: number;
  messageId: string;
  txnId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  createdAt: string;
  attempts: number;
  lastAttemptAt: string | null;
  lastError: string | null;
  ackedAt: string | null;
  serverRef: string | null;
}

/** The outbox payload of a settled transaction that credited money. */
export interface PaymentMessage {
  messageId: string;
  txnId: string;
  service: Service;
  phone: string | null;
  amount: number;
  currency: 'CNY';
  cashIn: number;
  settledAt: string;
}

export interface JournalOptions {
  /**
   * Fault injection for crash tests: `type` or `type#n`. Right after the commit of the n-th event
   * of that type written by this journal (default the 1st), the process SIGKILLs itself.
   */
  crashAfter?: string;
  now?: () => Date;
}

export interface LookupInfo {
  phone: string;
  amountDue: number | null;
  holder?: string;
  offline?: boolean;
}

export type SendResult = { ok: true; serverRef?: string } | { ok: false; error: string };

const SERVICES: readonly Service[] = ['pay', 'topup', 'lookup'];
const NOTE_EVENTS = ['note.escrowed', 'note.stacked', 'note.returned'] as const;
/** Written only by the journal's own money methods; append() may not forge them. */
const RESERVED_TYPES = new Set<string>(['txn.started', 'txn.lookup', ...NOTE_EVENTS, 'txn.settled', 'txn.cancelled']);
const PAYMENT_CURRENCY = 'CNY';

interface TxnRecord {
  id: string;
  service: Service;
  phone: string | null;
  amount_due: number | null;
  status: TxnStatus;
  end_reason: string | null;
  cash_in: number;
  credited: number;
  change_paid: number;
  change_owed: number;
  created_at: string;
  updated_at: string;
}

interface EventRecord {
  seq: number;
  txn_id: string | null;
  type: string;
  data: string;
  at: string;
}

interface OutboxRecord {
  seq: number;
  message_id: string;
  txn_id: string | null;
  kind: string;
  payload: string;
  created_at: string;
  attempts: number;
  last_attempt_at: string | null;
  last_error: string | null;
  acked_at: string | null;
  server_ref: string | null;
}

interface CrashPoint {
  type: string;
  nth: number;
}

/**
 * The kiosk's durable record of money. Journal first, then act: every method returns only after
 * its SQLite transaction committed (synchronous=FULL), so the caller may then tell a device or
 * the customer to go on. Each money method writes its event and its state change atomically.
 */
export class Journal {
  readonly path: string;
  private readonly db: Database;
  private readonly now: () => Date;
  private readonly crashPoint: CrashPoint | null;
  /** Committed events of the crashAfter type so far. */
  private crashCount = 0;
  /** Event types written inside the SQLite transaction under way; counted only once it commits. */
  private uncommitted: string[] = [];
  private readonly sql: ReturnType<typeof prepareStatements>;

  static open(path: string, opts: JournalOptions = {}): Journal {
    const crashPoint = opts.crashAfter === undefined ? null : parseCrashAfter(opts.crashAfter);
    return new Journal(openDatabase(path), crashPoint, opts.now ?? (() => new Date()));
  }

  private constructor(db: Database, crashPoint: CrashPoint | null, now: () => Date) {
    this.db = db;
    this.path = db.name;
    this.crashPoint = crashPoint;
    this.now = now;
    this.sql = prepareStatements(db);
  }

  close(): void {
    this.db.close();
  }

  // ------------------------------------------------------------------ money facts

  startTransaction(id: string, service: Service): TxnRow {
    requireText('transaction id', id);
    if (!SERVICES.includes(service)) {
      throw new Error(`journal: unknown service ${JSON.stringify(service)} (expected ${SERVICES.join(', ')})`);
    }
    return this.write(() => {
      if (this.sql.txn.get(id)) throw new Error(`journal: transaction "${id}" already exists`);
      const at = this.stamp();
      this.sql.insertTxn.run(id, service, at, at);
      this.insertEvent(id, 'txn.started', { service }, at);
      return this.mustGet(id);
    });
  }

  recordLookup(id: string, info: LookupInfo): void {
    requireText('phone', info.phone);
    if (info.amountDue !== null) requireAmount('amountDue', info.amountDue);
    const data: Record<string, unknown> = { phone: info.phone, amountDue: info.amountDue };
    if (info.holder !== undefined) data.holder = info.holder;
    if (info.offline !== undefined) data.offline = info.offline;
    this.write(() => {
      this.mustBeOpen(id, 'record a lookup on');
      const at = this.stamp();
      this.sql.lookup.run(info.phone, info.amountDue, at, id);
      this.insertEvent(id, 'txn.lookup', data, at);
    });
  }

  noteEscrowed(id: string, note: Note): void {
    const n = cleanNote(note);
    this.write(() => {
      this.mustBeOpen(id, 'escrow a note in');
      const at = this.stamp();
      this.sql.touch.run(at, id);
      this.insertEvent(id, 'note.escrowed', { note: n }, at);
    });
  }

  /** The credit point: the note is in the cash box and counts for this transaction. */
  noteStacked(id: string, note: Note, via?: string): void {
    const n = cleanNote(note);
    const data: Record<string, unknown> = { note: n };
    if (via !== undefined) data.via = via;
    this.write(() => {
      this.mustBeOpen(id, 'stack a note in');
      const at = this.stamp();
      this.sql.stack.run(n.value, n.value, at, id);
      this.sql.cashboxAdd.run(n.currency, n.value);
      this.insertEvent(id, 'note.stacked', data, at);
    });
  }

  /**
   * A note handed back to the customer. Allowed on a transaction that already ended: a note held
   * in escrow when the transaction timed out leaves the validator only after the cancel.
   */
  noteReturned(id: string, note: Note, reason: string): void {
    const n = cleanNote(note);
    requireText('reason', reason);
    this.write(() => {
      this.mustGet(id);
      const at = this.stamp();
      this.sql.touch.run(at, id);
      this.insertEvent(id, 'note.returned', { note: n, reason }, at);
    });
  }

  /** Any other fact worth keeping: alarms, device status, recovery decisions, operator actions. */
  append(txnId: string | null, type: string, data: Record<string, unknown> = {}): JournalEvent {
    requireText('event type', type);
    if (RESERVED_TYPES.has(type)) {
      throw new Error(`journal: event type "${type}" is written only by its own Journal method, not by append()`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new Error(`journal: event data for "${type}" must be a plain object`);
    }
    const json = toJson(data, `event "${type}"`);
    return this.write(() => {
      if (txnId !== null) this.mustGet(txnId);
      return this.insertEvent(txnId, type, JSON.parse(json) as Record<string, unknown>, this.stamp());
    });
  }

  /**
   * Ends a transaction that took money (or none). Of what was stacked, `changePaid` went back as
   * change and `changeOwed` could not be paid; the rest is credited and queued for the server in
   * the same SQLite transaction.
   */
  settle(id: string, s: { endReason: string; changePaid?: number; changeOwed?: number }): TxnRow {
    requireText('endReason', s.endReason);
    const changePaid = s.changePaid ?? 0;
    const changeOwed = s.changeOwed ?? 0;
    requireAmount('changePaid', changePaid);
    requireAmount('changeOwed', changeOwed);
    return this.write(() => {
      const row = this.mustBeOpen(id, 'settle');
      const credited = row.cashIn - changePaid - changeOwed;
      if (credited < 0) {
        throw new Error(
          `journal: cannot settle "${id}": change paid ${changePaid} + change owed ${changeOwed} ` +
            `exceeds cash in ${row.cashIn}`,
        );
      }
      const at = this.stamp();
      this.sql.settle.run(s.endReason, credited, changePaid, changeOwed, at, id);
      this.insertEvent(
        id,
        'txn.settled',
        { endReason: s.endReason, cashIn: row.cashIn, credited, changePaid, changeOwed },
        at,
      );
      if (credited > 0) {
        const message: PaymentMessage = {
          messageId: `${id}:payment`,
          txnId: id,
          service: row.service,
          phone: row.phone,
          amount: credited,
          currency: PAYMENT_CURRENCY,
          cashIn: row.cashIn,
          settledAt: at,
        };
        this.sql.insertOutbox.run(message.messageId, id, 'payment', JSON.stringify(message), at);
      }
      return this.mustGet(id);
    });
  }

  /** Ends a transaction that took no money. Money in must be settled, never cancelled. */
  cancel(id: string, reason: string): TxnRow {
    requireText('reason', reason);
    return this.write(() => {
      const row = this.mustBeOpen(id, 'cancel');
      if (row.cashIn > 0) {
        throw new Error(`journal: cannot cancel "${id}": it holds cash in ${row.cashIn}; settle it instead`);
      }
      const at = this.stamp();
      this.sql.cancel.run(reason, at, id);
      this.insertEvent(id, 'txn.cancelled', { reason }, at);
      return this.mustGet(id);
    });
  }

  // ------------------------------------------------------------------ reading

  transaction(id: string): TxnRow | undefined {
    const r = this.sql.txn.get(id) as TxnRecord | undefined;
    return r && toTxn(r);
  }

  openTransactions(): TxnRow[] {
    return (this.sql.openTxns.all() as TxnRecord[]).map(toTxn);
  }

  /** Newest first. */
  listTransactions(opts: { limit?: number } = {}): TxnRow[] {
    const limit = opts.limit ?? 100;
    requirePositive('limit', limit);
    return (this.sql.listTxns.all(limit) as TxnRecord[]).map(toTxn);
  }

  events(txnId: string): JournalEvent[] {
    this.mustGet(txnId);
    return (this.sql.events.all(txnId) as EventRecord[]).map(toEvent);
  }

  /** The last note escrowed in this transaction with no stacked/returned after it, or null. */
  pendingEscrow(txnId: string): Note | null {
    this.mustGet(txnId);
    const r = this.sql.lastNoteOf.get(txnId) as EventRecord | undefined;
    return r?.type === 'note.escrowed' ? noteOf(r) : null;
  }

  /** The last note event (escrowed/stacked/returned) across all transactions, with its txn id. */
  lastNoteEvent(): { txnId: string; type: string; note: Note } | null {
    const r = this.sql.lastNote.get() as EventRecord | undefined;
    return r ? { txnId: r.txn_id as string, type: r.type, note: noteOf(r) } : null;
  }

  cashbox(): { currency: string; value: number; count: number }[] {
    return this.sql.cashbox.all() as { currency: string; value: number; count: number }[];
  }

  cashboxTotal(): number {
    return (this.sql.cashboxTotal.get() as { total: number }).total;
  }

  // ------------------------------------------------------------------ outbox

  /** Messages not yet acknowledged by the server, oldest first. */
  outboxPending(limit: number): OutboxRow[] {
    requirePositive('limit', limit);
    return (this.sql.outboxPending.all(limit) as OutboxRecord[]).map(toOutbox);
  }

  outboxStats(): { pending: number; oldestPendingAt: string | null; acked: number } {
    const r = this.sql.outboxStats.get() as { pending: number; oldest: string | null; acked: number };
    return { pending: r.pending, oldestPendingAt: r.oldest, acked: r.acked };
  }

  /**
   * Records one delivery attempt. The server may acknowledge twice or a message we no longer
   * hold (re-sending is always safe); such an ack changes nothing.
   */
  markSent(messageId: string, result: SendResult): void {
    if (!result.ok) requireText('error', result.error);
    this.write(() => {
      const r = this.sql.outboxByMessage.get(messageId) as { acked_at: string | null } | undefined;
      if (!r || r.acked_at !== null) return;
      const at = this.stamp();
      if (result.ok) this.sql.markAcked.run(at, at, result.serverRef ?? null, messageId);
      else this.sql.markFailed.run(at, result.error, messageId);
    });
  }

  // ------------------------------------------------------------------ audit

  /** Money invariant over the whole journal; returns a list of problems, empty when all is well. */
  verify(): string[] {
    const problems: string[] = [];

    for (const r of this.rows<TxnRecord>(
      `SELECT * FROM transactions WHERE status <> 'open' AND cash_in <> credited + change_paid + change_owed`,
    )) {
      problems.push(
        `transaction "${r.id}": cash in ${r.cash_in} != credited ${r.credited} + change paid ` +
          `${r.change_paid} + change owed ${r.change_owed}`,
      );
    }

    for (const r of this.rows<{ id: string; cash_in: number; stacked: number }>(
      `SELECT t.id, t.cash_in, COALESCE(s.total, 0) AS stacked FROM transactions t
       LEFT JOIN (SELECT txn_id, SUM(json_extract(data, '$.note.value')) AS total FROM events
                  WHERE type = 'note.stacked' GROUP BY txn_id) s ON s.txn_id = t.id
       WHERE t.cash_in <> COALESCE(s.total, 0)`,
    )) {
      problems.push(`transaction "${r.id}": cash in ${r.cash_in} != stacked notes ${r.stacked}`);
    }

    for (const r of this.rows<{ id: string; cash_in: number }>(
      `SELECT id, cash_in FROM transactions WHERE status = 'cancelled' AND cash_in > 0`,
    )) {
      problems.push(`transaction "${r.id}": cancelled with cash in ${r.cash_in}`);
    }

    const counted = new Map<string, number>();
    for (const r of this.rows<{ currency: string; value: number; n: number }>(
      'SELECT currency, value, count AS n FROM cashbox',
    )) {
      counted.set(`${r.currency} ${r.value}`, r.n);
    }
    const stacked = new Map<string, number>();
    for (const r of this.rows<{ currency: string; value: number; n: number }>(
      `SELECT json_extract(data, '$.note.currency') AS currency, json_extract(data, '$.note.value') AS value,
              COUNT(*) AS n
       FROM events WHERE type = 'note.stacked' GROUP BY 1, 2`,
    )) {
      stacked.set(`${r.currency} ${r.value}`, r.n);
    }
    for (const key of new Set([...counted.keys(), ...stacked.keys()])) {
      const c = counted.get(key) ?? 0;
      const n = stacked.get(key) ?? 0;
      if (c !== n) problems.push(`cash box ${key}: counter ${c} != stacked notes ${n}`);
    }

    for (const r of this.rows<{ id: string; status: TxnStatus; credited: number; n: number; lo: number; hi: number }>(
      `SELECT t.id, t.status, t.credited, COUNT(o.seq) AS n,
              MIN(json_extract(o.payload, '$.amount')) AS lo, MAX(json_extract(o.payload, '$.amount')) AS hi
       FROM transactions t LEFT JOIN outbox o ON o.txn_id = t.id AND o.kind = 'payment'
       GROUP BY t.id`,
    )) {
      const owesMessage = r.status === 'completed' && r.credited > 0;
      if (owesMessage && r.n !== 1) {
        problems.push(`transaction "${r.id}": credited ${r.credited} but ${r.n} payment messages in the outbox`);
      } else if (owesMessage && (r.lo !== r.credited || r.hi !== r.credited)) {
        problems.push(`transaction "${r.id}": credited ${r.credited} but its payment message says ${r.lo}`);
      } else if (!owesMessage && r.n > 0) {
        problems.push(`transaction "${r.id}": ${r.status}, credited ${r.credited}, yet has ${r.n} payment messages`);
      }
    }
    return problems;
  }

  // ------------------------------------------------------------------ internals

  /**
   * Runs `fn` as one SQLite transaction. Only after it committed do its events count toward
   * `crashAfter`, so an injected crash always finds them on disk.
   */
  private write<T>(fn: () => T): T {
    this.uncommitted = [];
    let result: T;
    try {
      result = this.db.transaction(fn)();
    } catch (err) {
      this.uncommitted = [];
      throw err;
    }
    const types = this.uncommitted;
    this.uncommitted = [];
    for (const type of types) this.countForCrash(type);
    return result;
  }

  private countForCrash(type: string): void {
    if (this.crashPoint === null || type !== this.crashPoint.type) return;
    this.crashCount += 1;
    if (this.crashCount === this.crashPoint.nth) process.kill(process.pid, 'SIGKILL');
  }

  private insertEvent(txnId: string | null, type: string, data: Record<string, unknown>, at: string): JournalEvent {
    const info = this.sql.insertEvent.run(txnId, type, toJson(data, `event "${type}"`), at);
    this.uncommitted.push(type);
    return { seq: Number(info.lastInsertRowid), txnId, type, data, at };
  }

  private rows<T>(sql: string): T[] {
    return this.db.prepare(sql).all() as T[];
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private mustGet(id: string): TxnRow {
    const row = this.transaction(id);
    if (!row) throw new Error(`journal: unknown transaction "${id}"`);
    return row;
  }

  private mustBeOpen(id: string, action: string): TxnRow {
    const row = this.mustGet(id);
    if (row.status !== 'open') throw new Error(`journal: cannot ${action} transaction "${id}": it is ${row.status}`);
    return row;
  }
}

/** Every statement the journal runs on its hot path, prepared once per connection. */
function prepareStatements(db: Database) {
  return {
    txn: db.prepare('SELECT * FROM transactions WHERE id = ?'),
    insertTxn: db.prepare(
      `INSERT INTO transactions (id, service, status, created_at, updated_at) VALUES (?, ?, 'open', ?, ?)`,
    ),
    lookup: db.prepare('UPDATE transactions SET phone = ?, amount_due = ?, updated_at = ? WHERE id = ?'),
    touch: db.prepare('UPDATE transactions SET updated_at = ? WHERE id = ?'),
    stack: db.prepare(
      'UPDATE transactions SET cash_in = cash_in + ?, credited = credited + ?, updated_at = ? WHERE id = ?',
    ),
    cashboxAdd: db.prepare(
      `INSERT INTO cashbox (currency, value, count) VALUES (?, ?, 1)
       ON CONFLICT (currency, value) DO UPDATE SET count = count + 1`,
    ),
    settle: db.prepare(
      `UPDATE transactions SET status = 'completed', end_reason = ?, credited = ?, change_paid = ?,
       change_owed = ?, updated_at = ? WHERE id = ?`,
    ),
    cancel: db.prepare(
      `UPDATE transactions SET status = 'cancelled', end_reason = ?, updated_at = ? WHERE id = ?`,
    ),
    insertEvent: db.prepare('INSERT INTO events (txn_id, type, data, at) VALUES (?, ?, ?, ?)'),
    events: db.prepare('SELECT * FROM events WHERE txn_id = ? ORDER BY seq'),
    lastNoteOf: db.prepare(
      `SELECT * FROM events WHERE txn_id = ? AND type IN ('note.escrowed', 'note.stacked', 'note.returned')
       ORDER BY seq DESC LIMIT 1`,
    ),
    lastNote: db.prepare(
      `SELECT * FROM events WHERE type IN ('note.escrowed', 'note.stacked', 'note.returned')
       ORDER BY seq DESC LIMIT 1`,
    ),
    openTxns: db.prepare(`SELECT * FROM transactions WHERE status = 'open' ORDER BY created_at, rowid`),
    listTxns: db.prepare('SELECT * FROM transactions ORDER BY created_at DESC, rowid DESC LIMIT ?'),
    cashbox: db.prepare('SELECT currency, value, count FROM cashbox ORDER BY currency, value'),
    cashboxTotal: db.prepare('SELECT COALESCE(SUM(value * count), 0) AS total FROM cashbox'),
    insertOutbox: db.prepare(
      'INSERT INTO outbox (message_id, txn_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    outboxPending: db.prepare('SELECT * FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT ?'),
    outboxStats: db.prepare(
      `SELECT
         (SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL) AS pending,
         (SELECT MIN(created_at) FROM outbox WHERE acked_at IS NULL) AS oldest,
         (SELECT COUNT(*) FROM outbox WHERE acked_at IS NOT NULL) AS acked`,
    ),
    outboxByMessage: db.prepare('SELECT acked_at FROM outbox WHERE message_id = ?'),
    markAcked: db.prepare(
      `UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, acked_at = ?, server_ref = ?
       WHERE message_id = ?`,
    ),
    markFailed: db.prepare(
      'UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? WHERE message_id = ?',
    ),
  };
}

function parseCrashAfter(spec: string): CrashPoint {
  const m = /^([^#\s]+)(?:#([1-9]\d*))?$/.exec(spec);
  if (!m) throw new Error(`journal: crashAfter "${spec}" is not "type" or "type#n" (n >= 1)`);
  return { type: m[1] as string, nth: m[2] === undefined ? 1 : Number(m[2]) };
}

function requireText(name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new Error(`journal: ${name} must be a non-empty string, got ${JSON.stringify(v)}`);
  }
}

/** Money is integer minor units (fen), never negative, never a float. */
function requireAmount(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`journal: ${name} must be a whole number of fen >= 0, got ${String(v)}`);
  }
}

function requirePositive(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new Error(`journal: ${name} must be a whole number >= 1, got ${String(v)}`);
  }
}

function cleanNote(note: Note): Note {
  if (note === null || typeof note !== 'object') throw new Error('journal: note must be an object');
  requireAmount('note value', note.value);
  if (note.value === 0) throw new Error('journal: note value must be above 0');
  if (typeof note.currency !== 'string' || !/^[A-Z]{3}$/.test(note.currency)) {
    throw new Error(`journal: note currency must be an ISO 4217 code, got ${JSON.stringify(note.currency)}`);
  }
  if (!Number.isSafeInteger(note.code)) {
    throw new Error(`journal: note code must be an integer, got ${String(note.code)}`);
  }
  return { value: note.value, currency: note.currency, code: note.code };
}

function toJson(data: unknown, what: string): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    throw new Error(`journal: ${what} data cannot be stored as JSON: ${(err as Error).message}`, { cause: err });
  }
}

function noteOf(r: EventRecord): Note {
  return (JSON.parse(r.data) as { note: Note }).note;
}

function toTxn(r: TxnRecord): TxnRow {
  return {
    id: r.id,
    service: r.service,
    phone: r.phone,
    amountDue: r.amount_due,
    status: r.status,
    endReason: r.end_reason,
    cashIn: r.cash_in,
    credited: r.credited,
    changePaid: r.change_paid,
    changeOwed: r.change_owed,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toEvent(r: EventRecord): JournalEvent {
  return { seq: r.seq, txnId: r.txn_id, type: r.type, data: JSON.parse(r.data) as Record<string, unknown>, at: r.at };
}

function toOutbox(r: OutboxRecord): OutboxRow {
  return {
    seq: r.seq,
    messageId: r.message_id,
    txnId: r.txn_id,
    kind: r.kind,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    createdAt: r.created_at,
    attempts: r.attempts,
    lastAttemptAt: r.last_attempt_at,
    lastError: r.last_error,
    ackedAt: r.acked_at,
    serverRef: r.server_ref,
  };
}
