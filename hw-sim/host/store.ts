/**
 * The reference host's own database. It stands in for the operator's billing system, so it keeps
 * only what the kiosk can observe: accounts, accepted payments (one row per transaction id and
 * per message id), reversals (one per message id) and anomalies worth showing to a test or an
 * operator.
 */
import Database from 'better-sqlite3';

export interface AccountSeed {
  phone: string;
  amountDue: number;
  holder?: string;
}

export interface AccountRecord {
  phone: string;
  holder: string | null;
  /** Still owed on the bill, in fen. */
  amountDue: number;
  /** Prepaid credit, in fen: top-ups and whatever a payment brought beyond the amount due. */
  balance: number;
}

export interface IncomingPayment {
  messageId: string;
  txnId: string;
  service: 'pay' | 'topup';
  phone: string;
  amount: number;
  currency: string;
  cashIn: number;
  settledAt: string;
}

export interface PaymentRecord extends IncomingPayment {
  serverRef: string;
  receivedAt: string;
  /** How many resends of this transaction were answered 'duplicate'. */
  duplicates: number;
  /** The kiosk that sent it: its certificate's common name. */
  terminalId: string | null;
}

export interface IncomingReversal {
  messageId: string;
  txnId: string;
  reverses: string;
  amount: number;
  currency: string;
  reason: string;
  createdAt: string;
}

export interface ReversalRecord extends IncomingReversal {
  serverRef: string;
  receivedAt: string;
  duplicates: number;
  terminalId: string | null;
}

export interface AnomalyRecord {
  id: number;
  kind: string;
  txnId: string | null;
  detail: string;
  at: string;
}

export interface HostRecords {
  payments: PaymentRecord[];
  reversals: ReversalRecord[];
  anomalies: AnomalyRecord[];
  accounts: AccountRecord[];
}

export type PaymentOutcome =
  | { status: 'accepted' | 'duplicate'; serverRef: string }
  | { status: 'conflict'; serverRef: string; detail: string };

const SCHEMA_VERSION = 2;

/** Version 1, as the HTTP host created it; version 2 adds what the business link brought. */
const SCHEMA_V1 = `
CREATE TABLE accounts (
  phone TEXT PRIMARY KEY,
  holder TEXT,
  amount_due INTEGER NOT NULL CHECK (amount_due >= 0),
  balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0)
);
CREATE TABLE payments (
  seq INTEGER NOT NULL UNIQUE,
  txn_id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL,
  phone TEXT NOT NULL,
  service TEXT NOT NULL CHECK (service IN ('pay', 'topup')),
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  cash_in INTEGER NOT NULL,
  settled_at TEXT NOT NULL,
  server_ref TEXT NOT NULL UNIQUE,
  received_at TEXT NOT NULL,
  duplicates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE anomalies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  txn_id TEXT,
  detail TEXT NOT NULL,
  at TEXT NOT NULL
);
`;

const SCHEMA_V2 = `
ALTER TABLE payments ADD COLUMN terminal_id TEXT;
CREATE UNIQUE INDEX payments_message ON payments (message_id);
CREATE TABLE reversals (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT UNIQUE NOT NULL,
  txn_id TEXT NOT NULL,
  reverses TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL,
  terminal_id TEXT,
  server_ref TEXT NOT NULL UNIQUE,
  received_at TEXT NOT NULL,
  duplicates INTEGER NOT NULL DEFAULT 0
);
`;

interface PaymentRow {
  txn_id: string;
  message_id: string;
  phone: string;
  service: 'pay' | 'topup';
  amount: number;
  currency: string;
  cash_in: number;
  settled_at: string;
  server_ref: string;
  received_at: string;
  duplicates: number;
  terminal_id: string | null;
}

interface ReversalRow {
  message_id: string;
  txn_id: string;
  reverses: string;
  amount: number;
  currency: string;
  reason: string;
  created_at: string;
  terminal_id: string | null;
  server_ref: string;
  received_at: string;
  duplicates: number;
}

interface AccountRow {
  phone: string;
  holder: string | null;
  amount_due: number;
  balance: number;
}

