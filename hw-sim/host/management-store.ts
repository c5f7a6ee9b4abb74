/**
 * What the reference management server keeps, in its own tables beside the business ones (same
 * SQLite file, own connection, names starting mgmt_): the last heartbeat of each terminal, every
 * counters report, alarms de-duplicated by the kiosk's id, the command queue with its
 * acknowledgements, and the journal extracts that were uploaded.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { ChainHeadBook, type Head, type HeadVerdict } from './chain-heads.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS mgmt_heartbeats (
  terminal_id TEXT PRIMARY KEY,
  body        TEXT NOT NULL,
  received_at TEXT NOT NULL,
  count       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mgmt_counters (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  terminal_id TEXT NOT NULL,
  body        TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mgmt_alarms (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  terminal_id TEXT NOT NULL,
  id          TEXT NOT NULL,
  action      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  source      TEXT NOT NULL,
  severity    TEXT NOT NULL,
  detail      TEXT NOT NULL,
  at          TEXT NOT NULL,
  received_at TEXT NOT NULL,
  duplicates  INTEGER NOT NULL DEFAULT 0,
  UNIQUE (terminal_id, id)
);
CREATE TABLE IF NOT EXISTS mgmt_commands (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT UNIQUE NOT NULL,
  terminal_id TEXT NOT NULL,
  type        TEXT NOT NULL,
  args        TEXT NOT NULL,
  issued_by   TEXT NOT NULL,
  queued_at   TEXT NOT NULL,
  sent        INTEGER NOT NULL DEFAULT 0,
  acked_at    TEXT,
  ok          INTEGER,
  result      TEXT,
  acks        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS mgmt_states (
  terminal_id TEXT PRIMARY KEY,
  body        TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mgmt_command_sends (
  id          TEXT PRIMARY KEY,
  last_sent_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mgmt_extracts (
  command_id  TEXT PRIMARY KEY,
  terminal_id TEXT NOT NULL,
  body        TEXT NOT NULL,
  events      INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  duplicates  INTEGER NOT NULL DEFAULT 0
);
`;

export interface AlarmIn {
  id: string;
  action: 'raise' | 'clear';
  kind: string;
  source: string;
  severity: string;
  detail: string;
  at: string;
}

export interface AlarmRecord extends AlarmIn {
  terminalId: string;
  receivedAt: string;
  /** How many resends of this id were taken as duplicates. */
  duplicates: number;
}

export interface CommandRecord {
  id: string;
  terminalId: string;
  type: string;
  args: Record<string, unknown>;
  by: string;
  queuedAt: string;
  /** Heartbeat answers that carried it. */
  sent: number;
  ackedAt: string | null;
  ok: boolean | null;
  result: Record<string, unknown> | null;
  /** Acknowledgements received; more than one means the kiosk repeated one. */
  acks: number;
}

export interface ManagementRecords {
  heartbeats: { terminalId: string; receivedAt: string; count: number; last: Record<string, unknown> }[];
  counters: { terminalId: string; receivedAt: string; body: Record<string, unknown> }[];
  alarms: AlarmRecord[];
  commands: CommandRecord[];
  extracts: { commandId: string; terminalId: string; events: number; receivedAt: string; duplicates: number; body: Record<string, unknown> }[];
  /** The last `state` message of each terminal (MQTT link only). */
  states: { terminalId: string; receivedAt: string; body: Record<string, unknown> }[];
}

type Row = Record<string, unknown>;

export class ManagementStore {
  private readonly db: Database.Database;
  private heads!: ChainHeadBook;

  constructor(
    path: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      // The business side writes the same file from its own connection, and so does every other
      // consumer instance on MQTT. Each read-then-write below is an IMMEDIATE transaction: a
      // deferred one whose snapshot another writer moved on is refused at once, not after a wait.
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
      this.heads = new ChainHeadBook(this.db, 'mgmt_chain_heads');
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Runs `fn` as one IMMEDIATE transaction: one fsync'd commit for everything in it (the methods
   * below nest inside as savepoints). The MQTT consumer stores a burst of messages this way, since
   * a commit per message caps a consumer at a few hundred messages a second.
   */
  batch<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Runs `fn` inside the current batch so that its failure undoes only its own writes. */
  alone<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  heartbeat(terminalId: string, body: unknown): void {
    this.db
      .prepare(
        `INSERT INTO mgmt_heartbeats (terminal_id, body, received_at, count) VALUES (?, ?, ?, 1)
         ON CONFLICT (terminal_id) DO UPDATE SET body = excluded.body, received_at = excluded.received_at, count = count + 1`,
      )
      .run(terminalId, JSON.stringify(body), this.stamp());
  }

