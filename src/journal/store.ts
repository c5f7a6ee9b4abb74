import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { migrations, SCHEMA_LOG_VERSION, type Migration, type MigrationContext } from './migrations.js';

export type Database = BetterSqlite3.Database;

/** How long a writer waits for another connection's lock before SQLITE_BUSY. */
/** Negative: KiB, as SQLite reads it. */
const CACHE_KIB = -2000;
const BUSY_TIMEOUT_MS = 5000;

/**
 * The journal's SQLite file: opening it durable (WAL, synchronous=FULL) and bringing its schema up
 * to date. Nothing here knows about events or money; the concern modules run on what it opens.
 */

/**
 * Opens (creating if needed) the journal database, makes it durable and brings its schema up to
 * date. Throws an Error naming the file when it cannot be created or opened, is not a SQLite
 * database, or carries a schema newer than this code. `ctx.key` is needed when events written
 * before the hash chain must be sealed into it.
 */
export function openDatabase(path: string, ctx: MigrationContext = {}): Database {
  const file = resolve(path);
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (err) {
    throw new Error(`journal database ${file}: cannot create its folder ${dirname(file)}: ${messageOf(err)}`, {
      cause: err,
    });
  }

  let db: Database;
  try {
    db = new BetterSqlite3(file);
  } catch (err) {
    throw new Error(`journal database ${file}: cannot open: ${messageOf(err)}`, { cause: err });
  }

  try {
    configure(db, file);
    migrate(db, file, migrations, ctx);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Opens an existing journal for reading only: nothing is created, migrated or written. Its schema
 * must be the one this code knows, since reading relies on it. (SQLite may still create the
 * empty -wal/-shm side files a WAL reader needs; the database file itself is never touched.)
 */
export function openDatabaseReadOnly(path: string, version: number): Database {
  const file = resolve(path);
  if (!existsSync(file)) throw new Error(`journal database ${file} does not exist`);
  let db: Database;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`journal database ${file}: cannot open: ${messageOf(err)}`, { cause: err });
  }
  try {
    let current: number;
    try {
      current = db.pragma('user_version', { simple: true }) as number;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const what = code === 'SQLITE_NOTADB' ? 'is not a SQLite database' : 'cannot be read';
      throw new Error(`journal database ${file}: ${what}: ${messageOf(err)}`, { cause: err });
    }
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // After a rollback the older release reads a journal its successor migrated additively.
    const newer = current > version ? newerMigrations(db, version) : null;
    const additiveOnly = newer !== null && newer.length > 0 && newer.every((m) => m.additive === 1);
    if (current !== version && !additiveOnly) {
      const advice =
        current < version
          ? 'start the kiosk once so that it brings the journal up to date'
          : 'use the program version that wrote it';
      throw new Error(
        `journal database ${file}: schema version ${current}, but this program reads version ${version}; ${advice}`,
      );
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function configure(db: Database, file: string): void {
  let mode: unknown;
  try {
    // The first statement is where SQLite actually reads the header, so a foreign file fails here.
    mode = db.pragma('journal_mode = WAL', { simple: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const what = code === 'SQLITE_NOTADB' ? 'is not a SQLite database' : 'cannot be read';
    throw new Error(`journal database ${file}: ${what}: ${messageOf(err)}`, { cause: err });
  }
  if (mode !== 'wal') {
    throw new Error(`journal database ${file}: cannot switch to WAL mode (SQLite kept '${String(mode)}')`);
  }
  // In WAL mode the default NORMAL may lose the last commits on power loss; money facts may not.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // better-sqlite3 builds SQLite with a 16 MB page cache, which fills as the journal grows (a long
  // soak, a 100,000-message outbox drain) and stays resident; SQLite's own 2 MB is enough for
  // appends and indexed look-ups, and the OS caches the file anyway.
  db.pragma(`cache_size = ${CACHE_KIB}`);
}

/** Applies every migration above the file's user_version, each in its own transaction. */
export function migrate(db: Database, file: string, list: readonly Migration[], ctx: MigrationContext = {}): void {
  const known = list.reduce((v, m) => Math.max(v, m.version), 0);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > known) {
    // After a rollback: older code runs on a newer journal only when every migration it does not
    // know was recorded as additive (docs/updates.md).
    const unknown = newerMigrations(db, known);
    if (unknown !== null && unknown.length > 0 && unknown.every((m) => m.additive === 1)) return;
    throw new Error(
      `journal database ${file}: schema version ${current} is newer than this program knows (${known}) ` +
        `and ${unknown === null ? 'its migrations are not recorded as additive' : 'a migration above it is not additive'}; refusing to open it with older code`,
    );
  }
  const pending = [...list].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    // PRAGMA foreign_keys is a no-op inside a transaction, so it is switched around it.
    const keysWere = db.pragma('foreign_keys', { simple: true }) as number;
    if (m.rebuildsTables) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(m.sql);
        m.after?.(db, ctx);
        if (m.version >= SCHEMA_LOG_VERSION) {
          db.prepare('INSERT INTO schema_migrations (version, additive, applied_at) VALUES (?, ?, ?)').run(m.version, m.additive ? 1 : 0, new Date().toISOString());
        }
        if (m.rebuildsTables && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new Error('the rebuilt tables break a foreign key');
        }
        db.pragma(`user_version = ${m.version}`);
      })();
    } catch (err) {
      throw new Error(`journal database ${file}: migration ${m.version} failed: ${messageOf(err)}`, { cause: err });
    } finally {
      if (m.rebuildsTables) db.pragma(`foreign_keys = ${keysWere ? 'ON' : 'OFF'}`);
    }
  }
}

/** The recorded migrations above `known`, or null when the journal records none (older than the log). */
function newerMigrations(db: Database, known: number): { version: number; additive: number }[] | null {
  const hasLog = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!hasLog) return null;
  return db.prepare('SELECT version, additive FROM schema_migrations WHERE version > ? ORDER BY version').all(known) as { version: number; additive: number }[];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
