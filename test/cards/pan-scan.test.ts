import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { runScenarioFile } from '../../hw-sim/runner/run.js';
import { allTestCards, scanBytes, scanFolder } from '../../hw-sim/runner/pan-scan.js';
import { keyboardReports, track1, track2 } from '../../hw-sim/devices/hid-card/reports.js';
import { maskCardNumbersInLines } from '../../src/domain/card-number.js';

// The positive controls of the card-data scan that test/scenarios/cards.test.ts runs after every
// card scenario: each shape a card number leaks in is found, the kiosk's own masked numbers and the
// other long numbers of its files are not, and a real scenario's files are clean until something
// is planted in copies of them.

const cards = allTestCards();
const visa = cards.visa!;
const found = (text: string | Buffer) => scanBytes(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
const forms = (text: string | Buffer) => new Set(found(text).map((f) => `${f.what} ${f.form} ${f.card ?? '-'}`));

t.test('every leak shape is found, named by its form and test card', async (t) => {
  const hid = Buffer.concat(keyboardReports(track2(visa)));
  const cases: [string, string | Buffer, string][] = [
    ['plain', `pan=${visa.pan};`, 'pan text visa'],
    ['spaces', 'card 5555 5555 5555 4444 ok', 'pan text mastercard'],
    ['dashes', 'card 5555-5555-5555-4444', 'pan text mastercard'],
    ['split across lines', 'number: 4000 0000\n    0000 0002\nnext line', 'pan text declined'],
    ['split across lines, Windows', '4000000000\r\n000002', 'pan text declined'],
    ['split across lines inside JSON', '{"msg":"4111 1111\\n1111 1111"}', 'pan text visa'],
    ['track 1', `raw ${track1(cards.amex!)}`, 'pan text amex'],
    ['track 2', `raw ${track2(cards.unionpay!)}`, 'pan text unionpay'],
    ['UTF-16LE', Buffer.from(`x ${visa.pan} y`, 'utf16le'), 'pan utf16 visa'],
    ['UTF-16BE', Buffer.from(`x ${visa.pan} y`, 'utf16le').swap16(), 'pan utf16 visa'],
    ['hex', `{"hex":"${Buffer.from(track2(visa)).toString('hex')}"}`, 'pan hex/text visa'],
    ['HEX', `{"hex":"${Buffer.from(track2(visa)).toString('hex').toUpperCase()}"}`, 'pan hex/text visa'],
    ['base64', `{"b64":"${Buffer.from(track2(visa)).toString('base64')}"}`, 'pan base64/text visa'],
    ['base64 inside a longer token', `token=xyz${Buffer.from(`;${visa.pan}=`).toString('base64')}`, 'pan base64/text visa'],
    ['pino Buffer', JSON.stringify({ msg: 'raw', data: { type: 'Buffer', data: [...Buffer.from(track2(visa))] } }), 'pan decimal-array/text visa'],
    ['HID reports as written', Buffer.concat([Buffer.from('header'), hid]), 'pan hid-usage visa'],
    ['HID reports as hex', `{"report":"${hid.toString('hex')}"}`, 'pan hex/hid-usage visa'],
    ['HID reports as a pino Buffer', JSON.stringify({ data: { type: 'Buffer', data: [...hid] } }), 'pan decimal-array/hid-usage visa'],
    ['HID reports as base64', hid.toString('base64'), 'pan base64/hid-usage visa'],
    ['more than 6 + 4 shown', 'card 4111111111**1111', 'over-shown text -'],
    ['more than 6 + 4 shown, grouped', 'card 4111 1111 11** 1111', 'over-shown text -'],
    ['7 leading digits', 'card 5555555*****4444', 'over-shown text -'],
  ];
  for (const [name, text, want] of cases) t.ok(forms(text).has(want), `${name}: ${want} (got ${[...forms(text)].join(', ') || 'nothing'})`);
});

t.test('what is not a card number is not reported', async (t) => {
  const clean: [string, string][] = [
    ['the kiosk masked numbers', '411111******1111 378282*****0005 625094******8599 400000******0002'],
    ['a masked number next to a time', 'card 411111******1111\n12:30 paid'],
    ['the wrong check digit', '4111111111111112 5555 5555 5555 4445'],
    ['millisecond timestamps', '{"time":1764000000000,"at":1764000012345}'],
    ['phone numbers', '13800138000 13900139011, 13800138001'],
    ['a hash', 'c0ffee4111111111111111111deadbeef0123456789abcdef'],
    ['a transaction id', '01a24e12-2fef-71db-81aa-a3be998460ff'],
    ['too short and too long', '411111111111 41111111111111111111111'],
  ];
  for (const [name, text] of clean) t.same(found(text), [], name);
});

t.test('a whole wallet payment code is found in every form; masked codes and other long numbers are not', async (t) => {
  const code = '134567890123456789';
  const hid = Buffer.concat(keyboardReports(code));
  const cases: [string, string | Buffer][] = [
    ['plain', `code=${code};`],
    ['in JSON', `{"msg":"charge","code":"${code}"}`],
    ['UTF-16LE', Buffer.from(`x ${code} y`, 'utf16le')],
    ['hex', `{"hex":"${Buffer.from(code).toString('hex')}"}`],
    ['base64', `{"b64":"${Buffer.from(code).toString('base64')}"}`],
    ['pino Buffer', JSON.stringify({ data: { type: 'Buffer', data: [...Buffer.from(code)] } })],
    ['HID reports as written', Buffer.concat([Buffer.from('header'), hid])],
  ];
  for (const [name, text] of cases) {
    const hits = found(text).filter((f) => f.what === 'wallet-code');
    t.equal(hits.length > 0 ? hits[0]!.shown : 'nothing', '13************6789', name);
  }
  for (const prefix of ['10', '15', '25', '30', '62', '99']) t.ok(found(`c ${prefix}1234567890123456 `).some((f) => f.what === 'wallet-code'), `prefix ${prefix}`);
  const clean: [string, string][] = [
    ['the kiosk masked code', 'code 13************6789 and 28************1234'],
    ['other prefixes', '201234567890123456 161234567890123456 311234567890123456 611234567890123456'],
    ['17 and 19 digits', '13456789012345678 1345678901234567890'],
    ['inside a hash', 'c0ffee134567890123456789deadbeef'],
    ['nanosecond clocks', '{"hr":1764000000000000000}'],
  ];
  for (const [name, text] of clean) t.same(found(text).filter((f) => f.what === 'wallet-code'), [], name);
});

t.test('terminal receipt lines: any card number is masked to 6 + 4, even across two lines', async (t) => {
  const { lines, found: n } = maskCardNumbersInLines(['SALE', `CARD ${visa.pan}`, 'PAN 5555 5555', '5555 4444', 'AID A0000000031010', 'TRACE 000123', 'SHOWN 4111111111**1111']);
  t.equal(n, 3);
  t.same(lines, ['SALE', 'CARD 411111******1111', 'PAN 5555 55**', '**** 4444', 'AID A0000000031010', 'TRACE 000123', 'SHOWN 411111******1111']);
  t.same(found(lines.join('\n')), [], 'the scan finds nothing left');
  const untouched = ['ZVT TERMINAL EMULATOR', 'TID 52523535', 'AMOUNT CNY 30.00', 'CARD 411111******1111'];
  t.same(maskCardNumbersInLines(untouched), { lines: untouched, found: 0 }, 'lines without a card number are kept as they are');
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

  cpSync(folder, copy, { recursive: true, filter: (src) => !src.endsWith('.sock') });
  // 1. A grouped number in a table of a copy of the journal, as a careless INSERT would leave it.
  const journal = new Database(join(copy, 'journal.db'));
  journal.exec('CREATE TABLE planted (v TEXT)');
  journal.prepare('INSERT INTO planted VALUES (?)').run(`card ${visa.pan.replace(/(\d{4})(?=\d)/g, '$1 ')}`);
  journal.close();
  // 2. Track 2 as pino writes a Buffer in the log; 3. track 1 as UTF-16 in a receipt.
  appendFileSync(join(copy, 'runtime.log'), `${JSON.stringify({ msg: 'raw report', data: { type: 'Buffer', data: [...Buffer.from(track2(cards.declined!))] } })}\n`);
  writeFileSync(join(copy, receipts[0]!), Buffer.from(`card: ${track1(cards.mastercard!)}`, 'utf16le'));
  // 4. A number only in the server database's write-ahead log, read while the writer holds it open.
  const host = new Database(join(copy, 'host.db'));
  host.pragma('journal_mode = WAL');
  host.pragma('wal_autocheckpoint = 0');
  host.exec('CREATE TABLE planted (v TEXT)');
  host.prepare('INSERT INTO planted VALUES (?)').run(`${cards.amex!.pan}`);
  t.ok(readdirSync(copy).includes('host.db-wal'), 'the server database has a write-ahead log');

  const planted = scanFolder(copy).findings;
  host.close();
  const summary = new Set(planted.map((f) => `${f.file} ${f.card} ${f.what} ${f.form}`));
  t.ok(summary.has('journal.db visa pan text'), 'the grouped number planted in the journal');
  t.ok(summary.has('runtime.log declined pan decimal-array/text'), 'track 2 as a pino Buffer in the log');
  t.ok(summary.has(`${receipts[0]} mastercard pan utf16`), 'track 1 as UTF-16 in a receipt');
  t.ok(summary.has('host.db-wal amex pan text'), "the number in the server database's WAL");
  t.same([...new Set(planted.map((f) => f.file))].sort(), ['host.db-wal', 'journal.db', 'runtime.log', receipts[0]].sort(), 'only the planted files');
  t.same(new Set(planted.map((f) => f.card)), new Set(['visa', 'declined', 'mastercard', 'amex']), 'only the planted cards');
  t.notOk(JSON.stringify(planted).includes(visa.pan), 'the report shows no full number');
});