  /**
   * A heartbeat's chain head. An older or forked head is the management side's own alarm for that
   * terminal (source 'server'), stored like the alarms the kiosks raise.
   */
  chainHead(terminalId: string, head: Head): HeadVerdict {
    const at = this.stamp();
    const v = this.heads.report(terminalId, head, at);
    if (v.anomaly) {
      this.db
        .prepare(
          `INSERT INTO mgmt_alarms (terminal_id, id, action, kind, source, severity, detail, at, received_at)
           VALUES (?, ?, 'raise', ?, 'server', 'critical', ?, ?, ?)`,
        )
        .run(terminalId, `server-${randomUUID()}`, v.anomaly.kind, v.anomaly.detail, at, at);
    }
    return v;
  }

  resetChainHeads(terminalId: string): number {
    return this.heads.reset(terminalId);
  }

  chainHeads(): ReturnType<ChainHeadBook['all']> {
    return this.heads.all();
  }

  /** A terminal's retained state as the MQTT link publishes it (online, or its will: offline). */
  state(terminalId: string, body: unknown): void {
    this.db
      .prepare(
        `INSERT INTO mgmt_states (terminal_id, body, received_at) VALUES (?, ?, ?)
         ON CONFLICT (terminal_id) DO UPDATE SET body = excluded.body, received_at = excluded.received_at`,
      )
      .run(terminalId, JSON.stringify(body), this.stamp());
  }

  /**
   * The unacknowledged commands of a terminal not published to it within the last `resendMs`
   * (all of them with 0), each counted as sent and stamped now: what the MQTT consumer publishes
   * again when the terminal's heartbeat shows it is there.
   */
  commandsToSend(terminalId: string, resendMs: number, ids?: readonly string[]): { id: string; type: string; args: Record<string, unknown>; by: string }[] {
    return this.db.transaction(() => {
      const nowMs = this.now().getTime();
      const rows = this.db
        .prepare(
          `SELECT c.* FROM mgmt_commands c LEFT JOIN mgmt_command_sends s ON s.id = c.id
           WHERE c.terminal_id = ? AND c.acked_at IS NULL AND (s.last_sent_at IS NULL OR s.last_sent_at <= ?) ORDER BY c.seq`,
        )
        .all(terminalId, nowMs - resendMs) as Row[];
      const chosen = ids ? rows.filter((r) => ids.includes(String(r.id))) : rows;
      const sent = this.db.prepare('UPDATE mgmt_commands SET sent = sent + 1 WHERE id = ?');
      const stamp = this.db.prepare('INSERT INTO mgmt_command_sends (id, last_sent_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET last_sent_at = excluded.last_sent_at');
      for (const r of chosen) {
        sent.run(r.id);
        stamp.run(r.id, nowMs);
      }
      return chosen.map((r) => ({ id: String(r.id), type: String(r.type), args: JSON.parse(String(r.args)) as Record<string, unknown>, by: String(r.issued_by) }));
    }).immediate();
  }

  counters(terminalId: string, body: unknown): void {
    this.db.prepare('INSERT INTO mgmt_counters (terminal_id, body, received_at) VALUES (?, ?, ?)').run(terminalId, JSON.stringify(body), this.stamp());
  }

  /** Stores each alarm once per terminal and id; returns every id it now holds (new or seen before). */
  alarms(terminalId: string, list: readonly AlarmIn[]): string[] {
    return this.storeAlarms(terminalId, list).ids;
  }

  /** As `alarms`, also saying how many of the list were already held. */
  storeAlarms(terminalId: string, list: readonly AlarmIn[]): { ids: string[]; duplicates: number } {
    return this.db.transaction(() => {
      const at = this.stamp();
      const held = this.db.prepare('SELECT 1 FROM mgmt_alarms WHERE terminal_id = ? AND id = ?');
      const insert = this.db.prepare(
        `INSERT INTO mgmt_alarms (terminal_id, id, action, kind, source, severity, detail, at, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (terminal_id, id) DO UPDATE SET duplicates = duplicates + 1`,
      );
      let duplicates = 0;
      for (const a of list) {
        if (held.get(terminalId, a.id)) duplicates++;
        insert.run(terminalId, a.id, a.action, a.kind, a.source, a.severity, a.detail, a.at, at);
      }
      return { ids: list.map((a) => a.id), duplicates };
    }).immediate();
  }

