import { bindExistingOutbox } from './bindings.js';
import { sealHead, sealHistory } from './chain.js';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * Schema migrations. Each one runs inside its own SQLite transaction together with the bump of
 * `PRAGMA user_version`, so a crash mid-migration leaves the previous version intact.
 * Never edit a shipped migration: kiosks in the field already ran it. Add a new version instead.
 */
type Database = BetterSqlite3.Database;

export interface Migration {
  version: number;
  sql: string;
  /** Work SQL alone cannot do (it needs the journal key), run after `sql` in the same transaction. */
  after?: (db: Database, ctx: MigrationContext) => void;
  /**
   * The migration rebuilds a table that others reference (SQLite cannot change a CHECK in place):
   * foreign keys are switched off around its transaction and checked before it commits.
   */
  rebuildsTables?: boolean;
  /**
   * Only adds (tables, indexes, columns with defaults) and changes nothing older code reads or
   * writes: a release that does not know it can still run on the migrated journal, which a
   * rollback after an update needs (docs/updates.md). Recorded in `schema_migrations`.
   */
  additive?: true;
}

/** The migration that starts recording each migration's additivity (see `migrate`). */
export const SCHEMA_LOG_VERSION = 8;

export interface MigrationContext {
  /** The journal key; needed only to seal events written before the hash chain existed. */
  key?: Buffer;
}

const APPEND_ONLY_UPDATE = `
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END;`;

// A money column must hold an integer >= 0; REAL or TEXT would let fractions of a fen in.
const money = (col: string) => `CHECK (typeof(${col}) = 'integer' AND ${col} >= 0)`;
// ccTalk carries coin counts and event counters in one byte.
const byte = (col: string, min: number) => `typeof(${col}) = 'integer' AND ${col} BETWEEN ${min} AND 255`;

