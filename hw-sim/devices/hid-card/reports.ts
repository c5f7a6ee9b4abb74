/**
 * What a magnetic stripe reader sends for a test card: the ISO 7813 tracks, typed as boot-keyboard
 * reports (keyboard wedge) or packed in a MagTek-style 337-byte vendor report, with the faults of real
 * swipes. Deliberately independent of drivers/hid-card so that a mistake on one side cannot hide in the other.
 */
import { randomInt } from 'node:crypto';

export interface TestCard {
  pan: string;
  /** SURNAME/FIRST as on track 1. */
  name: string;
  /** YYMM. */
  expiry: string;
  serviceCode: string;
  discretionary: string;
}

/** Well-known test numbers of the schemes (they pass the check digit and are never issued). */
export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  visa: { pan: '4111111111111111', name: 'TEST/VISA', expiry: '3012', serviceCode: '101', discretionary: '000000123000' },
  mastercard: { pan: '5555555555554444', name: 'TEST/MASTERCARD', expiry: '2911', serviceCode: '201', discretionary: '00000000' },
  amex: { pan: '378282246310005', name: 'TEST/AMEX', expiry: '2807', serviceCode: '101', discretionary: '1234' },
  unionpay: { pan: '6250941006528599', name: 'TEST/UNIONPAY', expiry: '3105', serviceCode: '220', discretionary: '0000' },
};

/**
 * The reference server's test card numbers (hw-sim/host/card-authorisation.ts TEST_PANS), by the
 * answer they get under its default 'by-card' mode, so that a scenario can `swipe declined`. Kept
 * apart from TEST_CARDS, whose four scheme cards the driver tests read back one by one.
 */
export const SERVER_TEST_CARDS: Readonly<Record<string, TestCard>> = {
  declined: { pan: '4000000000000002', name: 'TEST/DECLINED', expiry: '3012', serviceCode: '101', discretionary: '000000000' },
  'insufficient-funds': { pan: '4000000000009995', name: 'TEST/NOFUNDS', expiry: '3012', serviceCode: '101', discretionary: '000000000' },
  'auth-timeout': { pan: '4000000000000119', name: 'TEST/TIMEOUT', expiry: '3012', serviceCode: '101', discretionary: '000000000' },
  'drop-after-approve': { pan: '4000000000000259', name: 'TEST/DROP', expiry: '3012', serviceCode: '101', discretionary: '000000000' },
  'bad-answer': { pan: '4000000000000341', name: 'TEST/BADANSWER', expiry: '3012', serviceCode: '101', discretionary: '000000000' },
};

/** A test card by name, from either list. */
export function testCard(name: string): TestCard | undefined {
  return Object.hasOwn(TEST_CARDS, name) ? TEST_CARDS[name] : Object.hasOwn(SERVER_TEST_CARDS, name) ? SERVER_TEST_CARDS[name] : undefined;
}

export const FAULTS = ['none', 'garbage', 'missing-sentinel', 'bad-lrc', 'too-fast'] as const;
export type Fault = (typeof FAULTS)[number];

/** LRC of a track: xor of the characters' data bits (6 on track 1, 4 on track 2) from sentinel to sentinel. */
export function lrcChar(track: 1 | 2, text: string): string {
  const offset = track === 1 ? 32 : 48;
  let x = 0;
  for (let i = 0; i < text.length; i++) x ^= text.charCodeAt(i) - offset;
  return String.fromCharCode(offset + x);
}

export function track1(card: TestCard): string {
  return `%B${card.pan}^${card.name}^${card.expiry}${card.serviceCode}${card.discretionary}?`;
}

export function track2(card: TestCard): string {
  return `;${card.pan}=${card.expiry}${card.serviceCode}${card.discretionary}?`;
}

/** A wrong LRC of the same character set: one data bit flipped. */
function wrongLrc(track: 1 | 2, text: string): string {
  return String.fromCharCode(lrcChar(track, text).charCodeAt(0) ^ 1);
}

