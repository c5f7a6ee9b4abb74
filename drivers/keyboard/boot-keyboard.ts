/**
 * Pure decoding of a keyboard-wedge device (the card reader's and the code scanner's USB HID
 * keyboard mode): boot-keyboard input reports (8 bytes: modifier bits, a reserved byte, up to six
 * key usage codes of the keys held down) back into the characters the device "typed", with a US
 * layout, until Enter ends the entry. Characters are kept in a fixed buffer that is zero-filled
 * whenever an entry is handed out or dropped, since both devices type secrets (tracks, wallet codes).
 */

export const BOOT_REPORT_LENGTH = 8;

/** Left and right shift in the modifier byte. */
const SHIFT = 0x02 | 0x20;
/** Every key slot holds this when more keys are down than the report can carry. */
const ERROR_ROLL_OVER = 0x01;
const ENTER = 0x28;
const KEYPAD_ENTER = 0x58;
/** Stands for a key that types nothing printable, so the parser behind the decoder rejects the entry. */
export const UNKNOWN_KEY = 0x00;

// Usage IDs of the keyboard page (HID Usage Tables, page 0x07), unshifted and shifted, US layout.
const DIGITS = '1234567890';
const DIGITS_SHIFTED = '!@#$%^&*()';
const PUNCTUATION: ReadonlyMap<number, [string, string]> = new Map([
  [0x2c, [' ', ' ']],
  [0x2d, ['-', '_']],
  [0x2e, ['=', '+']],
  [0x2f, ['[', '{']],
  [0x30, [']', '}']],
  [0x31, ['\\', '|']],
  [0x33, [';', ':']],
  [0x34, ["'", '"']],
  [0x35, ['`', '~']],
  [0x36, [',', '<']],
  [0x37, ['.', '>']],
  [0x38, ['/', '?']],
  // keypad, which some readers use for digits
  [0x54, ['/', '/']],
  [0x55, ['*', '*']],
  [0x56, ['-', '-']],
  [0x57, ['+', '+']],
  [0x63, ['.', '.']],
]);

/** The ASCII code a key types, UNKNOWN_KEY for a key that types nothing useful, undefined for Enter. */
export function keyToChar(usage: number, shift: boolean): number | undefined {
  if (usage === ENTER || usage === KEYPAD_ENTER) return undefined;
  if (usage >= 0x04 && usage <= 0x1d) return (shift ? 0x41 : 0x61) + usage - 0x04;
  if (usage >= 0x1e && usage <= 0x27) return (shift ? DIGITS_SHIFTED : DIGITS).charCodeAt(usage - 0x1e);
  if (usage >= 0x59 && usage <= 0x62) return DIGITS.charCodeAt(usage - 0x59);
  const p = PUNCTUATION.get(usage);
  return p ? p[shift ? 1 : 0].charCodeAt(0) : UNKNOWN_KEY;
}

/**
 * A zero-filled buffer whose bytes stay where they are: V8 keeps typed arrays of up to 64 bytes
 * inside its heap and its garbage collector moves them, leaving the old copy (with whatever secret
 * it held at that moment) in freed memory that fill(0) never reaches. An ArrayBuffer's own backing
 * store is never moved.
 */
export function offHeap(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(size));
}

export type KeyboardEvent =
  /** The characters typed before Enter. The buffer is a copy the caller owns and must zero. */
  | { kind: 'entry'; bytes: Buffer }
  /** More characters than the buffer holds came before Enter; they were dropped. */
  | { kind: 'overflow'; length: number };

export interface KeyboardDecoderStats {
  /** Reports of the wrong length, ignored. */
  badReports: number;
  /** Reports that said "too many keys down" (error roll-over), ignored. */
  rollOvers: number;
}

export class KeyboardDecoder {
  readonly stats: KeyboardDecoderStats = { badReports: 0, rollOvers: 0 };
  private readonly buffer: Buffer;
  private length = 0;
  private overflowed = 0;
  private held = new Set<number>();

  /** `maxLength`: the longest entry kept (a card reader's three full tracks are 79 + 40 + 107 characters). */
  constructor(maxLength = 256) {
    this.buffer = offHeap(maxLength);
  }

  /** Characters typed since the last Enter. */
  get pending(): number {
    return this.length + this.overflowed;
  }

  /** Feeds one input report; returns what an Enter in it completed. */
  push(report: Uint8Array): KeyboardEvent[] {
    if (report.length !== BOOT_REPORT_LENGTH) {
      this.stats.badReports++;
      return [];
    }
    const keys = Array.from(report.subarray(2)).filter((k) => k !== 0);
    if (keys.length > 0 && keys.every((k) => k === ERROR_ROLL_OVER)) {
      this.stats.rollOvers++;
      return [];
    }
    const shift = (report[0]! & SHIFT) !== 0;
    const events: KeyboardEvent[] = [];
    for (const key of keys) {
      if (this.held.has(key)) continue;
      const char = keyToChar(key, shift);
      if (char === undefined) events.push(this.finish());
      else this.append(char);
    }
    this.held = new Set(keys);
    return events;
  }

  /** Ends an entry that never got its Enter (the device stopped typing): what was typed so far. */
  flush(): KeyboardEvent | undefined {
    this.held.clear();
    return this.pending > 0 ? this.finish() : undefined;
  }

  /** Drops anything typed so far. */
  reset(): void {
    this.buffer.fill(0, 0, this.length);
    this.length = 0;
    this.overflowed = 0;
    this.held.clear();
  }

  private append(char: number): void {
    if (this.length < this.buffer.length) this.buffer[this.length++] = char;
    else this.overflowed++;
  }

  private finish(): KeyboardEvent {
    const event: KeyboardEvent =
      this.overflowed > 0
        ? { kind: 'overflow', length: this.length + this.overflowed }
        : { kind: 'entry', bytes: Buffer.from(this.buffer.subarray(0, this.length)) };
    this.buffer.fill(0, 0, this.length);
    this.length = 0;
    this.overflowed = 0;
    return event;
  }
}
