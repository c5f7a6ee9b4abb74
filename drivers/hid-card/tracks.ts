/**
 * Pure parsing of magnetic stripe tracks (ISO/IEC 7811-2 encoding, ISO/IEC 7813 layout of financial
 * cards), on bytes: no string ever holds card data, so the caller can zero every buffer afterwards.
 *
 *   track 1: % B PAN(12..19) ^ NAME(2..26) ^ YYMM SSS discretionary ? [LRC]   at most 79 characters
 *   track 2: ; PAN(12..19) = YYMM SSS discretionary ? [LRC]                    at most 40 characters
 *
 * The LRC is the exclusive-or of the data bits of every character from the start sentinel to the end
 * sentinel (6 bits on track 1, 4 bits on track 2), shown as a character of the track's own set. Most
 * readers strip it; when a character follows the end sentinel that is not the next track's start
 * sentinel, it is the LRC and must match. Errors never quote card data, only positions and lengths.
 */
import type { BadReadReason } from '../types.js';

export class TrackError extends Error {
  constructor(
    readonly reason: BadReadReason,
    message: string,
  ) {
    super(message);
  }
}

const PERCENT = 0x25; // track 1 start sentinel
const SEMICOLON = 0x3b; // track 2 (and 3) start sentinel
const QUESTION = 0x3f; // end sentinel
const CARET = 0x5e; // track 1 field separator
const EQUALS = 0x3d; // track 2 field separator
const FORMAT_B = 0x42;
/** A reader's own marker for a track it could not read (MagTek keyboard readers send %E? or ;E?). */
const ERROR_MARK = 0x45;

const TRACK1_MAX = 79;
const TRACK2_MAX = 40;
const PAN_MIN = 12;
const PAN_MAX = 19;
const NAME_MIN = 2;
const NAME_MAX = 26;
/** SS, format code, shortest PAN, FS, shortest name, FS, YYMM, service code, ES. */
const TRACK1_MIN = 1 + 1 + PAN_MIN + 1 + NAME_MIN + 1 + 4 + 3 + 1;
/** SS, shortest PAN, FS, YYMM, service code, ES. */
const TRACK2_MIN = 1 + PAN_MIN + 1 + 4 + 3 + 1;

export interface Track1 {
  /** Start sentinel to end sentinel, LRC excluded. */
  raw: Buffer;
  pan: Buffer;
  name: Buffer;
  expiry: Buffer;
  serviceCode: Buffer;
  /** Whether an LRC followed and was checked. */
  lrcChecked: boolean;
}

export interface Track2 {
  raw: Buffer;
  pan: Buffer;
  expiry: Buffer;
  serviceCode: Buffer;
  lrcChecked: boolean;
}

/** The card data of one swipe. The buffers are fresh copies the caller owns. */
export interface CardData {
  pan: Buffer;
  expiry: Buffer;
  serviceCode: Buffer;
  track1: Track1 | undefined;
  track2: Track2 | undefined;
}

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
/** Track 1 uses the 6-bit set 0x20..0x5F. */
const inTrack1Set = (b: number): boolean => b >= 0x20 && b <= 0x5f;
/** Track 2 uses the 4-bit set 0x30..0x3F. */
const inTrack2Set = (b: number): boolean => b >= 0x30 && b <= 0x3f;

/** The LRC character of a track from its start sentinel to its end sentinel. */
export function trackLrc(track: 1 | 2, sentinelToSentinel: Uint8Array): number {
  const base = track === 1 ? 0x20 : 0x30;
  let lrc = 0;
  for (const b of sentinelToSentinel) lrc ^= b - base;
  return (lrc & (track === 1 ? 0x3f : 0x0f)) + base;
}

/** ISO/IEC 7812 check digit over ASCII digits. */
export function luhnValid(digits: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i]! - 0x30;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

function fail(reason: BadReadReason, track: 1 | 2, what: string): never {
  throw new TrackError(reason, `track ${track}: ${what}`);
}

function copy(bytes: Uint8Array, from: number, to: number): Buffer {
  return Buffer.from(bytes.subarray(from, to));
}

function checkExpiry(track: 1 | 2, bytes: Uint8Array, at: number): void {
  for (let i = at; i < at + 7; i++) if (!isDigit(bytes[i]!)) fail('bad-format', track, `expiry and service code must be 7 digits at ${at}`);
  const month = (bytes[at + 2]! - 0x30) * 10 + (bytes[at + 3]! - 0x30);
  if (month < 1 || month > 12) fail('bad-format', track, 'expiry month out of range');
}

function checkPan(track: 1 | 2, pan: Uint8Array): void {
  if (pan.length < PAN_MIN || pan.length > PAN_MAX) fail('bad-format', track, `card number of ${pan.length} digits`);
  for (const b of pan) if (!isDigit(b)) fail('bad-format', track, 'card number with a non-digit');
  if (!luhnValid(pan)) fail('bad-pan', track, 'card number check digit wrong');
}

