/**
 * The reference host's own database. It stands in for the operator's billing system, so it keeps
 * only what the kiosk can observe: accounts, accepted payments (one row per transaction id and
 * per message id), reversals (one per message id), card authorisations (one per request id, with
 * the masked card number only) and anomalies worth showing to a test or an operator.
 */
import { ChainHeadBook } from './chain-heads.js';
import Database from 'better-sqlite3';
import type { PayingService } from '../../src/domain/service.js';
import { maskPan, type CardAnswerBody } from './card-authorisation.js';
import { ClaimBook, CLAIMS_SCHEMA, type ClaimRecord, type IncomingClaim } from './claim-store.js';

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
  service: PayingService;
  phone: string;
  amount: number;
  currency: string;
  cashIn: number;
  /** What the card paid, in fen; absent means 0. */
  cardIn?: number;
  card?: PaymentCard;
  settledAt: string;
}

export interface PaymentCard {
  method: 'reader' | 'terminal';
  requestId?: string;
  receiptNo?: number;
  maskedPan?: string;
}

export interface PaymentRecord extends Omit<IncomingPayment, 'cardIn' | 'card'> {
  cardIn: number;
  card: PaymentCard | null;
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

/** A card authorisation as the kiosk asked it; the card number already masked. */
export interface IncomingCardAuthorisation {
  requestId: string;
  txnId: string;
  phone: string;
  amount: number;
  currency: string;
  maskedPan: string;
}

/**
 * approved / declined: what the host decided. tombstone: a reversal named this request id before
 * any authorisation with it arrived; one arriving later is declined.
 */
export type CardAuthorisationOutcome = 'approved' | 'declined' | 'tombstone';

export interface CardAuthorisationRecord {
  requestId: string;
  txnId: string;
  phone: string | null;
  amount: number;
  currency: string;
  maskedPan: string | null;
  outcome: CardAuthorisationOutcome;
  /** The behaviour it was served with (approve, timeout, …); null for a tombstone. */
  behaviour: string | null;
  reason: string | null;
  authCode: string | null;
  serverRef: string | null;
  terminalId: string | null;
  receivedAt: string;
  /** Requests with this id after the first. */
  duplicates: number;
  reversed: boolean;
  reversedAt: string | null;
  reversalMessageId: string | null;
}

/** Per transaction with a card authorisation or a card-reader payment: approved − reversed against paid. */
export interface CardBalance {
  txnId: string;
  /** Sum of approved authorisations, in fen. */
  approved: number;
  /** Sum of those of them reversed. */
  reversed: number;
  /** The card part (cardIn) of the card-reader payment recorded for the transaction; 0 when none. */
  paid: number;
  /** approved − reversed = paid. */
  balanced: boolean;
}

export type CardAuthorisationResult =
  /** First sight: the caller serves it with the chosen behaviour. */
  | { status: 'new'; answer: CardAnswerBody }
  /** Seen before (or reversed before it came): answer this, whatever the behaviour. */
  | { status: 'duplicate'; answer: CardAnswerBody }
  | { status: 'conflict'; detail: string };

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
  cardAuthorisations: CardAuthorisationRecord[];
  cardBalance: CardBalance[];
  claims: ClaimRecord[];
}

export type PaymentOutcome =
  | { status: 'accepted' | 'duplicate'; serverRef: string }
  | { status: 'conflict'; serverRef: string; detail: string };

const SCHEMA_VERSION = 4;

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

/** Version 3: card payments and card authorisations. */
const SCHEMA_V3 = `
ALTER TABLE payments ADD COLUMN card_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN card_method TEXT CHECK (card_method IN ('reader', 'terminal'));
ALTER TABLE payments ADD COLUMN card_request_id TEXT;
ALTER TABLE payments ADD COLUMN card_receipt_no INTEGER;
ALTER TABLE payments ADD COLUMN card_masked_pan TEXT;
CREATE TABLE card_authorisations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT UNIQUE NOT NULL,
  txn_id TEXT NOT NULL,
  phone TEXT,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  masked_pan TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('approved', 'declined', 'tombstone')),
  behaviour TEXT,
  reason TEXT,
  auth_code TEXT,
  server_ref TEXT UNIQUE,
  terminal_id TEXT,
  received_at TEXT NOT NULL,
  duplicates INTEGER NOT NULL DEFAULT 0,
  reversed_at TEXT,
  reversal_message_id TEXT
);
CREATE INDEX card_authorisations_txn ON card_authorisations (txn_id);
`;