  queueCommand(c: { terminalId: string; type: string; args?: Record<string, unknown>; by?: string }): CommandRecord {
    const id = `cmd-${randomUUID()}`;
    this.db
      .prepare('INSERT INTO mgmt_commands (id, terminal_id, type, args, issued_by, queued_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, c.terminalId, c.type, JSON.stringify(c.args ?? {}), c.by ?? 'operator', this.stamp());
    return this.command(id)!;
  }

  /** The commands this terminal has not acknowledged yet, oldest first; each call counts as one send. */
  pendingCommands(terminalId: string): { id: string; type: string; args: Record<string, unknown>; by: string }[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT * FROM mgmt_commands WHERE terminal_id = ? AND acked_at IS NULL ORDER BY seq').all(terminalId) as Row[];
      const sent = this.db.prepare('UPDATE mgmt_commands SET sent = sent + 1 WHERE id = ?');
      for (const r of rows) sent.run(r.id);
      return rows.map((r) => ({ id: String(r.id), type: String(r.type), args: JSON.parse(String(r.args)) as Record<string, unknown>, by: String(r.issued_by) }));
    }).immediate();
  }

  /**
   * Records a command's acknowledgement. A repeated one only counts; one for a command this
   * terminal was never given changes nothing.
   */
  acknowledge(terminalId: string, id: string, ack: { ok: boolean; result: unknown }): 'acked' | 'duplicate' | 'unknown' {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT acked_at FROM mgmt_commands WHERE id = ? AND terminal_id = ?').get(id, terminalId) as { acked_at: string | null } | undefined;
      if (!row) return 'unknown';
      if (row.acked_at !== null) {
        this.db.prepare('UPDATE mgmt_commands SET acks = acks + 1 WHERE id = ?').run(id);
        return 'duplicate';
      }
      this.db
        .prepare('UPDATE mgmt_commands SET acked_at = ?, ok = ?, result = ?, acks = 1 WHERE id = ?')
        .run(this.stamp(), ack.ok ? 1 : 0, JSON.stringify(ack.result ?? {}), id);
      return 'acked';
    }).immediate();
  }

  /** One extract per command: a resend of the same upload is counted, not stored twice. */
  extract(terminalId: string, commandId: string, body: { events: unknown[] }): void {
    this.db
      .prepare(
        `INSERT INTO mgmt_extracts (command_id, terminal_id, body, events, received_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (command_id) DO UPDATE SET duplicates = duplicates + 1`,
      )
      .run(commandId, terminalId, JSON.stringify(body), body.events.length, this.stamp());
  }

  command(id: string): CommandRecord | undefined {
    const r = this.db.prepare('SELECT * FROM mgmt_commands WHERE id = ?').get(id) as Row | undefined;
    return r && toCommand(r);
  }

  records(): ManagementRecords {
    const all = (sql: string) => this.db.prepare(sql).all() as Row[];
    return {
      heartbeats: all('SELECT * FROM mgmt_heartbeats ORDER BY terminal_id').map((r) => ({
        terminalId: String(r.terminal_id),
        receivedAt: String(r.received_at),
        count: Number(r.count),
        last: JSON.parse(String(r.body)) as Record<string, unknown>,
      })),
      counters: all('SELECT * FROM mgmt_counters ORDER BY seq').map((r) => ({
        terminalId: String(r.terminal_id),
        receivedAt: String(r.received_at),
        body: JSON.parse(String(r.body)) as Record<string, unknown>,
      })),
      alarms: all('SELECT * FROM mgmt_alarms ORDER BY seq').map((r) => ({
        terminalId: String(r.terminal_id),
        id: String(r.id),
        action: r.action as AlarmIn['action'],
        kind: String(r.kind),
        source: String(r.source),
        severity: String(r.severity),
        detail: String(r.detail),
        at: String(r.at),
        receivedAt: String(r.received_at),
        duplicates: Number(r.duplicates),
      })),
      commands: all('SELECT * FROM mgmt_commands ORDER BY seq').map(toCommand),
      extracts: all('SELECT * FROM mgmt_extracts ORDER BY received_at, command_id').map((r) => ({
        commandId: String(r.command_id),
        terminalId: String(r.terminal_id),
        events: Number(r.events),
        receivedAt: String(r.received_at),
        duplicates: Number(r.duplicates),
        body: JSON.parse(String(r.body)) as Record<string, unknown>,
      })),
      states: all('SELECT * FROM mgmt_states ORDER BY terminal_id').map((r) => ({
        terminalId: String(r.terminal_id),
        receivedAt: String(r.received_at),
        body: JSON.parse(String(r.body)) as Record<string, unknown>,
      })),
    };
  }

  private stamp(): string {
    return this.now().toISOString();
  }
}

function toCommand(r: Row): CommandRecord {
  return {
    id: String(r.id),
    terminalId: String(r.terminal_id),
    type: String(r.type),
    args: JSON.parse(String(r.args)) as Record<string, unknown>,
    by: String(r.issued_by),
    queuedAt: String(r.queued_at),
    sent: Number(r.sent),
    ackedAt: r.acked_at === null ? null : String(r.acked_at),
    ok: r.ok === null ? null : r.ok === 1,
    result: r.result === null ? null : (JSON.parse(String(r.result)) as Record<string, unknown>),
    acks: Number(r.acks),
  };
}
