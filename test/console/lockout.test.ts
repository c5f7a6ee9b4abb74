import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Journal } from '../../src/journal/index.js';
import { ConsoleLockoutBook } from '../../src/runtime/console-lockout.js';

const key = Buffer.alloc(32, 9);
const settings = { engineers: [], maxFailures: 2, lockoutMs: 60_000, idleMs: 300_000 };

t.test("the service's lock-out survives a restart of the service and grows with each lock", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-lockout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'journal.db');
  let now = Date.parse('2026-03-01T10:00:00.000Z');
  const clock = () => now;

  let journal = Journal.open(file, { key });
  let book = new ConsoleLockoutBook(journal, settings, clock);
  t.match(book.handle('failed'), { lockedUntil: 0, lockMs: null });
  t.match(book.handle('failed'), { lockedUntil: now + 60_000, lockMs: 60_000 }, 'the first lock: lockoutMs');
  journal.close();

  // The service restarts (the process, so the book, is new): the lock is read back from the journal.
  now += 30_000;
  journal = Journal.open(file, { key });
  book = new ConsoleLockoutBook(journal, settings, clock);
  t.match(book.handle('check'), { lockedUntil: now + 30_000 }, 'still locked after the restart');

  now += 30_000;
  t.match(book.handle('check'), { lockedUntil: 0 }, 'open when the lock ran out');
  book.handle('failed');
  t.match(book.handle('failed'), { lockMs: 120_000 }, 'the second lock is twice as long');
  journal.close();

  journal = Journal.open(file, { key });
  book = new ConsoleLockoutBook(journal, settings, clock);
  now += 120_000;
  book.handle('failed');
  t.match(book.handle('failed'), { lockMs: 240_000 }, 'the escalation survived the restart too');
  now += 240_000;
  book.handle('success');
  book.handle('failed');
  t.match(book.handle('failed'), { lockMs: 60_000 }, 'a good login starts again from the first length');
  t.equal(journal.verify().length, 0, 'the lock-out events are part of the chained journal');
  journal.close();
});