function garbage(length: number): string {
  const set = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789 ';
  let s = '';
  for (let i = 0; i < length; i++) s += set[randomInt(set.length)];
  return s;
}

/** The two tracks as the reader would present them, with the fault applied. */
export function presentedTracks(card: TestCard, fault: Fault, withLrc: boolean): [string, string] {
  const t1 = track1(card);
  const t2 = track2(card);
  switch (fault) {
    case 'none':
      return withLrc ? [t1 + lrcChar(1, t1), t2 + lrcChar(2, t2)] : [t1, t2];
    case 'garbage':
      return [garbage(30), garbage(20)];
    case 'missing-sentinel':
      return [t1.slice(1), t2.slice(1)];
    case 'bad-lrc':
      return [t1 + wrongLrc(1, t1), t2 + wrongLrc(2, t2)];
    case 'too-fast':
      return [t1.slice(0, 12), t2.slice(0, 9)];
  }
}

// ------------------------------------------------------------------------------ keyboard wedge

const LEFT_SHIFT = 0x02;

/** Key usage and shift for one character, US layout. */
function key(char: string): [number, boolean] {
  const c = char.charCodeAt(0);
  if (c >= 0x61 && c <= 0x7a) return [0x04 + c - 0x61, false];
  if (c >= 0x41 && c <= 0x5a) return [0x04 + c - 0x41, true];
  if (c >= 0x31 && c <= 0x39) return [0x1e + c - 0x31, false];
  const table: Record<string, [number, boolean]> = {
    '0': [0x27, false],
    ' ': [0x2c, false],
    '!': [0x1e, true],
    '@': [0x1f, true],
    '#': [0x20, true],
    $: [0x21, true],
    '%': [0x22, true],
    '^': [0x23, true],
    '&': [0x24, true],
    '*': [0x25, true],
    '(': [0x26, true],
    ')': [0x27, true],
    '-': [0x2d, false],
    _: [0x2d, true],
    '=': [0x2e, false],
    '+': [0x2e, true],
    '[': [0x2f, false],
    ']': [0x30, false],
    '\\': [0x31, false],
    ';': [0x33, false],
    ':': [0x33, true],
    "'": [0x34, false],
    '"': [0x34, true],
    ',': [0x36, false],
    '<': [0x36, true],
    '.': [0x37, false],
    '>': [0x37, true],
    '/': [0x38, false],
    '?': [0x38, true],
  };
  const k = table[char];
  if (!k) throw new RangeError(`no key types ${JSON.stringify(char)}`);
  return k;
}

const RELEASE = Buffer.alloc(8);

/** Press and release of each character, then Enter: what a keyboard-wedge reader sends. */
export function keyboardReports(text: string): Buffer[] {
  const reports: Buffer[] = [];
  for (const char of text) {
    const [usage, shift] = key(char);
    reports.push(Buffer.from([shift ? LEFT_SHIFT : 0, 0, usage, 0, 0, 0, 0, 0]), RELEASE);
  }
  reports.push(Buffer.from([0, 0, 0x28, 0, 0, 0, 0, 0]), RELEASE);
  return reports;
}

// ------------------------------------------------------------------------------ vendor report

const REPORT_SIZE = 337;
const FIELD = 110;

/** One MagTek-style report: decode statuses, lengths, encode type, then three 110-byte track fields. */
export function vendorReport(card: TestCard, fault: Fault, withLrc: boolean): Buffer {
  const report = Buffer.alloc(REPORT_SIZE);
  if (fault === 'too-fast') {
    // A swipe too fast for the reader's decoder: it flags both tracks as not decoded.
    report[0] = 1;
    report[1] = 1;
    report[6] = 0;
    return report;
  }
  const [t1, t2] = presentedTracks(card, fault, withLrc);
  for (const [i, text] of [t1, t2].entries()) {
    const bytes = Buffer.from(text, 'latin1').subarray(0, FIELD);
    report[3 + i] = bytes.length;
    bytes.copy(report, 7 + i * FIELD);
  }
  report[6] = fault === 'garbage' ? 5 : 0;
  return report;
}
