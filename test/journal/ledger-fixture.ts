import type { Test } from 'tap';
import { join } from 'node:path';
import type { JournalEvent } from '../../src/journal/index.js';
import { Ledger } from '../../src/journal/ledger.js';
import { Outbox } from '../../src/journal/outbox.js';
import { openDatabase } from '../../src/journal/store.js';
import { testKey } from './keys.js';

/** A fresh store with its ledger, for testing one concern module on its own; `commits` records what the observer was told. */
export function ledger(t: Test): { l: Ledger; outbox: Outbox; commits: (readonly JournalEvent[])[] } {
  const db = openDatabase(join(t.testdir(), 'journal.db'), { key: testKey });
  t.teardown(() => db.close());
  const commits: (readonly JournalEvent[])[] = [];
  let tick = 0;
  const l = new Ledger(db, testKey, () => new Date(Date.UTC(2025, 0, 1, 12, 0, tick++)), (events) => commits.push(events));
  return { l, outbox: new Outbox(l), commits };
}

export const yuan = (value: number, code = 1) => ({ value, currency: 'CNY', code });
