/**
 * Looks for card data where none may be: every file a card scenario leaves behind (the kiosk's
 * journal with its -wal and -shm, the runtime's log, the printed receipts, the reference server's
 * database) is searched byte for byte for each test card's full number and track data, in the forms
 * a careless write would take: ASCII/UTF-8, UTF-16 (either byte order) and hex (either case). A
 * masked number (first 6 / last 4) never matches a full-number needle. (Packed BCD is left out: the
 * server's test numbers are mostly zeros, and zero runs fill SQLite pages.)
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SERVER_TEST_CARDS, TEST_CARDS, track1, track2, type TestCard } from '../devices/hid-card/reports.js';

export interface Needle {
  card: string;
  /** What it is: 'pan', 'track2', 'track1', … */
  what: string;
  form: 'ascii' | 'utf16le' | 'utf16be' | 'hex' | 'HEX';
  bytes: Buffer;
}

export interface Finding {
  file: string;
  card: string;
  what: string;
  form: Needle['form'];
  offset: number;
}

/** Every test card the emulators and the reference server know, by name. */
export function allTestCards(): Record<string, TestCard> {
  return { ...TEST_CARDS, ...SERVER_TEST_CARDS };
}

/** The sensitive strings of one card: its number, and its tracks whole and in the parts that identify them. */
function secrets(card: TestCard): [string, string][] {
  const t2 = track2(card);
  const t1 = track1(card);
  return [
    ['pan', card.pan],
    // Track 2 without its sentinels ("PAN=YYMM…"), and the separator form alone.
    ['track2', t2.slice(1, -1)],
    ['track2-pan-expiry', `${card.pan}=${card.expiry}`],
    ['track1', t1.slice(1, -1)],
    ['track1-pan', `B${card.pan}^`],
    ['track1-name', `^${card.name}^`],
  ];
}

function forms(text: string): [Needle['form'], Buffer][] {
  const ascii = Buffer.from(text, 'latin1');
  const utf16le = Buffer.from(text, 'utf16le');
  return [
    ['ascii', ascii],
    ['utf16le', utf16le],
    ['utf16be', Buffer.from(utf16le).swap16()],
    ['hex', Buffer.from(ascii.toString('hex'), 'latin1')],
    ['HEX', Buffer.from(ascii.toString('hex').toUpperCase(), 'latin1')],
  ];
}

export function needlesFor(cards: Record<string, TestCard> = allTestCards()): Needle[] {
  const needles: Needle[] = [];
  for (const [name, card] of Object.entries(cards)) {
    for (const [what, text] of secrets(card)) {
      for (const [form, bytes] of forms(text)) needles.push({ card: name, what, form, bytes });
    }
  }
  return needles;
}

/** Every regular file under `dir` (symbolic links, sockets and pty links are not followed). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    const st = lstatSync(path);
    if (st.isDirectory()) out.push(...filesUnder(path));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

export function scanFile(path: string, needles: readonly Needle[] = needlesFor()): Omit<Finding, 'file'>[] {
  const data = readFileSync(path);
  const found: Omit<Finding, 'file'>[] = [];
  for (const n of needles) {
    const offset = data.indexOf(n.bytes);
    if (offset >= 0) found.push({ card: n.card, what: n.what, form: n.form, offset });
  }
  return found;
}

/** Scans every file under `dir`; file names in the findings are relative to it. */
export function scanFolder(dir: string, needles: readonly Needle[] = needlesFor()): { files: string[]; findings: Finding[] } {
  const files = filesUnder(dir);
  const findings = files.flatMap((f) => scanFile(f, needles).map((x) => ({ file: relative(dir, f), ...x })));
  return { files: files.map((f) => relative(dir, f)), findings };
}
