import { appendFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { runScenarioFile } from '../../hw-sim/runner/run.js';
import { allTestCards, needlesFor, scanFolder } from '../../hw-sim/runner/pan-scan.js';
import { track1, track2 } from '../../hw-sim/devices/hid-card/reports.js';

// The positive control of the card-data scan that test/scenarios/cards.test.ts runs after every
// card scenario: the same scan finds a card number or track planted in copies of a real
// scenario's files, in each form it looks for, and in a journal's write-ahead log.

const cards = allTestCards();
const visa = cards.visa!;
const declined = cards.declined!;

t.test('the needles: every test card, full number and tracks, never a masked number', async (t) => {
  const needles = needlesFor();
  t.same(new Set(needles.map((n) => n.card)), new Set(Object.keys(cards)), 'all scheme and server test cards');
  const ascii = needles.filter((n) => n.form === 'ascii').map((n) => n.bytes.toString('latin1'));
  t.ok(ascii.includes('4111111111111111'));
  t.ok(ascii.includes(track2(visa).slice(1, -1)), 'track 2 without its sentinels (PAN=YYMM…)');
  t.ok(ascii.includes(track1(visa).slice(1, -1)), 'track 1 without its sentinels (B…^NAME^YYMM…)');
  t.ok(ascii.includes('4000000000000002=3012'), "a server test card's PAN=YYMM");
  for (const masked of ['411111******1111', '400000******0002']) {
    t.notOk(
      needles.some((n) => Buffer.from(masked).includes(n.bytes)),
      `${masked} matches nothing`,
    );
  }
});

t.test('a real card scenario is clean, and the scan finds what is planted in copies of its files', async (t) => {
  const result = await runScenarioFile(join(process.cwd(), 'hw-sim', 'scenarios', '60-card-reader-approved.json'), true);
  t.same(result.failures, [], 'scenario 60 passes');
  const folder = result.folder!;
  const copy = mkdtempSync(join(tmpdir(), 'kiosk-pan-scan-'));
  t.teardown(() => {
    rmSync(folder, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  });

  const clean = scanFolder(folder);
  t.same(clean.findings, [], 'nothing in the files the scenario left');
  for (const f of ['journal.db', 'host.db', 'runtime.log']) t.ok(clean.files.includes(f), `${f} scanned`);
  const receipts = clean.files.filter((f) => f.startsWith('receipts/'));
  t.ok(receipts.length > 0, 'the receipts scanned');
  // The scan did look at real card payments: the masked number is there, the full one is not.
  const everything = Buffer.concat(clean.files.map((f) => readFileSync(join(folder, f))));
  t.ok(everything.includes('411111******1111'), 'the masked card number is in the files');
  t.notOk(everything.includes('4111111111111111'), 'the full one is not');

  cpSync(folder, copy, { recursive: true, filter: (src) => !src.endsWith('.sock') });
  // 1. A full number in a table of a copy of the journal, as a careless INSERT would leave it.
  const journal = new Database(join(copy, 'journal.db'));
  journal.exec('CREATE TABLE planted (v TEXT)');
  journal.prepare('INSERT INTO planted VALUES (?)').run(`card ${visa.pan}`);
  journal.close();
  // 2. Track 2 as hex in the log; 3. track 1 as UTF-16 in a receipt.
  appendFileSync(join(copy, 'runtime.log'), `{"msg":"raw report","hex":"${Buffer.from(track2(declined)).toString('hex')}"}\n`);
  writeFileSync(join(copy, receipts[0]!), Buffer.from(`card: ${track1(cards.mastercard!)}`, 'utf16le'));
  // 4. A number only in the server database's write-ahead log, read while the writer holds it open.
  const host = new Database(join(copy, 'host.db'));
  host.pragma('journal_mode = WAL');
  host.pragma('wal_autocheckpoint = 0');
  host.exec('CREATE TABLE planted (v TEXT)');
  host.prepare('INSERT INTO planted VALUES (?)').run(`${cards.amex!.pan}`);
  t.ok(readdirSync(copy).includes('host.db-wal'), 'the server database has a write-ahead log');

  const found = scanFolder(copy).findings;
  host.close();
  const summary = new Set(found.map((f) => `${f.file} ${f.card} ${f.what} ${f.form}`));
  t.ok(summary.has('journal.db visa pan ascii'), 'the number planted in the journal');
  t.ok(summary.has('runtime.log declined track2 hex'), 'track 2 as hex in the log');
  t.ok(summary.has('runtime.log declined track2-pan-expiry hex'), 'and its PAN=YYMM part');
  t.ok(summary.has(`${receipts[0]} mastercard track1 utf16le`), 'track 1 as UTF-16 in a receipt');
  t.ok(summary.has(`${receipts[0]} mastercard pan utf16le`), 'and the number in it');
  t.ok(summary.has('host.db-wal amex pan ascii'), "the number in the server database's WAL");
  const files = new Set(found.map((f) => f.file));
  t.same([...files].sort(), ['host.db-wal', 'journal.db', 'runtime.log', receipts[0]].sort(), 'only the planted files');
  t.same(
    new Set(found.map((f) => f.card)),
    new Set(['visa', 'declined', 'mastercard', 'amex']),
    'only the planted cards',
  );
});