function toPayment(r: PaymentRow): PaymentRecord {
  return {
    messageId: r.message_id,
    txnId: r.txn_id,
    service: r.service,
    phone: r.phone,
    amount: r.amount,
    currency: r.currency,
    cashIn: r.cash_in,
    settledAt: r.settled_at,
    serverRef: r.server_ref,
    receivedAt: r.received_at,
    duplicates: r.duplicates,
    terminalId: r.terminal_id,
  };
}

function toReversal(r: ReversalRow): ReversalRecord {
  return {
    messageId: r.message_id,
    txnId: r.txn_id,
    reverses: r.reverses,
    amount: r.amount,
    currency: r.currency,
    reason: r.reason,
    createdAt: r.created_at,
    serverRef: r.server_ref,
    receivedAt: r.received_at,
    duplicates: r.duplicates,
    terminalId: r.terminal_id,
  };
}

function toAccount(r: AccountRow): AccountRecord {
  return { phone: r.phone, holder: r.holder, amountDue: r.amount_due, balance: r.balance };
}

export class HostStore {
  readonly db: Database.Database;
  /** True when this open created the schema, i.e. the file held no host database before. */
  readonly created: boolean;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly path: string, private readonly now: () => Date = () => new Date()) {
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      // WAL defaults to NORMAL, which may lose the last commits on power loss.
      this.db.pragma('synchronous = FULL');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(`host db ${path} has schema version ${version}, newer than ${SCHEMA_VERSION}`);
      }
      this.created = version === 0;
      const steps = [SCHEMA_V1, SCHEMA_V2].slice(version);
      steps.forEach((sql, i) =>
        this.db.transaction(() => {
          this.db.exec(sql);
          this.db.pragma(`user_version = ${version + i + 1}`);
        })(),
      );
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Each statement is compiled once: a delivered batch runs several per message. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  account(phone: string): AccountRecord | undefined {
    const row = this.sql('SELECT * FROM accounts WHERE phone = ?').get(phone) as AccountRow | undefined;
    return row && toAccount(row);
  }

  /** Creates the account or sets its amount due (and holder, when given); the balance is kept. */
  upsertAccount(a: AccountSeed): AccountRecord {
    assertFen(a.amountDue, 'amountDue');
    this.db
      .prepare(
        `INSERT INTO accounts (phone, holder, amount_due) VALUES (@phone, @holder, @amountDue)
         ON CONFLICT (phone) DO UPDATE SET amount_due = excluded.amount_due,
           holder = COALESCE(excluded.holder, accounts.holder)`,
      )
      .run({ phone: a.phone, holder: a.holder ?? null, amountDue: a.amountDue });
    return this.account(a.phone)!;
  }

  /** Runs `fn` in one SQLite transaction: a whole delivered batch is one disk sync. */
  batch<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Applies a payment once per transaction id and per message id. A resend with the same content
   * is a duplicate and changes nothing but its counter; a resend with different content is a
   * conflict and an anomaly.
   */
  recordPayment(p: IncomingPayment, terminalId: string | null = null): PaymentOutcome {
    assertFen(p.amount, 'amount');
    return this.db.transaction((): PaymentOutcome => {
      const at = this.now().toISOString();
      const known = (this.sql('SELECT * FROM payments WHERE txn_id = ?').get(p.txnId) ??
        this.sql('SELECT * FROM payments WHERE message_id = ?').get(p.messageId)) as PaymentRow | undefined;
      if (known) {
        const differences = (['txnId', 'amount', 'phone', 'service', 'currency'] as const).filter(
          (k) => toPayment(known)[k] !== p[k],
        );
        if (differences.length === 0) {
          this.sql('UPDATE payments SET duplicates = duplicates + 1 WHERE txn_id = ?').run(known.txn_id);
          return { status: 'duplicate', serverRef: known.server_ref };
        }
        const detail = differences
          .map((k) => `${k}: recorded ${String(toPayment(known)[k])}, resent ${String(p[k])}`)
          .join('; ');
        this.addAnomaly('conflicting-duplicate', p.txnId, detail, at);
        return { status: 'conflict', serverRef: known.server_ref, detail };
      }
      const seq = (this.sql('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM payments').get() as { n: number }).n;
      const serverRef = `P${String(seq).padStart(6, '0')}`;
      this.db
        .prepare(
          `INSERT INTO payments (seq, txn_id, message_id, phone, service, amount, currency, cash_in,
             settled_at, server_ref, received_at, terminal_id)
           VALUES (@seq, @txnId, @messageId, @phone, @service, @amount, @currency, @cashIn,
             @settledAt, @serverRef, @at, @terminalId)`,
        )
        .run({ ...p, seq, serverRef, at, terminalId });
      this.applyToAccount(p);
      return { status: 'accepted', serverRef };
    })();
  }

  /**
   * Records a reversal once per message id. The reference host only keeps it (and notes whether it
   * knows what is reversed): undoing an authorisation is the card issuer's business.
   */
  recordReversal(r: IncomingReversal, terminalId: string | null = null): PaymentOutcome {
    assertFen(r.amount, 'amount');
    return this.db.transaction((): PaymentOutcome => {
      const at = this.now().toISOString();
      const known = this.sql('SELECT * FROM reversals WHERE message_id = ?').get(r.messageId) as ReversalRow | undefined;
      if (known) {
        const differences = (['txnId', 'reverses', 'amount'] as const).filter((k) => toReversal(known)[k] !== r[k]);
        if (differences.length > 0) {
          const detail = differences.map((k) => `${k}: recorded ${String(toReversal(known)[k])}, resent ${String(r[k])}`).join('; ');
          this.addAnomaly('conflicting-duplicate', r.txnId, detail, at);
          return { status: 'conflict', serverRef: known.server_ref, detail };
        }
        this.sql('UPDATE reversals SET duplicates = duplicates + 1 WHERE message_id = ?').run(r.messageId);
        return { status: 'duplicate', serverRef: known.server_ref };
      }
      const n = (this.sql('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM reversals').get() as { n: number }).n;
      const serverRef = `R${String(n).padStart(6, '0')}`;
      this.db
        .prepare(
          `INSERT INTO reversals (message_id, txn_id, reverses, amount, currency, reason, created_at, terminal_id, server_ref, received_at)
           VALUES (@messageId, @txnId, @reverses, @amount, @currency, @reason, @createdAt, @terminalId, @serverRef, @at)`,
        )
        .run({ ...r, terminalId, serverRef, at });
      return { status: 'accepted', serverRef };
    })();
  }

  addAnomaly(kind: string, txnId: string | null, detail: string, at = this.now().toISOString()): void {
    this.sql('INSERT INTO anomalies (kind, txn_id, detail, at) VALUES (?, ?, ?, ?)').run(kind, txnId, detail, at);
  }

  records(): HostRecords {
    const payments = (this.sql('SELECT * FROM payments ORDER BY seq').all() as PaymentRow[]).map(toPayment);
    const reversals = (this.sql('SELECT * FROM reversals ORDER BY seq').all() as ReversalRow[]).map(toReversal);
    const anomalies = this.db
      .prepare('SELECT id, kind, txn_id AS txnId, detail, at FROM anomalies ORDER BY id')
      .all() as AnomalyRecord[];
    const accounts = (this.sql('SELECT * FROM accounts ORDER BY phone').all() as AccountRow[]).map(toAccount);
    return { payments, reversals, anomalies, accounts };
  }

  private applyToAccount(p: IncomingPayment): void {
    // A number the host has never seen is a prepaid line: the payment opens it.
    const acc = this.account(p.phone) ?? this.upsertAccount({ phone: p.phone, amountDue: 0 });
    const towardsBill = p.service === 'pay' ? Math.min(acc.amountDue, p.amount) : 0;
    this.db
      .prepare('UPDATE accounts SET amount_due = amount_due - ?, balance = balance + ? WHERE phone = ?')
      .run(towardsBill, p.amount - towardsBill, p.phone);
  }
}

function assertFen(v: number, name: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer in fen, got ${v}`);
}
