/**
 * Finding card numbers in text the kiosk did not write itself (a terminal's receipt lines) and in
 * whatever a leak scan reads: runs of 13 to 19 digits, in groups split by spaces, dashes or line
 * breaks, that start like a payment card (2 to 6) and pass the Luhn check; and masked numbers that
 * show more than the first 6 and the last 4 digits. Pure code over a stream of symbols, so that the
 * same rules apply to text, UTF-16, HID usage codes or anything else a caller projects.
 */

/** Symbols 0 to 9 are digits. */
export const MASK = 10;
/** Space, dash, tab, line break: may split a number into groups. */
export const SEP = 11;
/** Skipped entirely (the zero byte of UTF-16, a key release). */
export const SKIP = 12;
/** A letter: a digit run touching one is part of a word or a hash, not a number. */
export const LETTER = 13;
export const BREAK = 14;

const MIN = 13;
const MAX = 19;
/** The longest run of separators between two groups of one number (a line break and an indent). */
const MAX_SEPARATORS = 8;

export interface CardNumberHit {
  /** 'pan': a full, Luhn-valid card number; 'over-shown': masked, but showing more than 6 + 4 digits. */
  kind: 'pan' | 'over-shown';
  /** Index in the symbol stream of each digit or mask character of the number, in order. */
  at: number[];
  /** Its digits, masked characters as MASK. */
  symbols: number[];
}

/** ISO/IEC 7812 check digit over digit values. */
export function luhn(digits: readonly number[]): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i]!;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** The symbol of one character code of text (ASCII, Latin-1, UTF-16 code units). */
export function textSymbol(code: number, previous: number | undefined, next: number | undefined): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code === 0x2a || code === 0x58) return MASK; // * and X
  if (code === 0x20 || code === 0x2d || code === 0x09 || code === 0x0a || code === 0x0d) return SEP;
  // An escaped line break inside a JSON string ("\n"): the backslash and its letter.
  if (code === 0x5c && (next === 0x6e || next === 0x72 || next === 0x74)) return SEP;
  if ((code === 0x6e || code === 0x72 || code === 0x74) && previous === 0x5c) return SEP;
  // Track 1's format code: "%B" before the number.
  if (code === 0x42 && previous === 0x25) return BREAK;
  if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) return LETTER;
  return BREAK;
}

/** The symbols of a string, one per UTF-16 code unit. */
export function textSymbols(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    out[i] = textSymbol(text.charCodeAt(i), i > 0 ? text.charCodeAt(i - 1) : undefined, text.charCodeAt(i + 1) || undefined);
  }
  return out;
}

interface Group {
  at: number[];
  symbols: number[];
}

const isItem = (s: number): boolean => s <= MASK;

/** Every card number, full or over-shown, in a stream of symbols. */
export function findCardNumbers(symbols: ArrayLike<number>): CardNumberHit[] {
  const hits: CardNumberHit[] = [];
  const n = symbols.length;
  let i = 0;
  let lastSolid: number | undefined;
  while (i < n) {
    const s = symbols[i]!;
    if (!isItem(s)) {
      if (s !== SKIP) lastSolid = s;
      i++;
      continue;
    }
    const startTainted = lastSolid === LETTER;
    const groups: Group[] = [];
    let current: Group = { at: [], symbols: [] };
    let separators = 0;
    let j = i;
    for (; j < n; j++) {
      const x = symbols[j]!;
      if (isItem(x)) {
        if (separators > 0 && current.at.length > 0) {
          groups.push(current);
          current = { at: [], symbols: [] };
        }
        separators = 0;
        current.at.push(j);
        current.symbols.push(x);
      } else if (x === SEP) {
        if (++separators > MAX_SEPARATORS) break;
      } else if (x !== SKIP) {
        break;
      }
    }
    groups.push(current);
    const endTainted = separators === 0 && j < n && symbols[j] === LETTER;
    evaluate(groups, startTainted, endTainted, hits);
    lastSolid = j < n ? symbols[j] : undefined;
    i = j + 1;
  }
  return hits;
}

function evaluate(groups: Group[], startTainted: boolean, endTainted: boolean, hits: CardNumberHit[]): void {
  const windows: { a: number; b: number; symbols: number[] }[] = [];
  for (let a = 0; a < groups.length; a++) {
    if (a === 0 && startTainted) continue;
    let length = 0;
    for (let b = a; b < groups.length; b++) {
      length += groups[b]!.at.length;
      if (length > MAX) break;
      if (length < MIN || (b === groups.length - 1 && endTainted)) continue;
      windows.push({ a, b, symbols: groups.slice(a, b + 1).flatMap((g) => g.symbols) });
    }
  }
  // A properly masked number next to other digits (a time, an amount) is not an over-shown one.
  const proper = windows.filter((w) => maskedShape(w.symbols) === 'proper');
  for (const w of windows) {
    let kind: CardNumberHit['kind'] | undefined;
    if (!w.symbols.includes(MASK)) {
      const first = w.symbols[0]!;
      if (first >= 2 && first <= 6 && luhn(w.symbols)) kind = 'pan';
    } else if (maskedShape(w.symbols) === 'over-shown' && !proper.some((p) => p.a >= w.a && p.b <= w.b)) {
      kind = 'over-shown';
    }
    if (kind) hits.push({ kind, at: groups.slice(w.a, w.b + 1).flatMap((g) => g.at), symbols: w.symbols });
  }
}

/** A masked number: at most the first 6 and the last 4 digits shown ('proper'), or more. */
function maskedShape(symbols: number[]): 'proper' | 'over-shown' | undefined {
  if (symbols[0] === MASK || symbols[symbols.length - 1] === MASK) return undefined;
  const leading = symbols.indexOf(MASK);
  const trailing = symbols.length - 1 - symbols.lastIndexOf(MASK);
  const shown = symbols.filter((s) => s !== MASK).length;
  return leading > 6 || trailing > 4 || shown > 10 ? 'over-shown' : 'proper';
}

/**
 * The lines with every card number found in them (even one split over two lines) masked to its
 * first 6 and last 4 digits, and how many were found.
 */
export function maskCardNumbersInLines(lines: readonly string[]): { lines: string[]; found: number } {
  const text = lines.join('\n');
  const hits = findCardNumbers(textSymbols(text));
  if (hits.length === 0) return { lines: [...lines], found: 0 };
  // By UTF-16 code unit, as the symbols are.
  const chars = text.split('');
  for (const hit of hits) {
    const digits = hit.at.filter((_, k) => hit.symbols[k] !== MASK);
    const keep = new Set([...digits.slice(0, 6), ...digits.slice(-4)]);
    for (const at of digits) if (!keep.has(at)) chars[at] = '*';
  }
  return { lines: chars.join('').split('\n'), found: hits.length };
}