/**
 * Checks the framing shared by both tracks and returns the position of the end sentinel.
 * `bytes` is one track: start sentinel first, then data, the end sentinel, and at most the LRC.
 */
function frame(track: 1 | 2, bytes: Uint8Array): { end: number; lrcChecked: boolean } {
  const start = track === 1 ? PERCENT : SEMICOLON;
  const max = track === 1 ? TRACK1_MAX : TRACK2_MAX;
  const min = track === 1 ? TRACK1_MIN : TRACK2_MIN;
  const inSet = track === 1 ? inTrack1Set : inTrack2Set;
  if (bytes.length === 0) fail('empty', track, 'no data');
  if (bytes[0] !== start) fail('no-start-sentinel', track, 'no start sentinel');
  if (bytes.length === 3 && bytes[1] === ERROR_MARK && bytes[2] === QUESTION) fail('device-error', track, 'the reader marked it unreadable');
  const end = bytes.indexOf(QUESTION, 1);
  if (end < 0) {
    if (bytes.length < min) fail('too-short', track, `${bytes.length} characters and no end sentinel (swipe too fast?)`);
    fail('no-end-sentinel', track, `no end sentinel after ${bytes.length} characters`);
  }
  for (let i = 1; i < end; i++) if (!inSet(bytes[i]!)) fail('bad-character', track, `character outside the track's set at ${i}`);
  if (bytes.length > end + 2) fail('too-long', track, `${bytes.length - end - 1} characters after the end sentinel`);
  // The maximum counts the LRC, present or not.
  if (end + 2 > max) fail('too-long', track, `${end + 1} characters`);
  if (end + 1 < min) fail('too-short', track, `${end + 1} characters (swipe too fast?)`);
  if (bytes.length === end + 2) {
    if (!inSet(bytes[end + 1]!)) fail('bad-character', track, 'LRC outside the set');
    if (bytes[end + 1] !== trackLrc(track, bytes.subarray(0, end + 1))) fail('bad-lrc', track, 'LRC does not match');
    return { end, lrcChecked: true };
  }
  return { end, lrcChecked: false };
}

/** One track 1, from its start sentinel to its end sentinel or LRC. Throws TrackError. */
export function parseTrack1(bytes: Uint8Array): Track1 {
  const { end, lrcChecked } = frame(1, bytes);
  if (bytes[1] !== FORMAT_B) fail('bad-format', 1, 'format code is not B');
  const fs1 = bytes.indexOf(CARET, 2);
  if (fs1 < 0 || fs1 > end) fail('bad-format', 1, 'no field separator after the card number');
  const fs2 = bytes.indexOf(CARET, fs1 + 1);
  if (fs2 < 0 || fs2 > end) fail('bad-format', 1, 'no field separator after the name');
  const nameLength = fs2 - fs1 - 1;
  if (nameLength < NAME_MIN || nameLength > NAME_MAX) fail('bad-format', 1, `name of ${nameLength} characters`);
  if (end - fs2 - 1 < 7) fail('too-short', 1, 'expiry or service code cut short (swipe too fast?)');
  for (let i = fs2 + 1; i < end; i++) if (bytes[i] === PERCENT) fail('bad-character', 1, `start sentinel inside the data at ${i}`);
  checkPan(1, bytes.subarray(2, fs1));
  checkExpiry(1, bytes, fs2 + 1);
  return {
    raw: copy(bytes, 0, end + 1),
    pan: copy(bytes, 2, fs1),
    name: copy(bytes, fs1 + 1, fs2),
    expiry: copy(bytes, fs2 + 1, fs2 + 5),
    serviceCode: copy(bytes, fs2 + 5, fs2 + 8),
    lrcChecked,
  };
}

/** One track 2, from its start sentinel to its end sentinel or LRC. Throws TrackError. */
export function parseTrack2(bytes: Uint8Array): Track2 {
  const { end, lrcChecked } = frame(2, bytes);
  const fs = bytes.indexOf(EQUALS, 1);
  if (fs < 0 || fs > end) fail('bad-format', 2, 'no field separator after the card number');
  if (end - fs - 1 < 7) fail('too-short', 2, 'expiry or service code cut short (swipe too fast?)');
  for (let i = fs + 1; i < end; i++) {
    if (!isDigit(bytes[i]!) && bytes[i] !== EQUALS) fail('bad-character', 2, `control character in the data at ${i}`);
  }
  checkPan(2, bytes.subarray(1, fs));
  checkExpiry(2, bytes, fs + 1);
  return {
    raw: copy(bytes, 0, end + 1),
    pan: copy(bytes, 1, fs),
    expiry: copy(bytes, fs + 1, fs + 5),
    serviceCode: copy(bytes, fs + 5, fs + 8),
    lrcChecked,
  };
}

