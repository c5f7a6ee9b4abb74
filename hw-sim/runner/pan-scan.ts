/**
 * Looks for card data where none may be: every file a card scenario leaves behind (the kiosk's
 * journal with its -wal and -shm, the runtime's log, the printed receipts, the reference server's
 * database). It does not look for known numbers but for anything shaped like one
 * (src/domain/card-number.ts): 13 to 19 digits starting 2 to 6 that pass the Luhn check, whole or
 * in groups split by spaces, dashes or line breaks (escaped ones too), and masked numbers showing
 * more than the first 6 and last 4 digits. Each file is read as it is (one byte a character, and
 * UTF-16 of either order), as HID keyboard reports (usage codes 0x1e..0x27 for the digits), and
 * through the decodings a careless write would use: hex, base64, and the decimal array pino writes
 * for a Buffer ([52,49,…]).
 *
 * It also looks for wallet payment codes (issue 17), single-use bearer tokens that may be kept only
 * masked: exactly 18 digits in one run (a leak writes the code as it came, not grouped) starting
 * like a wallet's code (10–15, 25–30, 62, and the simulator's unknown wallet 99), not touching a
 * letter or another digit, in all the same forms.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BREAK, LETTER, MASK, SEP, SKIP, findCardNumbers, textSymbol } from '../../src/domain/card-number.js';
import { SERVER_TEST_CARDS, TEST_CARDS, type TestCard } from '../devices/hid-card/reports.js';

export interface Finding {
  file: string;
  /** 'pan': a full card number; 'over-shown': a masked one showing more than 6 + 4 digits; 'wallet-code': a whole payment code. */
  what: 'pan' | 'over-shown' | 'wallet-code';
  /** How it was written: text, utf16, hid-usage, or a decoding (hex, base64, decimal-array) and then one of those. */
  form: string;
  /** Where in the file (for a decoded form, where the encoded run starts). */
  offset: number;
  /** The number as first 6 and last 4 digits (a wallet code: 2 and 4): the report never repeats the full number. */
  shown: string;
  /** The test card it is, when it is one. */
  card?: string;
}

/** Every test card the emulators and the reference server know, by name. */
export function allTestCards(): Record<string, TestCard> {
  return { ...TEST_CARDS, ...SERVER_TEST_CARDS };
}

interface Projection {
  symbols: Uint8Array;
  /** Offset of each symbol in the bytes it was made from. */
  at: Int32Array;
}

/** Bytes as text: one byte a character; a lone zero byte (UTF-16) is skipped, longer zero runs end a number. */
function textProjection(bytes: Uint8Array): Projection {
  const symbols = new Uint8Array(bytes.length);
  const at = new Int32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    at[i] = i;
    const b = bytes[i]!;
    if (b === 0) {
      symbols[i] = bytes[i - 1] === 0 ? BREAK : SKIP;
      continue;
    }
    // UTF-16's zero bytes are looked through for the neighbours too.
    const prev = bytes[i - 1] === 0 ? bytes[i - 2] : bytes[i - 1];
    const next = bytes[i + 1] === 0 ? bytes[i + 2] : bytes[i + 1];
    symbols[i] = textSymbol(b, prev, next);
  }
  return { symbols, at };
}

const REPORT = 8;
const SHIFTS = 0x22;
const USAGE_PERCENT = 0x22;
const USAGE_B = 0x05;

/** The symbol of one key of a boot-keyboard report, US layout. */
function usageSymbol(usage: number, shift: boolean, previous: { usage: number; shift: boolean } | undefined): number {
  if (!shift && usage >= 0x1e && usage <= 0x27) return (usage - 0x1d) % 10;
  if (usage >= 0x59 && usage <= 0x62) return (usage - 0x58) % 10;
  if (!shift && (usage === 0x2c || usage === 0x2d)) return SEP;
  if (shift && usage === USAGE_B && previous?.usage === USAGE_PERCENT && previous.shift) return BREAK;
  if (usage >= 0x04 && usage <= 0x1d) return LETTER;
  return BREAK;
}

/**
 * Bytes as boot-keyboard reports (8 bytes: modifiers, reserved, six keys) starting at `align`:
 * a key-down report gives its keys, a release (all zero) is skipped, anything else ends a number.
 */
function hidProjection(bytes: Uint8Array, align: number): Projection {
  const symbols: number[] = [];
  const at: number[] = [];
  let releases = 0;
  let previous: { usage: number; shift: boolean } | undefined;
  for (let r = align; r + REPORT <= bytes.length; r += REPORT) {
    const report = bytes.subarray(r, r + REPORT);
    if (report.every((b) => b === 0)) {
      // A key up between two keys; a long silence is not one swipe.
      symbols.push(++releases > 2 ? BREAK : SKIP);
      at.push(r);
      continue;
    }
    releases = 0;
    if (report[1] !== 0 || (report[0]! & ~SHIFTS) !== 0) {
      symbols.push(BREAK);
      at.push(r);
      previous = undefined;
      continue;
    }
    const shift = report[0] !== 0;
    for (let k = 2; k < REPORT; k++) {
      const usage = report[k]!;
      if (usage === 0) continue;
      symbols.push(usageSymbol(usage, shift, previous));
      at.push(r + k);
      previous = { usage, shift };
    }
  }
  return { symbols: Uint8Array.from(symbols), at: Int32Array.from(at) };
}

const WALLET_CODE_LENGTH = 18;

