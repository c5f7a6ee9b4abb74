/**
 * The reference host's claims: money a kiosk holds for a customer (an unresolved note, change it
 * could not pay). One row per claim id, one per message id, so a resend is a duplicate; a
 * confirmation (a cash count found the note) marks its claim; a 'credited' claim tops the phone
 * account up once.
 */
import type Database from 'better-sqlite3';
import type { PaymentOutcome } from './store.js';

export const CLAIMS_SCHEMA = `
CREATE TABLE claims (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  claim_id     TEXT UNIQUE NOT NULL,
  txn_id       TEXT NOT NULL,
  claim_code   TEXT NOT NULL,
  reason       TEXT NOT NULL CHECK (reason IN ('note-unresolved', 'change-owed')),
  phone        TEXT,
  amount       INTEGER NOT NULL CHECK (amount > 0),
  currency     TEXT NOT NULL,
  denomination INTEGER,
  status       TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'credited')),
  created_at   TEXT NOT NULL,
  terminal_id  TEXT,
  received_at  TEXT NOT NULL,
  confirmed_at TEXT,
  collection   INTEGER,
  duplicates   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE claim_messages (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id  TEXT UNIQUE NOT NULL,
  claim_id    TEXT NOT NULL,
  status      TEXT NOT NULL,
  amount      INTEGER NOT NULL,
  server_ref  TEXT UNIQUE NOT NULL,
  received_at TEXT NOT NULL
);
`;

export interface IncomingClaim {
  messageId: string;
  claimId: string;
  txnId: string;
  claimCode: string;
  reason: 'note-unresolved' | 'change-owed';
  status: 'open' | 'confirmed' | 'credited';
  phone: string | null;
  amount: number;
  currency: string;
  denomination?: number | undefined;
  collection?: number | undefined;
  createdAt: string;
}

export interface ClaimRecord {
  claimId: string;
  txnId: string;
  claimCode: string;
  reason: 'note-unresolved' | 'change-owed';
  phone: string | null;
  amount: number;
  currency: string;
  denomination: number | null;
  status: 'open' | 'confirmed' | 'credited';
  createdAt: string;
  terminalId: string | null;
  receivedAt: string;
  confirmedAt: string | null;
  collection: number | null;
  /** Resends of its messages answered 'duplicate'. */
  duplicates: number;
}

interface ClaimRow {
  claim_id: string;
  txn_id: string;
  claim_code: string;
  reason: ClaimRecord['reason'];
  phone: string | null;
  amount: number;
  currency: string;
  denomination: number | null;
  status: ClaimRecord['status'];
  created_at: string;
  terminal_id: string | null;
  received_at: string;
  confirmed_at: string | null;
  collection: number | null;
  duplicates: number;
}

export interface ClaimBookHooks {
  /** Tops a phone account up (a 'credited' claim). */
  credit(phone: string, amount: number): void;
  anomaly(kind: string, txnId: string | null, detail: string, at: string): void;
  now(): string;
}

export class ClaimBook {
  constructor(
    private readonly db: Database.Database,
    private readonly hooks: ClaimBookHooks,
  ) {}

  /** Call inside the store's transaction (a delivered batch is one). */
  record(c: IncomingClaim, terminalId: string | null): PaymentOutcome {
    const at = this.hooks.now();
    const seen = this.db.prepare('SELECT * FROM claim_messages WHERE message_id = ?').get(c.messageId) as
      | { claim_id: string; status: string; amount: number; server_ref: string }
      | undefined;
    if (seen) {
      const differences = (
        [
          ['claimId', seen.claim_id],
          ['status', seen.status],
          ['amount', seen.amount],
        ] as const
      ).filter(([k, v]) => c[k] !== v);
      if (differences.length > 0) {
        const detail = differences.map(([k, v]) => `${k}: recorded ${String(v)}, resent ${String(c[k])}`).join('; ');
        this.hooks.anomaly('conflicting-duplicate', c.txnId, detail, at);
        return { status: 'conflict', serverRef: seen.server_ref, detail };
      }
      this.db.prepare('UPDATE claims SET duplicates = duplicates + 1 WHERE claim_id = ?').run(c.claimId);
      return { status: 'duplicate', serverRef: seen.server_ref };
    }
    const known = this.db.prepare('SELECT * FROM claims WHERE claim_id = ?').get(c.claimId) as ClaimRow | undefined;
    if (c.status === 'confirmed') {
      if (!known) this.hooks.anomaly('confirmation-of-unknown-claim', c.txnId, `${c.claimId} confirmed by collection ${String(c.collection)}`, at);
      else this.db.prepare(`UPDATE claims SET status = 'confirmed', confirmed_at = ?, collection = ? WHERE claim_id = ?`).run(at, c.collection ?? null, c.claimId);
    } else if (known) {
      const detail = `${c.claimId} already recorded by another message`;
      this.hooks.anomaly('conflicting-duplicate', c.txnId, detail, at);
      return { status: 'conflict', serverRef: '', detail };
    } else {
      this.db
        .prepare(
          `INSERT INTO claims (claim_id, txn_id, claim_code, reason, phone, amount, currency, denomination, status,
             created_at, terminal_id, received_at)
           VALUES (@claimId, @txnId, @claimCode, @reason, @phone, @amount, @currency, @denomination, @status,
             @createdAt, @terminalId, @at)`,
        )
        .run({ ...c, denomination: c.denomination ?? null, terminalId, at });
      if (c.status === 'credited' && c.phone) this.hooks.credit(c.phone, c.amount);
    }
    const n = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM claim_messages').get() as { n: number }).n;
    const serverRef = `K${String(n).padStart(6, '0')}`;
    this.db
      .prepare('INSERT INTO claim_messages (message_id, claim_id, status, amount, server_ref, received_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(c.messageId, c.claimId, c.status, c.amount, serverRef, at);
    return { status: 'accepted', serverRef };
  }

  all(): ClaimRecord[] {
    return (this.db.prepare('SELECT * FROM claims ORDER BY seq').all() as ClaimRow[]).map((r) => ({
      claimId: r.claim_id,
      txnId: r.txn_id,
      claimCode: r.claim_code,
      reason: r.reason,
      phone: r.phone,
      amount: r.amount,
      currency: r.currency,
      denomination: r.denomination,
      status: r.status,
      createdAt: r.created_at,
      terminalId: r.terminal_id,
      receivedAt: r.received_at,
      confirmedAt: r.confirmed_at,
      collection: r.collection,
      duplicates: r.duplicates,
    }));
  }
}