/** One piece of a keyboard swipe: a track (start sentinel to end sentinel or LRC) or stray bytes. */
export interface Segment {
  kind: 'track1' | 'track2' | 'track3' | 'stray';
  bytes: Uint8Array;
}

const isStart = (b: number | undefined): boolean => b === PERCENT || b === SEMICOLON;

/**
 * Cuts the characters of one keyboard swipe into tracks. A character after an end sentinel is taken
 * as that track's LRC unless it is the next track's start sentinel; an LRC that happens to equal a
 * start sentinel is recognised by the start sentinel that then follows it.
 */
export function splitSwipe(bytes: Uint8Array): Segment[] {
  const segments: Segment[] = [];
  let sawTrack2 = false;
  let at = 0;
  while (at < bytes.length) {
    const first = bytes[at]!;
    if (!isStart(first)) {
      let next = at + 1;
      while (next < bytes.length && !isStart(bytes[next])) next++;
      segments.push({ kind: 'stray', bytes: bytes.subarray(at, next) });
      at = next;
      continue;
    }
    const kind = first === PERCENT ? 'track1' : sawTrack2 ? 'track3' : 'track2';
    if (kind === 'track2') sawTrack2 = true;
    const end = bytes.indexOf(QUESTION, at + 1);
    if (end < 0) {
      segments.push({ kind, bytes: bytes.subarray(at) });
      break;
    }
    let stop = end + 1;
    const after = bytes[stop];
    if (after !== undefined) {
      const lrcLike = !isStart(after) || stop + 1 >= bytes.length || isStart(bytes[stop + 1]);
      if (lrcLike) stop++;
    }
    segments.push({ kind, bytes: bytes.subarray(at, stop) });
    at = stop;
  }
  return segments;
}

/** The ranking of reasons when no track is good: the one closest to the data wins. */
const PRIORITY: readonly BadReadReason[] = [
  'bad-lrc',
  'bad-pan',
  'bad-format',
  'too-short',
  'no-end-sentinel',
  'bad-character',
  'too-long',
  'device-error',
  'no-start-sentinel',
  'empty',
];

/**
 * The card of one swipe, from track 1 and/or track 2 (either may be absent). A track that is present
 * but bad does not spoil a good one; two good tracks must agree on card number and expiry.
 */
export function readTracks(tracks: { track1?: Uint8Array | TrackError; track2?: Uint8Array | TrackError }, stray: TrackError[] = []): CardData {
  const errors: TrackError[] = [...stray];
  const attempt = <T>(input: Uint8Array | TrackError | undefined, parse: (b: Uint8Array) => T): T | undefined => {
    if (input === undefined) return undefined;
    if (input instanceof TrackError) {
      errors.push(input);
      return undefined;
    }
    try {
      return parse(input);
    } catch (err) {
      if (!(err instanceof TrackError)) throw err;
      errors.push(err);
      return undefined;
    }
  };
  const track1 = attempt(tracks.track1, parseTrack1);
  const track2 = attempt(tracks.track2, parseTrack2);
  if (track1 && track2 && (!track1.pan.equals(track2.pan) || !track1.expiry.equals(track2.expiry))) {
    wipeTrack(track1);
    wipeTrack(track2);
    throw new TrackError('tracks-disagree', 'track 1 and track 2 name different cards');
  }
  const best = track2 ?? track1;
  if (!best) {
    errors.sort((a, b) => PRIORITY.indexOf(a.reason) - PRIORITY.indexOf(b.reason));
    throw errors[0] ?? new TrackError('empty', 'no track on the card');
  }
  return {
    pan: Buffer.from(best.pan),
    expiry: Buffer.from(best.expiry),
    serviceCode: Buffer.from(best.serviceCode),
    track1,
    track2,
  };
}

/** The card of a keyboard swipe: the characters typed before Enter. */
export function readSwipe(bytes: Uint8Array): CardData {
  if (bytes.length === 0) throw new TrackError('empty', 'nothing was read');
  const tracks: { track1?: Uint8Array; track2?: Uint8Array } = {};
  const stray: TrackError[] = [];
  for (const s of splitSwipe(bytes)) {
    if (s.kind === 'stray') stray.push(new TrackError('no-start-sentinel', `${s.bytes.length} characters outside any track`));
    else if (s.kind === 'track1') tracks.track1 ??= s.bytes;
    else if (s.kind === 'track2') tracks.track2 ??= s.bytes;
  }
  return readTracks(tracks, stray);
}

function wipeTrack(track: Track1 | Track2 | undefined): void {
  if (!track) return;
  for (const b of Object.values(track)) if (Buffer.isBuffer(b)) b.fill(0);
}

/** Zero-fills every buffer of a parsed card. */
export function wipeCardData(card: CardData): void {
  card.pan.fill(0);
  card.expiry.fill(0);
  card.serviceCode.fill(0);
  wipeTrack(card.track1);
  wipeTrack(card.track2);
}
