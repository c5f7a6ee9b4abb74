import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { Journal, migrate, migrations } from '../../src/journal/index.js';
import { SCHEMA_LOG_VERSION, type Migration } from '../../src/journal/migrations.js';
import { additiveFrom } from '../../hw-sim/release/pack.js';
import { platformMismatch, thisPlatform } from '../../src/update/manifest.js';

// Issue 19, item 3: the journal after a rollback. Release B migrated the journal; release A (which
// does not know B's migrations) runs on it again only when every migration it does not know was
// recorded as additive, and refuses to open it otherwise. The money A wrote before and B wrote
// after is all there for A. An update whose migrations would strand A is refused before install.

const dir = mkdtempSync(join(tmpdir(), 'kiosk-schema-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const key = Buffer.alloc(32, 7);

const additiveB: Migration = { version: 50, additive: true, sql: 'CREATE TABLE b_extra (id INTEGER PRIMARY KEY, note TEXT);' };
const destructiveB: Migration = { version: 50, sql: 'ALTER TABLE transactions RENAME TO transactions_old; CREATE TABLE transactions AS SELECT * FROM transactions_old;' };

for (const [name, migration, aRuns] of [
  ['additive', additiveB, true],
  ['not additive', destructiveB, false],
] as const) {
  t.test(`B's migration ${name}: A ${aRuns ? 'runs on the migrated journal, every event kept' : 'refuses to open it (nothing lost: the file is untouched)'}`, async (t) => {
    const file = join(dir, `${name.replace(' ', '-')}.db`);
    // A: the journal at this tree's schema, one transaction open.
    const a = Journal.open(file, { key });
    a.append(null, 'operator.out-of-service', { by: 'A', reason: 'before the update' });
    a.close();
    // B: its own migration on top, and an event of its own.
    const db = new BetterSqlite3(file);
    migrate(db, file, [...migrations, migration]);
    t.equal(db.pragma('user_version', { simple: true }), 50);
    t.same(db.prepare('SELECT version, additive FROM schema_migrations WHERE version = 50').get(), { version: 50, additive: migration.additive ? 1 : 0 });
    const events = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    db.close();
    // Rolled back: A opens it again with its own migrations.
    if (aRuns) {
      const again = Journal.open(file, { key });
      t.equal(again.schemaVersion(), 50);
      again.append(null, 'operator.in-service', { by: 'A' });
      const db2 = new BetterSqlite3(file, { readonly: true });
      t.equal((db2.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, events + 1, 'every event kept, and A writes on');
      db2.close();
      t.ok(again.verifyChain().ok, 'the chain is whole');
      again.close();
      const ro = Journal.openReadOnly(file, { key });
      t.ok(ro.verifyChain().ok, '`kiosk journal verify` (read-only) reads it too');
      ro.close();
    } else {
      t.throws(() => Journal.open(file, { key }), /newer than this program knows .* not additive/);
      t.throws(() => Journal.openReadOnly(file, { key }), /schema version 50, but this program reads/);
    }
  });
}

t.test('this tree records its own migrations from the schema log on', async (t) => {
  const file = join(dir, 'fresh.db');
  Journal.open(file, { key }).close();
  const db = new BetterSqlite3(file, { readonly: true });
  const rows = db.prepare('SELECT version, additive FROM schema_migrations').all() as { version: number }[];
  t.ok(rows.some((r) => r.version === SCHEMA_LOG_VERSION));
  db.close();
});

t.test('a bundle whose migrations would strand the running release is refused before install', async (t) => {
  const facts = { name: 'kiosk' as const, version: '2', ...thisPlatform(), minSchema: 0, targetSchema: 50, additiveFrom: additiveFrom([...migrations, destructiveB]) };
  t.equal(facts.additiveFrom, 50);
  t.match(platformMismatch(facts, 10), /not declared additive/);
  t.equal(platformMismatch({ ...facts, additiveFrom: additiveFrom([...migrations, additiveB]) }, 10), null);
});