/** The first two digits of a wallet's payment code: 10–15 one wallet, 25–30 another, 62 UnionPay; 99 the simulator's unknown wallet. */
function walletPrefix(a: number, b: number): boolean {
  const p = a * 10 + b;
  return (p >= 10 && p <= 15) || (p >= 25 && p <= 30) || p === 62 || p === 99;
}

/** Runs of exactly 18 digits (skipped symbols aside) with a wallet's prefix, not touching a letter or a mask character. */
function findWalletCodes(symbols: Uint8Array): { at: number[]; symbols: number[] }[] {
  const hits: { at: number[]; symbols: number[] }[] = [];
  let before: number | undefined;
  let i = 0;
  while (i < symbols.length) {
    if (symbols[i]! > 9) {
      if (symbols[i] !== SKIP) before = symbols[i];
      i++;
      continue;
    }
    const at: number[] = [];
    let j = i;
    for (; j < symbols.length && (symbols[j]! <= 9 || symbols[j] === SKIP); j++) if (symbols[j] !== SKIP) at.push(j);
    const after = symbols[j];
    const digits = at.map((k) => symbols[k]!);
    const touching = (s: number | undefined) => s === LETTER || s === MASK;
    if (digits.length === WALLET_CODE_LENGTH && walletPrefix(digits[0]!, digits[1]!) && !touching(before) && !touching(after)) hits.push({ at, symbols: digits });
    before = after;
    i = j + 1;
  }
  return hits;
}

interface RawHit {
  what: Finding['what'];
  form: string;
  offset: number;
  digits: number[];
}

function hitsIn(bytes: Uint8Array, prefix: string, base: number | undefined): RawHit[] {
  const out: RawHit[] = [];
  const collect = (p: Projection, form: string): void => {
    for (const hit of findCardNumbers(p.symbols)) {
      const first = p.at[hit.at[0]!]!;
      const second = hit.at.length > 1 ? p.at[hit.at[1]!]! : first + 1;
      const shape = form === 'text' && second - first === 2 && bytes[first + 1] === 0 ? 'utf16' : form;
      out.push({ what: hit.kind, form: prefix ? `${prefix}/${shape}` : shape, offset: base ?? first, digits: hit.symbols });
    }
    for (const hit of findWalletCodes(p.symbols)) {
      const first = p.at[hit.at[0]!]!;
      const shape = form === 'text' && p.at[hit.at[1]!]! - first === 2 && bytes[first + 1] === 0 ? 'utf16' : form;
      out.push({ what: 'wallet-code', form: prefix ? `${prefix}/${shape}` : shape, offset: base ?? first, digits: hit.symbols });
    }
  };
  collect(textProjection(bytes), 'text');
  for (let align = 0; align < REPORT; align++) collect(hidProjection(bytes, align), 'hid-usage');
  return out;
}

/** The decoded forms a careless write would leave: hex, base64, and pino's decimal array of a Buffer. */
function decodedHits(text: string): RawHit[] {
  const out: RawHit[] = [];
  for (const m of text.matchAll(/[0-9a-fA-F]{26,}/g)) {
    for (const skew of [0, 1]) {
      const hex = m[0].slice(skew, skew + ((m[0].length - skew) & ~1));
      out.push(...hitsIn(Buffer.from(hex, 'hex'), 'hex', m.index! + skew));
    }
  }
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{20,}/g)) {
    for (let skew = 0; skew < 4; skew++) out.push(...hitsIn(Buffer.from(m[0].slice(skew), 'base64'), 'base64', m.index! + skew));
  }
  for (const m of text.matchAll(/\[\s*\d{1,3}(?:\s*,\s*\d{1,3}){12,}\s*\]/g)) {
    const values = m[0].slice(1, -1).split(',').map((v) => Number(v.trim()));
    if (values.every((v) => v <= 255)) out.push(...hitsIn(Uint8Array.from(values), 'decimal-array', m.index!));
  }
  return out;
}

/** Every card number in some bytes, in every form the scan knows. */
export function scanBytes(data: Uint8Array): Omit<Finding, 'file'>[] {
  const raw = [...hitsIn(data, '', undefined), ...decodedHits(Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1'))];
  const known = new Map(Object.entries(allTestCards()).map(([name, c]) => [c.pan, name]));
  const seen = new Set<string>();
  const out: Omit<Finding, 'file'>[] = [];
  for (const h of raw) {
    const lead = h.what === 'wallet-code' ? 2 : 6;
    const shown = h.digits.map((d, i) => (d === MASK ? '*' : i < lead || i >= h.digits.length - 4 ? String(d) : '*')).join('');
    const key = `${h.what} ${h.form} ${h.offset} ${shown}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const card = h.what === 'pan' ? known.get(h.digits.join('')) : undefined;
    out.push({ what: h.what, form: h.form, offset: h.offset, shown, ...(card ? { card } : {}) });
  }
  return out;
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

export function scanFile(path: string): Omit<Finding, 'file'>[] {
  return scanBytes(readFileSync(path));
}

/** Scans every file under `dir`; file names in the findings are relative to it. */
export function scanFolder(dir: string): { files: string[]; findings: Finding[] } {
  const files = filesUnder(dir);
  const findings = files.flatMap((f) => scanFile(f).map((x) => ({ file: relative(dir, f), ...x })));
  return { files: files.map((f) => relative(dir, f)), findings };
}