interface PaymentRow {
  txn_id: string;
  message_id: string;
  phone: string;
  service: PayingService;
  amount: number;
  currency: string;
  cash_in: number;
  settled_at: string;
  server_ref: string;
  received_at: string;
  duplicates: number;
  terminal_id: string | null;
  card_in: number;
  card_method: 'reader' | 'terminal' | null;
  card_request_id: string | null;
  card_receipt_no: number | null;
  card_masked_pan: string | null;
}

interface CardAuthorisationRow {
  seq: number;
  request_id: string;
  txn_id: string;
  phone: string | null;
  amount: number;
  currency: string;
  masked_pan: string | null;
  outcome: CardAuthorisationOutcome;
  behaviour: string | null;
  reason: string | null;
  auth_code: string | null;
  server_ref: string | null;
  terminal_id: string | null;
  received_at: string;
  duplicates: number;
  reversed_at: string | null;
  reversal_message_id: string | null;
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
    cardIn: r.card_in,
    card: r.card_method === null ? null : toPaymentCard(r),
    settledAt: r.settled_at,
    serverRef: r.server_ref,
    receivedAt: r.received_at,
    duplicates: r.duplicates,
    terminalId: r.terminal_id,
  };
}

function toPaymentCard(r: PaymentRow): PaymentCard {
  return {
    method: r.card_method!,
    ...(r.card_request_id !== null ? { requestId: r.card_request_id } : {}),
    ...(r.card_receipt_no !== null ? { receiptNo: r.card_receipt_no } : {}),
    ...(r.card_masked_pan !== null ? { maskedPan: r.card_masked_pan } : {}),
  };
}

function toCardAuthorisation(r: CardAuthorisationRow): CardAuthorisationRecord {
  return {
    requestId: r.request_id,
    txnId: r.txn_id,
    phone: r.phone,
    amount: r.amount,
    currency: r.currency,
    maskedPan: r.masked_pan,
    outcome: r.outcome,
    behaviour: r.behaviour,
    reason: r.reason,
    authCode: r.auth_code,
    serverRef: r.server_ref,
    terminalId: r.terminal_id,
    receivedAt: r.received_at,
    duplicates: r.duplicates,
    reversed: r.reversed_at !== null,
    reversedAt: r.reversed_at,
    reversalMessageId: r.reversal_message_id,
  };
}

