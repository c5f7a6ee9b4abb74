/**
 * The reference host's own database. It stands in for the operator's billing system, so it keeps
 * only what the kiosk can observe: accounts, accepted payments (one row per transaction id) and
 * anomalies worth showing to a test or an operator.
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
}

export interface AnomalyRecord {
  id: number;
  kind: string;
  txnId: string | null;
  detail: string;
  at: string;
}

export type PaymentOutcome =
  | { status: 'accepted' | 'duplicate'; serverRef: string }
  | { status: 'conflict'; serverRef: string; detail: string };

const SCHEMA_VERSION = 1;

const SCHEMA = `
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
  };
}

function toAccount(r: AccountRow): AccountRecord {
  return { phone: r.phone, holder: r.holder, amountDue: r.amount_due, balance: r.balance };
}

export class HostStore {
  readonly db: Database.Database;
  /** True when this open created the schema, i.e. the file held no host database before. */
  readonly created: boolean;

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
      if (this.created) {
        this.db.transaction(() => {
          this.db.exec(SCHEMA);
          this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      }
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  account(phone: string): AccountRecord | undefined {
    const row = this.db.prepare('SELECT * FROM accounts WHERE phone = ?').get(phone) as AccountRow | undefined;
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

  /**
   * Applies a payment once per transaction id. A resend with the same content is a duplicate and
   * changes nothing but its counter; a resend with different content is a conflict and an anomaly.
   */
  recordPayment(p: IncomingPayment): PaymentOutcome {
    assertFen(p.amount, 'amount');
    return this.db.transaction((): PaymentOutcome => {
      const at = this.now().toISOString();
      const known = this.db.prepare('SELECT * FROM payments WHERE txn_id = ?').get(p.txnId) as PaymentRow | undefined;
      if (known) {
        const differences = (['amount', 'phone', 'service', 'currency'] as const).filter(
          (k) => toPayment(known)[k] !== p[k],
        );
        if (differences.length === 0) {
          this.db.prepare('UPDATE payments SET duplicates = duplicates + 1 WHERE txn_id = ?').run(p.txnId);
          return { status: 'duplicate', serverRef: known.server_ref };
        }
        const detail = differences
          .map((k) => `${k}: recorded ${String(toPayment(known)[k])}, resent ${String(p[k])}`)
          .join('; ');
        this.addAnomaly('conflicting-duplicate', p.txnId, detail, at);
        return { status: 'conflict', serverRef: known.server_ref, detail };
      }
      const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM payments').get() as { n: number }).n;
      const serverRef = `P${String(seq).padStart(6, '0')}`;
      this.db
        .prepare(
          `INSERT INTO payments (seq, txn_id, message_id, phone, service, amount, currency, cash_in,
             settled_at, server_ref, received_at)
           VALUES (@seq, @txnId, @messageId, @phone, @service, @amount, @currency, @cashIn,
             @settledAt, @serverRef, @at)`,
        )
        .run({ ...p, seq, serverRef, at });
      this.applyToAccount(p);
      return { status: 'accepted', serverRef };
    })();
  }

  addAnomaly(kind: string, txnId: string | null, detail: string, at = this.now().toISOString()): void {
    this.db.prepare('INSERT INTO anomalies (kind, txn_id, detail, at) VALUES (?, ?, ?, ?)').run(kind, txnId, detail, at);
  }

  records(): { payments: PaymentRecord[]; anomalies: AnomalyRecord[]; accounts: AccountRecord[] } {
    const payments = (this.db.prepare('SELECT * FROM payments ORDER BY seq').all() as PaymentRow[]).map(toPayment);
    const anomalies = this.db
      .prepare('SELECT id, kind, txn_id AS txnId, detail, at FROM anomalies ORDER BY id')
      .all() as AnomalyRecord[];
    const accounts = (this.db.prepare('SELECT * FROM accounts ORDER BY phone').all() as AccountRow[]).map(toAccount);
    return { payments, anomalies, accounts };
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
