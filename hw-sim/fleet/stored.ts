/**
 * What the central consumers stored, read from their shared database (the reference management
 * service's mgmt_* tables) on a read-only connection: the fleet's loss and duplicate checks
 * compare it with what the simulated kiosks sent.
 */
import Database from 'better-sqlite3';

export interface Stored {
  /** `terminal/alarm id` → rows stored for it (1 each when nothing is doubled) and resends counted. */
  alarms: Map<string, { rows: number; duplicates: number }>;
  /** Command id → when its acknowledgement was stored, and how many acknowledgements came. */
  commands: Map<string, { terminalId: string; ackedAtMs: number | null; acks: number; sent: number }>;
  heartbeats: Map<string, number>;
  counters: Map<string, number>;
}

export function readStored(dbPath: string): Stored {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const has = (table: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    const stored: Stored = { alarms: new Map(), commands: new Map(), heartbeats: new Map(), counters: new Map() };
    if (!has('mgmt_alarms')) return stored;
    const alarms = db.prepare('SELECT terminal_id AS t, id, COUNT(*) AS n, SUM(duplicates) AS d FROM mgmt_alarms GROUP BY terminal_id, id').all() as { t: string; id: string; n: number; d: number }[];
    for (const a of alarms) stored.alarms.set(`${a.t}/${a.id}`, { rows: a.n, duplicates: a.d });
    const commands = db.prepare('SELECT id, terminal_id AS t, acked_at AS a, acks, sent FROM mgmt_commands').all() as { id: string; t: string; a: string | null; acks: number; sent: number }[];
    for (const c of commands) stored.commands.set(c.id, { terminalId: c.t, ackedAtMs: c.a === null ? null : Date.parse(c.a), acks: c.acks, sent: c.sent });
    for (const h of db.prepare('SELECT terminal_id AS t, count AS n FROM mgmt_heartbeats').all() as { t: string; n: number }[]) stored.heartbeats.set(h.t, h.n);
    for (const c of db.prepare('SELECT terminal_id AS t, COUNT(*) AS n FROM mgmt_counters GROUP BY terminal_id').all() as { t: string; n: number }[]) stored.counters.set(c.t, c.n);
    return stored;
  } finally {
    db.close();
  }
}
