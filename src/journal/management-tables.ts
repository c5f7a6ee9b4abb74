import type { JournalEvent } from './events.js';
import type { Ledger } from './ledger.js';

/**
 * The management link's own tables in the journal's database (alarms, remote commands) and the
 * reads it uploads (event extracts). Each write runs in one SQLite transaction with the event that
 * journals it, so a row and its event commit together or not at all. The money tables are not
 * reachable from here.
 */

export type AlarmSeverityLevel = 'warning' | 'critical';

/** One raise or clear as the management server receives it; the server de-duplicates by `id`. */
export interface AlarmMessage {
  id: string;
  action: 'raise' | 'clear';
  kind: string;
  source: string;
  severity: AlarmSeverityLevel;
  detail: string;
  at: string;
}

export interface ActiveAlarmRow {
  kind: string;
  source: string;
  severity: AlarmSeverityLevel;
  detail: string;
  raisedAt: string;
}

export interface CommandRow {
  id: string;
  status: 'running' | 'done' | 'failed';
  result: string | null;
  acked_at: string | null;
}

export interface CommandRecord {
  id: string;
  type: string;
  by: string;
  args: Record<string, unknown>;
}

/** One journal event as uploaded; the hashes let the receiver check the chain it was cut from. */
export interface ChainedEvent extends JournalEvent {
  prevHash: string | null;
  hash: string | null;
}

/** A new message's id and time, asked for only when a message is written. */
export type Stamp = () => { id: string; at: string };

interface ActiveRecord {
  kind: string;
  source: string;
  severity: AlarmSeverityLevel;
  detail: string;
  raised_at: string;
}

interface ChainedRecord {
  seq: number;
  txn_id: string | null;
  type: string;
  data: string;
  at: string;
  prev_hash: string | null;
  hash: string | null;
}

/** The narrow view of the journal the management link works through. */
export interface ManagementStore {
  raiseAlarm(a: Omit<AlarmMessage, 'id' | 'action' | 'at'>, stamp: Stamp): AlarmMessage | null;
  clearAlarm(kind: string, source: string, stamp: Stamp): AlarmMessage | null;
  activeAlarms(): ActiveAlarmRow[];
  undeliveredAlarms(limit: number): AlarmMessage[];
  alarmsDelivered(ids: readonly string[], at: string): void;
  command(id: string): CommandRow | undefined;
  reopenCommandAck(id: string): void;
  unacknowledgedCommands(limit: number): CommandRow[];
  commandAcknowledged(id: string, at: string): void;
  commandStarted(c: CommandRecord, at: string, resumed: boolean): void;
  commandFinished(c: CommandRecord, ok: boolean, result: Record<string, unknown>, at: string): void;
  lastEvents(n: number): ChainedEvent[];
  eventsBetween(from: string, to: string, limit: number): ChainedEvent[];
}

