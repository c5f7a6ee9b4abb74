#!/usr/bin/env node
// Counts the SQLite statements (BEGIN and COMMIT included) and HMACs that one two-note payment
// costs through the Journal API, as bench/journal.ts makes it: the work inside the commits,
// free of the disk's and the shared machine's noise. Run after `npm run build`.
//
//   node scripts/journal-statements.mjs [DIST_ROOT]   (default: this checkout)
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';

const root = resolve(process.argv[2] ?? '.');
let hmacs = 0;
const createHmac = crypto.createHmac;
crypto.createHmac = (...args) => {
  hmacs++;
  return createHmac(...args);
};
syncBuiltinESMExports();
const { Journal } = await import(pathToFileURL(join(root, 'dist/src/journal/index.js')).href);
// The benchmark's payment, from this checkout, run against DIST_ROOT's journal.
const { payment: benchPayment, NOTE } = await import(new URL('../dist/bench/journal.js', import.meta.url).href);

const Statement = new BetterSqlite3(':memory:').prepare('SELECT 1').constructor;
const calls = { run: 0, get: 0, all: 0, iterate: 0 };
for (const m of Object.keys(calls)) {
  const original = Statement.prototype[m];
  Statement.prototype[m] = function (...args) {
    calls[m]++;
    return original.apply(this, args);
  };
}
const reset = () => {
  for (const m of Object.keys(calls)) calls[m] = 0;
  hmacs = 0;
};
const total = () => Object.values(calls).reduce((a, b) => a + b, 0);

const dir = mkdtempSync(join(tmpdir(), 'kiosk-statements-'));
const journal = Journal.open(join(dir, 'journal.db'), { key: crypto.randomBytes(32) });
const payment = (id) => benchPayment(journal, id);
try {
  payment('warm-up');
  reset();
  payment('counted');
  console.log(`one payment (7 commits, 8 events): ${total()} statements ${JSON.stringify(calls)}, ${hmacs} HMACs`);
  journal.startTransaction('escrow', 'pay');
  reset();
  journal.noteEscrowed('escrow', NOTE);
  console.log(`noteEscrowed (the commit before Stack): ${total()} statements, ${hmacs} HMACs`);
} finally {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
}
