import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { migrations, type Migration } from './migrations.js';

export type Database = BetterSqlite3.Database;

/** How long a writer waits for another connection's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) the journal database, makes it durable and brings its schema up to
 * date. Throws an Error naming the file when it cannot be created or opened, is not a SQLite
 * database, or carries a schema newer than this code.
 */
export function openDatabase(path: string): Database {
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
    migrate(db, file, migrations);
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
}

/** Applies every migration above the file's user_version, each in its own transaction. */
export function migrate(db: Database, file: string, list: readonly Migration[]): void {
  const known = list.reduce((v, m) => Math.max(v, m.version), 0);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > known) {
    throw new Error(
      `journal database ${file}: schema version ${current} is newer than this program knows (${known}); ` +
        'refusing to open it with older code',
    );
  }
  const pending = [...list].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    try {
      db.transaction(() => {
        db.exec(m.sql);
        db.pragma(`user_version = ${m.version}`);
      })();
    } catch (err) {
      throw new Error(`journal database ${file}: migration ${m.version} failed: ${messageOf(err)}`, { cause: err });
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