/** What a request with this id is answered from now on. */
function recordedAnswer(r: CardAuthorisationRow): CardAnswerBody {
  if (r.reversed_at !== null || r.outcome === 'tombstone') return { requestId: r.request_id, outcome: 'declined', reason: 'reversed' };
  if (r.outcome === 'approved') return { requestId: r.request_id, outcome: 'approved', authCode: r.auth_code!, serverRef: r.server_ref! };
  return { requestId: r.request_id, outcome: 'declined', reason: r.reason ?? 'declined' };
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
  /** The journal chain heads each terminal reported with its deliveries. */
  readonly chainHeads: ChainHeadBook;
  /** True when this open created the schema, i.e. the file held no host database before. */
  readonly created: boolean;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly claims: ClaimBook;

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
      // Version 4: claims (hw-sim/host/claim-store.ts).
      const steps = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, CLAIMS_SCHEMA].slice(version);
      steps.forEach((sql, i) =>
        this.db.transaction(() => {
          this.db.exec(sql);
          this.db.pragma(`user_version = ${version + i + 1}`);
        })(),
      );
      this.chainHeads = new ChainHeadBook(this.db, 'chain_heads');
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.claims = new ClaimBook(this.db, {
      credit: (phone, amount) => {
        this.account(phone) ?? this.upsertAccount({ phone, amountDue: 0 });
        this.sql('UPDATE accounts SET balance = balance + ? WHERE phone = ?').run(amount, phone);
      },
      anomaly: (kind, txnId, detail, at) => this.addAnomaly(kind, txnId, detail, at),
      now: () => this.now().toISOString(),
    });
  }

  /** Records a claim message once per message id (see ClaimBook). */
  recordClaim(c: IncomingClaim, terminalId: string | null = null): PaymentOutcome {
    assertFen(c.amount, 'amount');
    return this.db.transaction(() => this.claims.record(c, terminalId))();
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
  recordPayment(incoming: IncomingPayment, terminalId: string | null = null): PaymentOutcome {
    assertFen(incoming.amount, 'amount');
    const p = { ...incoming, cardIn: incoming.cardIn ?? 0 };
    assertFen(p.cardIn, 'cardIn');
    return this.db.transaction((): PaymentOutcome => {
      const at = this.now().toISOString();
      const known = (this.sql('SELECT * FROM payments WHERE txn_id = ?').get(p.txnId) ??
        this.sql('SELECT * FROM payments WHERE message_id = ?').get(p.messageId)) as PaymentRow | undefined;
      if (known) {
        const differences = (['txnId', 'amount', 'phone', 'service', 'currency', 'cardIn'] as const).filter(
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
             settled_at, server_ref, received_at, terminal_id, card_in, card_method, card_request_id,
             card_receipt_no, card_masked_pan)
           VALUES (@seq, @txnId, @messageId, @phone, @service, @amount, @currency, @cashIn,
             @settledAt, @serverRef, @at, @terminalId, @cardIn, @cardMethod, @cardRequestId,
             @cardReceiptNo, @cardMaskedPan)`,
        )
        .run({
          messageId: p.messageId,
          txnId: p.txnId,
          phone: p.phone,
          service: p.service,
          amount: p.amount,
          currency: p.currency,
          cashIn: p.cashIn,
          settledAt: p.settledAt,
          cardIn: p.cardIn,
          cardMethod: p.card?.method ?? null,
          cardRequestId: p.card?.requestId ?? null,
          cardReceiptNo: p.card?.receiptNo ?? null,
          // Masked again: a kiosk that sent a full number must not make this file hold one.
          cardMaskedPan: p.card?.maskedPan !== undefined ? maskPan(p.card.maskedPan) : null,
          seq,
          serverRef,
          at,
          terminalId,
        });
      this.applyToAccount(p);
      const unproven = this.unprovenCardPart(p);
      if (unproven) this.addAnomaly('card-payment-unproven', p.txnId, unproven, at);
      return { status: 'accepted', serverRef };
    })();
  }

  /**
   * Why the card part of a payment is not backed by an authorisation this host approved, or
   * undefined when it is (or when the terminal's acquirer holds the proof).
   */
  private unprovenCardPart(p: IncomingPayment & { cardIn: number }): string | undefined {
    if (p.cardIn === 0 && !p.card) return undefined;
    if (!p.card) return `cardIn ${p.cardIn} without a card`;
    if (p.card.method === 'terminal') return undefined;
    if (!p.card.requestId) return 'a card-reader payment that names no authorisation';
    const auth = this.sql('SELECT * FROM card_authorisations WHERE request_id = ?').get(p.card.requestId) as CardAuthorisationRow | undefined;
    if (!auth || auth.outcome === 'tombstone') return `authorisation ${p.card.requestId} is unknown`;
    if (auth.outcome !== 'approved') return `authorisation ${p.card.requestId} was declined`;
    if (auth.reversed_at !== null) return `authorisation ${p.card.requestId} was reversed`;
    if (auth.txn_id !== p.txnId) return `authorisation ${p.card.requestId} is for transaction ${auth.txn_id}`;
    if (auth.amount !== p.cardIn) return `authorisation ${p.card.requestId} is for ${auth.amount} fen, the card paid ${p.cardIn}`;
    return undefined;
  }

  /**
   * Records a card authorisation on its first sight, with the outcome the caller chose. A request id
   * seen before is answered as it was first (never a second approval), or declined when it was
   * reversed; the same id with another transaction or amount is a conflict.
   */
  authoriseCard(
    r: IncomingCardAuthorisation,
    decision: { outcome: 'approved' } | { outcome: 'declined'; reason: string },
    behaviour: string,
    terminalId: string | null = null,
  ): CardAuthorisationResult {
    assertFen(r.amount, 'amount');
    return this.db.transaction((): CardAuthorisationResult => {
      const at = this.now().toISOString();
      const known = this.sql('SELECT * FROM card_authorisations WHERE request_id = ?').get(r.requestId) as CardAuthorisationRow | undefined;
      if (known) {
        const differences = ([['txnId', known.txn_id], ['amount', known.amount]] as const).filter(([k, v]) => r[k] !== v);
        if (differences.length > 0 && known.outcome !== 'tombstone') {
          const detail = differences.map(([k, v]) => `${k}: recorded ${String(v)}, resent ${String(r[k])}`).join('; ');
          this.addAnomaly('conflicting-authorisation', r.txnId, `${r.requestId}: ${detail}`, at);
          return { status: 'conflict', detail };
        }
        if (known.outcome === 'tombstone') {
          this.addAnomaly('authorisation-after-reversal', r.txnId, `${r.requestId} arrived after its reversal ${known.reversal_message_id ?? ''}: declined`, at);
        }
        this.sql('UPDATE card_authorisations SET duplicates = duplicates + 1 WHERE request_id = ?').run(r.requestId);
        return { status: 'duplicate', answer: recordedAnswer(known) };
      }
      const seq = (this.sql("SELECT COUNT(*) + 1 AS n FROM card_authorisations WHERE outcome = 'approved'").get() as { n: number }).n;
      const approved = decision.outcome === 'approved';
      const row = {
        requestId: r.requestId,
        txnId: r.txnId,
        phone: r.phone,
        amount: r.amount,
        currency: r.currency,
        maskedPan: r.maskedPan,
        outcome: decision.outcome,
        behaviour,
        reason: approved ? null : decision.reason,
        authCode: approved ? String(100000 + ((seq * 7919) % 900000)) : null,
        serverRef: approved ? `C${String(seq).padStart(6, '0')}` : null,
        terminalId,
        at,
      };
      this.db
        .prepare(
          `INSERT INTO card_authorisations (request_id, txn_id, phone, amount, currency, masked_pan, outcome, behaviour,
             reason, auth_code, server_ref, terminal_id, received_at)
           VALUES (@requestId, @txnId, @phone, @amount, @currency, @maskedPan, @outcome, @behaviour,
             @reason, @authCode, @serverRef, @terminalId, @at)`,
        )
        .run(row);
      const answer: CardAnswerBody = approved
        ? { requestId: r.requestId, outcome: 'approved', authCode: row.authCode!, serverRef: row.serverRef! }
        : { requestId: r.requestId, outcome: 'declined', reason: row.reason! };
      return { status: 'new', answer };
    })();
  }

  /**
   * Records a reversal once per message id. One that names a card authorisation marks it reversed;
   * one naming a request id the host never saw (nor a payment's message id) leaves a tombstone, so
   * that the authorisation, should it still arrive, is declined.
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
      this.applyReversal(r, terminalId, at);
      return { status: 'accepted', serverRef };
    })();
  }

  private applyReversal(r: IncomingReversal, terminalId: string | null, at: string): void {
    const auth = this.sql('SELECT * FROM card_authorisations WHERE request_id = ?').get(r.reverses) as CardAuthorisationRow | undefined;
    if (!auth) {
      if (this.sql('SELECT 1 FROM payments WHERE message_id = ?').get(r.reverses)) return;
      this.sql(
        `INSERT INTO card_authorisations (request_id, txn_id, amount, currency, outcome, terminal_id, received_at, reversed_at, reversal_message_id)
         VALUES (?, ?, ?, ?, 'tombstone', ?, ?, ?, ?)`,
      ).run(r.reverses, r.txnId, r.amount, r.currency, terminalId, at, at, r.messageId);
      return;
    }
    // A second reversal of the same authorisation (another message id) changes nothing.
    if (auth.reversed_at !== null) return;
    this.sql('UPDATE card_authorisations SET reversed_at = ?, reversal_message_id = ? WHERE request_id = ?').run(at, r.messageId, r.reverses);
    if (auth.outcome !== 'approved') return;
    if (auth.amount !== r.amount) {
      this.addAnomaly('reversal-amount-differs', r.txnId, `${r.reverses}: approved ${auth.amount} fen, reversal says ${r.amount}`, at);
    }
    const paidWith = this.sql('SELECT txn_id FROM payments WHERE card_request_id = ?').get(r.reverses) as { txn_id: string } | undefined;
    if (paidWith) this.addAnomaly('reversal-of-paid-authorisation', paidWith.txn_id, `${r.reverses} was reversed after a payment named it`, at);
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
    const cardAuthorisations = (this.sql('SELECT * FROM card_authorisations ORDER BY seq').all() as CardAuthorisationRow[]).map(toCardAuthorisation);
    return { payments, reversals, anomalies, accounts, cardAuthorisations, cardBalance: this.cardBalance(), claims: this.claims.all() };
  }

  /**
   * Card-terminal payments are left out: their approvals and reversals are held by the terminal's
   * acquirer, not by this host.
   */
  cardBalance(): CardBalance[] {
    const rows = this.sql(
      `WITH txns AS (
         SELECT txn_id FROM card_authorisations WHERE outcome != 'tombstone'
         UNION SELECT txn_id FROM payments WHERE card_method = 'reader')
       SELECT txns.txn_id AS txnId,
         (SELECT COALESCE(SUM(amount), 0) FROM card_authorisations a WHERE a.txn_id = txns.txn_id AND a.outcome = 'approved') AS approved,
         (SELECT COALESCE(SUM(amount), 0) FROM card_authorisations a
            WHERE a.txn_id = txns.txn_id AND a.outcome = 'approved' AND a.reversed_at IS NOT NULL) AS reversed,
         (SELECT COALESCE(SUM(card_in), 0) FROM payments p WHERE p.txn_id = txns.txn_id AND p.card_method = 'reader') AS paid
       FROM txns ORDER BY txns.txn_id`,
    ).all() as Omit<CardBalance, 'balanced'>[];
    return rows.map((r) => ({ ...r, balanced: r.approved - r.reversed === r.paid }));
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