export class ManagementTables implements ManagementStore {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly l: Ledger) {
    this.sql = prepare(l.db);
  }

  /** Raising an alarm already active with the same severity only updates its detail: no message. */
  raiseAlarm(a: Omit<AlarmMessage, 'id' | 'action' | 'at'>, stamp: Stamp): AlarmMessage | null {
    return this.l.write(() => {
      const active = this.sql.active.get(a.kind, a.source) as ActiveRecord | undefined;
      if (active && active.severity === a.severity) {
        if (active.detail !== a.detail) this.sql.activeDetail.run(a.detail, a.kind, a.source);
        return null;
      }
      const { id, at } = stamp();
      const m: AlarmMessage = { id, action: 'raise', kind: a.kind, source: a.source, severity: a.severity, detail: a.detail, at };
      this.insertMessage(m);
      this.sql.activate.run(m.kind, m.source, m.severity, m.detail, m.at, m.id);
      this.l.insert(null, 'alarm.raised', { id: m.id, kind: m.kind, source: m.source, severity: m.severity, detail: m.detail }, this.l.stamp());
      return m;
    });
  }

  clearAlarm(kind: string, source: string, stamp: Stamp): AlarmMessage | null {
    return this.l.write(() => {
      const active = this.sql.active.get(kind, source) as ActiveRecord | undefined;
      if (!active) return null;
      const { id, at } = stamp();
      const m: AlarmMessage = { id, action: 'clear', kind, source, severity: active.severity, detail: active.detail, at };
      this.insertMessage(m);
      this.sql.deactivate.run(kind, source);
      this.l.insert(null, 'alarm.cleared', { id: m.id, kind, source }, this.l.stamp());
      return m;
    });
  }

  activeAlarms(): ActiveAlarmRow[] {
    return (this.sql.allActive.all() as ActiveRecord[]).map((r) => ({
      kind: r.kind,
      source: r.source,
      severity: r.severity,
      detail: r.detail,
      raisedAt: r.raised_at,
    }));
  }

  /** Messages the management server has not acknowledged yet, oldest first. */
  undeliveredAlarms(limit: number): AlarmMessage[] {
    return this.sql.undelivered.all(limit) as AlarmMessage[];
  }

  /** An id that is unknown or already delivered changes nothing. */
  alarmsDelivered(ids: readonly string[], at: string): void {
    this.l.write(() => {
      for (const id of ids) this.sql.delivered.run(at, id);
    });
  }

  command(id: string): CommandRow | undefined {
    return this.sql.command.get(id) as CommandRow | undefined;
  }

  reopenCommandAck(id: string): void {
    this.sql.reopenAck.run(id);
  }

  unacknowledgedCommands(limit: number): CommandRow[] {
    return this.sql.unacked.all(limit) as CommandRow[];
  }

  commandAcknowledged(id: string, at: string): void {
    this.sql.acked.run(at, id);
  }

  /** The command is recorded before it runs; one resumed after a restart is only journalled again. */
  commandStarted(c: CommandRecord, at: string, resumed: boolean): void {
    this.l.write(() => {
      if (!resumed) this.sql.insertCommand.run(c.id, c.type, JSON.stringify(c.args), c.by, at);
      this.l.insert(null, 'remote.command', { id: c.id, type: c.type, by: c.by, args: c.args, ...(resumed ? { resumed: true as const } : {}) }, this.l.stamp());
    });
  }

  commandFinished(c: CommandRecord, ok: boolean, result: Record<string, unknown>, at: string): void {
    this.l.write(() => {
      this.sql.finishCommand.run(ok ? 'done' : 'failed', JSON.stringify(result), at, c.id);
      this.l.insert(null, 'remote.command.done', { id: c.id, type: c.type, by: c.by, ok, result }, this.l.stamp());
    });
  }

  /** The last `n` events, oldest first. */
  lastEvents(n: number): ChainedEvent[] {
    return (this.sql.lastEvents.all(n) as ChainedRecord[]).reverse().map(toChained);
  }

  /** Events with from <= at < to (stored instants are toISOString() text), oldest first. */
  eventsBetween(from: string, to: string, limit: number): ChainedEvent[] {
    return (this.sql.between.all(from, to, limit) as ChainedRecord[]).map(toChained);
  }

  private insertMessage(m: AlarmMessage): void {
    this.sql.insertMessage.run(m.id, m.action, m.kind, m.source, m.severity, m.detail, m.at);
  }
}

function prepare(db: Ledger['db']) {
  return {
    active: db.prepare('SELECT * FROM alarms_active WHERE kind = ? AND source = ?'),
    activeDetail: db.prepare('UPDATE alarms_active SET detail = ? WHERE kind = ? AND source = ?'),
    activate: db.prepare(
      `INSERT INTO alarms_active (kind, source, severity, detail, raised_at, message_id) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, source) DO UPDATE SET severity = excluded.severity, detail = excluded.detail,
         raised_at = excluded.raised_at, message_id = excluded.message_id`,
    ),
    deactivate: db.prepare('DELETE FROM alarms_active WHERE kind = ? AND source = ?'),
    allActive: db.prepare('SELECT * FROM alarms_active ORDER BY raised_at, kind, source'),
    insertMessage: db.prepare('INSERT INTO alarm_messages (id, action, kind, source, severity, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    undelivered: db.prepare(
      'SELECT id, action, kind, source, severity, detail, at FROM alarm_messages WHERE delivered_at IS NULL ORDER BY seq LIMIT ?',
    ),
    delivered: db.prepare('UPDATE alarm_messages SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL'),
    command: db.prepare('SELECT id, status, result, acked_at FROM remote_commands WHERE id = ?'),
    reopenAck: db.prepare('UPDATE remote_commands SET acked_at = NULL WHERE id = ?'),
    unacked: db.prepare(
      `SELECT id, status, result, acked_at FROM remote_commands WHERE acked_at IS NULL AND status <> 'running' ORDER BY received_at LIMIT ?`,
    ),
    acked: db.prepare('UPDATE remote_commands SET acked_at = ? WHERE id = ? AND acked_at IS NULL'),
    insertCommand: db.prepare(
      `INSERT INTO remote_commands (id, type, args, issued_by, received_at, status) VALUES (?, ?, ?, ?, ?, 'running')`,
    ),
    finishCommand: db.prepare('UPDATE remote_commands SET status = ?, result = ?, finished_at = ? WHERE id = ?'),
    lastEvents: db.prepare('SELECT * FROM events ORDER BY seq DESC LIMIT ?'),
    between: db.prepare('SELECT * FROM events WHERE at >= ? AND at < ? ORDER BY seq LIMIT ?'),
  };
}

function toChained(r: ChainedRecord): ChainedEvent {
  return {
    seq: r.seq,
    txnId: r.txn_id,
    type: r.type,
    data: JSON.parse(r.data) as Record<string, unknown>,
    at: r.at,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