export const migrations: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE transactions (
        id          TEXT PRIMARY KEY,
        service     TEXT NOT NULL CHECK (service IN ('pay', 'topup', 'lookup')),
        phone       TEXT,
        amount_due  INTEGER CHECK (amount_due IS NULL OR (typeof(amount_due) = 'integer' AND amount_due >= 0)),
        status      TEXT NOT NULL CHECK (status IN ('open', 'completed', 'cancelled')),
        end_reason  TEXT,
        cash_in     INTEGER NOT NULL DEFAULT 0 ${money('cash_in')},
        credited    INTEGER NOT NULL DEFAULT 0 ${money('credited')},
        change_paid INTEGER NOT NULL DEFAULT 0 ${money('change_paid')},
        change_owed INTEGER NOT NULL DEFAULT 0 ${money('change_owed')},
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        -- Holds at every step, not only at the end: stacking adds to cash_in and credited alike,
        -- settling only moves part of credited to change.
        CHECK (cash_in = credited + change_paid + change_owed),
        CHECK (status <> 'cancelled' OR cash_in = 0)
      );
      CREATE INDEX transactions_open ON transactions (status) WHERE status = 'open';

      CREATE TABLE events (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        txn_id TEXT REFERENCES transactions (id),
        type   TEXT NOT NULL,
        data   TEXT NOT NULL CHECK (json_valid(data)),
        at     TEXT NOT NULL
      );
      CREATE INDEX events_txn ON events (txn_id, seq);
      CREATE INDEX events_type ON events (type, seq);
      CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END;
      CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END;

      CREATE TABLE cashbox (
        currency TEXT NOT NULL,
        value    INTEGER NOT NULL CHECK (typeof(value) = 'integer' AND value > 0),
        count    INTEGER NOT NULL DEFAULT 0 ${money('count')},
        PRIMARY KEY (currency, value)
      );

      CREATE TABLE outbox (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id      TEXT UNIQUE NOT NULL,
        txn_id          TEXT,
        kind            TEXT NOT NULL,
        payload         TEXT NOT NULL CHECK (json_valid(payload)),
        created_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_attempt_at TEXT,
        last_error      TEXT,
        acked_at        TEXT,
        server_ref      TEXT
      );
      CREATE INDEX outbox_pending ON outbox (seq) WHERE acked_at IS NULL;
      CREATE INDEX outbox_txn ON outbox (txn_id, kind);
    `,
  },
  {
    version: 2,
    sql: `
      -- Coins are counted apart from notes: a 1 yuan coin and a 1 yuan note are both 100 fen.
      CREATE TABLE coinbox (
        currency TEXT NOT NULL,
        value    INTEGER NOT NULL CHECK (typeof(value) = 'integer' AND value > 0),
        count    INTEGER NOT NULL DEFAULT 0 ${money('count')},
        PRIMARY KEY (currency, value)
      );

      -- level is an estimate (coins filled in minus coins paid); the hopper's counters are the truth.
      CREATE TABLE hoppers (
        name       TEXT PRIMARY KEY CHECK (length(name) > 0),
        coin_value INTEGER NOT NULL CHECK (typeof(coin_value) = 'integer' AND coin_value > 0),
        level      INTEGER NOT NULL ${money('level')},
        updated_at TEXT NOT NULL
      );

      -- One row per dispense command, written before the command is sent. event_before is the
      -- hopper's event counter read just before; after a crash, comparing it with the hopper's
      -- counter tells whether the dispense was accepted.
      CREATE TABLE payouts (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        txn_id       TEXT NOT NULL REFERENCES transactions (id),
        hopper       TEXT NOT NULL CHECK (length(hopper) > 0),
        coin_value   INTEGER NOT NULL CHECK (typeof(coin_value) = 'integer' AND coin_value > 0),
        count        INTEGER NOT NULL CHECK (${byte('count', 1)}),
        event_before INTEGER NOT NULL CHECK (${byte('event_before', 0)}),
        event        INTEGER CHECK (event IS NULL OR (${byte('event', 0)})),
        paid         INTEGER CHECK (paid IS NULL OR (typeof(paid) = 'integer' AND paid >= 0)),
        unpaid       INTEGER CHECK (unpaid IS NULL OR (typeof(unpaid) = 'integer' AND unpaid >= 0)),
        status       TEXT NOT NULL CHECK (status IN ('intended', 'started', 'done')),
        via          TEXT,
        created_at   TEXT NOT NULL,
        done_at      TEXT,
        CHECK ((status = 'done') = (paid IS NOT NULL AND unpaid IS NOT NULL AND done_at IS NOT NULL)),
        CHECK (status <> 'done' OR paid + unpaid <= count),
        CHECK (status <> 'started' OR event IS NOT NULL)
      );
      CREATE INDEX payouts_txn ON payouts (txn_id, seq);
      CREATE INDEX payouts_pending ON payouts (seq) WHERE status <> 'done';

      -- Not tied to change_owed by a CHECK: rows settled by version 1 may owe change without a
      -- code, and a CHECK would make this migration fail on them. verify() reports those instead.
      ALTER TABLE transactions ADD COLUMN claim_code TEXT
        CHECK (claim_code IS NULL OR (typeof(claim_code) = 'text' AND length(claim_code) > 0));
      CREATE UNIQUE INDEX transactions_claim_code ON transactions (claim_code) WHERE claim_code IS NOT NULL;
    `,
  },
  {
    version: 3,
    sql: `
      -- The hash chain (see chain.ts): each event's hash covers the previous event's hash, which
      -- is also kept so that a broken link shows where the event was first written.
      ALTER TABLE events ADD COLUMN prev_hash TEXT CHECK (prev_hash IS NULL OR length(prev_hash) = 64);
      ALTER TABLE events ADD COLUMN hash TEXT CHECK (hash IS NULL OR length(hash) = 64);

      -- The last event the journal chained. New events chain to it rather than to whatever row is
      -- last, so a row slipped in around the journal stays outside the chain, and a row removed
      -- from the end leaves the head pointing past the last row.
      CREATE TABLE chain_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL CHECK (typeof(seq) = 'integer' AND seq >= 0),
        hash TEXT NOT NULL CHECK (length(hash) = 64)
      );

      -- Sealing the older events writes their hashes once; the guard comes back right after.
      DROP TRIGGER events_no_update;
    `,
    after: (db, ctx) => {
      sealHistory(db, ctx.key);
      db.exec(`${APPEND_ONLY_UPDATE}
        CREATE TRIGGER events_chained BEFORE INSERT ON events WHEN NEW.hash IS NULL OR NEW.prev_hash IS NULL
          BEGIN SELECT RAISE(ABORT, 'events must carry their chain hash'); END;`);
    },
  },
  {
    version: 4,
    sql: `
      -- The management link (src/management/). One row per alarm raised or cleared: it is the
      -- message the management server receives and de-duplicates by id, kept undelivered across
      -- restarts until the server has acknowledged it.
      CREATE TABLE alarm_messages (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT UNIQUE NOT NULL,
        action       TEXT NOT NULL CHECK (action IN ('raise', 'clear')),
        kind         TEXT NOT NULL CHECK (length(kind) > 0),
        source       TEXT NOT NULL CHECK (length(source) > 0),
        severity     TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
        detail       TEXT NOT NULL,
        at           TEXT NOT NULL,
        delivered_at TEXT
      );
      CREATE INDEX alarm_messages_undelivered ON alarm_messages (seq) WHERE delivered_at IS NULL;

      -- The alarms active now, one per kind and source: raising it again only updates the detail.
      CREATE TABLE alarms_active (
        kind       TEXT NOT NULL,
        source     TEXT NOT NULL,
        severity   TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
        detail     TEXT NOT NULL,
        raised_at  TEXT NOT NULL,
        message_id TEXT NOT NULL REFERENCES alarm_messages (id),
        PRIMARY KEY (kind, source)
      );

      -- Remote commands, one row per command id: a command the server sends again (because the
      -- acknowledgement was lost) is acknowledged again from here, never run twice.
      CREATE TABLE remote_commands (
        id          TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        args        TEXT NOT NULL CHECK (json_valid(args)),
        issued_by   TEXT NOT NULL,
        received_at TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        result      TEXT CHECK (result IS NULL OR json_valid(result)),
        finished_at TEXT,
        acked_at    TEXT,
        CHECK ((status = 'running') = (finished_at IS NULL))
      );
      CREATE INDEX remote_commands_unacked ON remote_commands (received_at) WHERE acked_at IS NULL;
    `,
  },
  {
    version: 5,
    rebuildsTables: true,
    sql: `
      -- Card payments (issue 5). card_in is money taken by card and not reversed; the row invariant
      -- becomes cash_in + card_in = credited + change_paid + change_owed, which needs a new table.
      CREATE TABLE transactions_v5 (
        id          TEXT PRIMARY KEY,
        service     TEXT NOT NULL CHECK (service IN ('pay', 'topup', 'lookup')),
        phone       TEXT,
        amount_due  INTEGER CHECK (amount_due IS NULL OR (typeof(amount_due) = 'integer' AND amount_due >= 0)),
        status      TEXT NOT NULL CHECK (status IN ('open', 'completed', 'cancelled')),
        end_reason  TEXT,
        cash_in     INTEGER NOT NULL DEFAULT 0 ${money('cash_in')},
        credited    INTEGER NOT NULL DEFAULT 0 ${money('credited')},
        change_paid INTEGER NOT NULL DEFAULT 0 ${money('change_paid')},
        change_owed INTEGER NOT NULL DEFAULT 0 ${money('change_owed')},
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        claim_code  TEXT CHECK (claim_code IS NULL OR (typeof(claim_code) = 'text' AND length(claim_code) > 0)),
        card_in     INTEGER NOT NULL DEFAULT 0 ${money('card_in')},
        CHECK (cash_in + card_in = credited + change_paid + change_owed),
        CHECK (status <> 'cancelled' OR (cash_in = 0 AND card_in = 0))
      );
      INSERT INTO transactions_v5 (id, service, phone, amount_due, status, end_reason, cash_in, credited,
                                   change_paid, change_owed, created_at, updated_at, claim_code)
        SELECT id, service, phone, amount_due, status, end_reason, cash_in, credited,
               change_paid, change_owed, created_at, updated_at, claim_code FROM transactions;
      DROP TABLE transactions;
      ALTER TABLE transactions_v5 RENAME TO transactions;
      CREATE INDEX transactions_open ON transactions (status) WHERE status = 'open';
      CREATE UNIQUE INDEX transactions_claim_code ON transactions (claim_code) WHERE claim_code IS NOT NULL;

      -- Payment-terminal bookings to undo by receipt number (ZVT reversal), written in the same
      -- commit as the unknown outcome that needs them and retried until the terminal answers.
      CREATE TABLE terminal_reversals (
        request_id   TEXT PRIMARY KEY,
        txn_id       TEXT NOT NULL REFERENCES transactions (id),
        receipt_no   INTEGER NOT NULL CHECK (typeof(receipt_no) = 'integer' AND receipt_no >= 0),
        amount       INTEGER NOT NULL ${money('amount')},
        status       TEXT NOT NULL CHECK (status IN ('pending', 'reversed', 'refused')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        created_at   TEXT NOT NULL,
        done_at      TEXT,
        CHECK ((status = 'pending') = (done_at IS NULL))
      );
      CREATE INDEX terminal_reversals_pending ON terminal_reversals (created_at) WHERE status = 'pending';
    `,
  },
  {
    version: 6,
    sql: `
      -- Issue 15: the chain head carries a keyed seal (chain.ts headMac), so moving it back to an
      -- earlier event after cutting the end of the journal is caught.
      ALTER TABLE chain_head ADD COLUMN mac TEXT CHECK (mac IS NULL OR length(mac) = 64);

      -- The highest chain head a server confirmed it saw (chain-heads.ts). Not an event: it moves
      -- with every acknowledged report, and an event would move the head it records.
      CREATE TABLE chain_acknowledged (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        seq    INTEGER NOT NULL CHECK (typeof(seq) = 'integer' AND seq >= 0),
        hash   TEXT NOT NULL CHECK (length(hash) = 64),
        server TEXT NOT NULL,
        at     TEXT NOT NULL
      );

      -- Each outbox row is bound to the chain by an 'outbox.queued' event with its payload's
      -- digest (bindings.ts); the forwarder looks it up by message id before each send.
      CREATE INDEX events_outbox_queued ON events (json_extract(data, '$.messageId')) WHERE type = 'outbox.queued';
    `,
    after: (db, ctx) => {
      sealHead(db, ctx.key);
      bindExistingOutbox(db, ctx.key);
    },
  },
  {
    version: 7,
    sql: `
      -- Claims (issue 16): each unresolved note and each change owed is a claim the operator's
      -- server is told of (an outbox message of kind 'claim'); a cash count that finds the note
      -- confirms it. id is the message id of the claim as first sent.
      CREATE TABLE claims (
        id           TEXT PRIMARY KEY,
        txn_id       TEXT NOT NULL REFERENCES transactions (id),
        claim_code   TEXT NOT NULL CHECK (length(claim_code) > 0),
        reason       TEXT NOT NULL CHECK (reason IN ('note-unresolved', 'change-owed')),
        amount       INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
        denomination INTEGER CHECK (denomination IS NULL OR (typeof(denomination) = 'integer' AND denomination > 0)),
        status       TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'credited')),
        created_at   TEXT NOT NULL,
        confirmed_at TEXT,
        collection   INTEGER,
        CHECK ((reason = 'note-unresolved') = (denomination IS NOT NULL)),
        CHECK (status <> 'confirmed' OR (confirmed_at IS NOT NULL AND collection IS NOT NULL)),
        CHECK (status <> 'credited' OR reason = 'change-owed')
      );
      CREATE INDEX claims_txn ON claims (txn_id);
      CREATE INDEX claims_open_notes ON claims (denomination, created_at)
        WHERE status = 'open' AND reason = 'note-unresolved';
    `,
  },
  {
    version: SCHEMA_LOG_VERSION,
    additive: true,
    sql: `
      -- Software updates (issue 19): each migration from this one on, with whether it is additive,
      -- so a release rolled back after its successor migrated the journal can tell whether it may
      -- still run on it (every newer migration additive) or must refuse to open it.
      CREATE TABLE schema_migrations (
        version    INTEGER PRIMARY KEY,
        additive   INTEGER NOT NULL CHECK (additive IN (0, 1)),
        applied_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 9,
    // Additive for a rolled-back release: with mobile_in 0 the wider CHECK is the old one, and
    // the new column has a default, so older code reads and writes the table as before.
    additive: true,
    rebuildsTables: true,
    sql: `
      -- Mobile wallet payments (issue 17). mobile_in is money a wallet paid and the kiosk credited;
      -- the row invariant becomes cash_in + card_in + mobile_in = credited + change_paid + change_owed.
      CREATE TABLE transactions_v9 (
        id          TEXT PRIMARY KEY,
        service     TEXT NOT NULL CHECK (service IN ('pay', 'topup', 'lookup')),
        phone       TEXT,
        amount_due  INTEGER CHECK (amount_due IS NULL OR (typeof(amount_due) = 'integer' AND amount_due >= 0)),
        status      TEXT NOT NULL CHECK (status IN ('open', 'completed', 'cancelled')),
        end_reason  TEXT,
        cash_in     INTEGER NOT NULL DEFAULT 0 ${money('cash_in')},
        credited    INTEGER NOT NULL DEFAULT 0 ${money('credited')},
        change_paid INTEGER NOT NULL DEFAULT 0 ${money('change_paid')},
        change_owed INTEGER NOT NULL DEFAULT 0 ${money('change_owed')},
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        claim_code  TEXT CHECK (claim_code IS NULL OR (typeof(claim_code) = 'text' AND length(claim_code) > 0)),
        card_in     INTEGER NOT NULL DEFAULT 0 ${money('card_in')},
        mobile_in   INTEGER NOT NULL DEFAULT 0 ${money('mobile_in')},
        CHECK (cash_in + card_in + mobile_in = credited + change_paid + change_owed),
        CHECK (status <> 'cancelled' OR (cash_in = 0 AND card_in = 0 AND mobile_in = 0))
      );
      INSERT INTO transactions_v9 (id, service, phone, amount_due, status, end_reason, cash_in, credited,
                                   change_paid, change_owed, created_at, updated_at, claim_code, card_in)
        SELECT id, service, phone, amount_due, status, end_reason, cash_in, credited,
               change_paid, change_owed, created_at, updated_at, claim_code, card_in FROM transactions;
      DROP TABLE transactions;
      ALTER TABLE transactions_v9 RENAME TO transactions;
      CREATE INDEX transactions_open ON transactions (status) WHERE status = 'open';
      CREATE UNIQUE INDEX transactions_claim_code ON transactions (claim_code) WHERE claim_code IS NOT NULL;
    `,
  },
];

export const latestVersion = migrations.reduce((v, m) => Math.max(v, m.version), 0);
