import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Journal } from '../../src/journal/index.js';
import { testKey } from './keys.js';

// Issue 20, item 1: SQLite checkpoints the WAL inside whichever commit crosses 1,000 pages, so that
// commit (a note in escrow) also writes and fsyncs the database file. The runtime's journal moves
// the checkpoint to a quiet moment after the commits instead.

const BLOB = 'x'.repeat(40_000);
const mainBytes = (path: string) => statSync(path).size;

async function until(what: string, ok: () => boolean, withinMs = 10_000): Promise<void> {
  const end = Date.now() + withinMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('no commit checkpoints the WAL, however long it grew; the quiet moment after them does', async (t) => {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey, quietCheckpoint: { afterCommits: 1, quietMs: 20, forceAfterCommits: 10_000 } });
  t.teardown(() => j.close());
  // The migrations' own pages reach the file first.
  await new Promise((r) => setTimeout(r, 50));
  const before = mainBytes(path);
  // About 10 pages a commit: 150 commits are well past SQLite's 1,000-page checkpoint.
  for (let i = 0; i < 150; i++) j.append(null, 'device.test', { device: 'printer', ok: true, blob: BLOB });
  t.ok(statSync(`${path}-wal`).size > 1000 * 4096, 'the WAL holds more than 1,000 pages');
  t.equal(mainBytes(path), before, 'no commit copied the WAL into the database file');
  await until('the quiet checkpoint', () => mainBytes(path) > before + 100 * 4096);
  t.pass('the quiet moment after the commits checkpointed');
  t.same(j.verify(), [], 'the journal is whole');
});

t.test('a journal that is never quiet is still checkpointed after forceAfterCommits', async (t) => {
  const path = join(t.testdir(), 'journal.db');
  const j = Journal.open(path, { key: testKey, quietCheckpoint: { afterCommits: 1, quietMs: 60_000, forceAfterCommits: 120 } });
  t.teardown(() => j.close());
  await new Promise((r) => setTimeout(r, 50));
  const before = mainBytes(path);
  for (let i = 0; i < 119; i++) j.append(null, 'device.test', { device: 'printer', ok: true, blob: BLOB });
  t.equal(mainBytes(path), before, 'not before the limit');
  j.append(null, 'device.test', { device: 'printer', ok: true, blob: BLOB });
  t.ok(mainBytes(path) > before + 100 * 4096, 'at the limit, within that commit');
});
