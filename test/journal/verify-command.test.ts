import t, { type Test } from 'tap';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import {
  Journal,
  journalVerifyCommand,
  latestVersion,
  loadOrCreateKey,
  migrate,
  migrations,
} from '../../src/journal/index.js';

function configIn(dir: string): Config {
  return parseConfig(
    { dataDir: dir, validator: { port: '/dev/null' }, server: { host: '127.0.0.1', port: 9 } },
    'test',
    dir,
  );
}

function run(config: Config, json: boolean): { ok: boolean; text: string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const ok = journalVerifyCommand({ config, json, out });
  return { ok, text };
}

/** A closed journal at the configured place with a few paid transactions. */
function writeJournal(t: Test): Config {
  const config = configIn(t.testdir());
  let tick = 0;
  const j = Journal.open(config.journal.path, {
    key: loadOrCreateKey(config.journal.keyFile),
    now: () => new Date(Date.UTC(2025, 0, 1, 8, 0, tick++)),
  });
  j.startTransaction('v-1', 'pay');
  j.noteEscrowed('v-1', { value: 10000, currency: 'CNY', code: 0x67 });
  j.noteStacked('v-1', { value: 10000, currency: 'CNY', code: 0x67 });
  j.settle('v-1', { endReason: 'paid' });
  j.receiptPrinted('v-1');
  j.close();
  return config;
}

/** What must not change when the journal is only read. */
function fingerprint(file: string): { mtimeMs: number; size: number; version: number } {
  const { mtimeMs, size } = statSync(file);
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return { mtimeMs, size, version: db.pragma('user_version', { simple: true }) as number };
  } finally {
    db.close();
  }
}

t.test('a sound journal: text and JSON reports, and the file is not touched', async (t) => {
  const config = writeJournal(t);
  const before = fingerprint(config.journal.path);

  const text = run(config, false);
  t.equal(text.ok, true);
  t.equal(
    text.text,
    [
      `journal ${config.journal.path}`,
      '  hash chain: intact, 6 events checked',
      '  money invariants: all hold',
      'journal verify: OK',
      '',
    ].join('\n'),
  );

  const json = run(config, true);
  t.equal(json.ok, true);
  t.equal(json.text.split('\n').length, 2, 'one line');
  t.same(JSON.parse(json.text), {
    ok: true,
    journal: config.journal.path,
    keyFile: config.journal.keyFile,
    chain: { ok: true, events: 6 },
    problems: [],
  });

  t.same(fingerprint(config.journal.path), before, 'mtime, size and user_version unchanged');
});

t.test('a broken journal: the first broken link with its seq, type and time', async (t) => {
  const config = writeJournal(t);
  const db = new BetterSqlite3(config.journal.path);
  db.exec('DROP TRIGGER events_no_update');
  db.prepare(`UPDATE events SET data = json_set(data, '$.note.value', 5000) WHERE type = 'note.stacked'`).run();
  db.prepare(`UPDATE cashbox SET value = 5000`).run();
  db.close();
  const before = fingerprint(config.journal.path);

  const text = run(config, false);
  t.equal(text.ok, false);
  t.match(text.text, /hash chain: BROKEN at event 3 \(note\.stacked, 2025-01-01T08:00:02\.000Z, transaction v-1\)/);
  t.match(text.text, /\n {4}edited: event 3 .* no longer matches its hash/);
  t.match(text.text, /money invariants: \d+ problem\(s\)\n {4}- transaction "v-1": cash in 10000 != stacked notes 5000/);
  t.match(text.text, /journal verify: FAILED\n$/);

  const json = run(config, true);
  t.equal(json.ok, false);
  const report = JSON.parse(json.text) as { ok: boolean; chain: unknown; problems: string[] };
  t.match(report, {
    ok: false,
    chain: { ok: false, seq: 3, problem: 'edited', event: { type: 'note.stacked', at: '2025-01-01T08:00:02.000Z', txnId: 'v-1' } },
  });
  t.ok(report.problems.length > 0);
  t.same(fingerprint(config.journal.path), before);
});

t.test('a deleted event is reported without a row to describe', async (t) => {
  const config = writeJournal(t);
  const db = new BetterSqlite3(config.journal.path);
  db.exec(`DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 2;`);
  db.close();
  const r = run(config, false);
  t.equal(r.ok, false);
  t.match(r.text, /hash chain: BROKEN at event 2 \(no longer in the journal\)\n {4}deleted: event 2 is missing/);
});

t.test('checked while the kiosk has the journal open', async (t) => {
  const config = writeJournal(t);
  const j = Journal.open(config.journal.path, { key: loadOrCreateKey(config.journal.keyFile) });
  t.teardown(() => j.close());
  j.append(null, 'operator.in-service', { by: 'li' });
  const r = run(config, true);
  t.equal(r.ok, true, r.text);
  t.match(JSON.parse(r.text), { chain: { ok: true, events: 7 } });
});

t.test('nothing is created: a missing journal, a missing key, an old schema', async (t) => {
  const config = configIn(t.testdir());
  const missing = run(config, false);
  t.equal(missing.ok, false);
  t.match(missing.text, /cannot be checked: journal key .* does not exist/);
  t.notOk(existsSync(config.journal.keyFile), 'no key made');

  loadOrCreateKey(config.journal.keyFile);
  const noJournal = run(config, true);
  t.equal(noJournal.ok, false);
  t.match(JSON.parse(noJournal.text), { ok: false, error: /journal database .* does not exist/ });
  t.notOk(existsSync(config.journal.path), 'no journal made');

  const old = new BetterSqlite3(config.journal.path);
  old.pragma('journal_mode = WAL');
  migrate(old, config.journal.path, migrations.filter((m) => m.version <= 2));
  old.close();
  const before = fingerprint(config.journal.path);
  const oldSchema = run(config, false);
  t.equal(oldSchema.ok, false);
  t.match(oldSchema.text, new RegExp(`schema version 2, but this program reads version ${latestVersion}; start the kiosk once`));
  t.same(fingerprint(config.journal.path), before, 'not migrated');

  writeFileSync(config.journal.keyFile, 'too short');
  t.match(run(config, false).text, /holds 9 bytes, expected 32/);
});

t.test('loadOrCreateKey makes a 0600 key once and then keeps it', async (t) => {
  const file = join(t.testdir(), 'secrets', 'journal.key');
  const a = loadOrCreateKey(file);
  t.equal(a.length, 32);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(loadOrCreateKey(file), a);
  t.notSame(loadOrCreateKey(join(t.testdir(), 'other.key')), a, 'random per terminal');
});
