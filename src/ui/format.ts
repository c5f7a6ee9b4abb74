/**
 * Pure helpers of the screen, shared by the page and its tests.
 *
 * The screen is compiled on its own (src/ui/tsconfig.json, rootDir src/ui) and served from dist/ui,
 * so it cannot import src/domain: `yuan` and `isMobileNumber` are copies of src/domain's `yuanSign`
 * and `isMobileNumber`, the source of truth; test/domain/domain.test.ts keeps them equal.
 */

/** ¥123.50 from 12350 fen. */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A note or coin as people say it: ¥50, ¥0.5. */
export function faceValue(fen: number): string {
  return fen % 100 === 0 ? `¥${fen / 100}` : `¥${(fen / 100).toFixed(fen % 10 === 0 ? 1 : 2)}`;
}

/** A mainland mobile number: 11 digits, 1 then 3–9. */
export function isMobileNumber(digits: string): boolean {
  return /^1[3-9]\d{9}$/.test(digits);
}

/** 138 0013 8000: the grouping people read numbers back in. */
export function groupPhone(digits: string): string {
  return [digits.slice(0, 3), digits.slice(3, 7), digits.slice(7, 11)].filter((p) => p !== '').join(' ');
}

/** 138****8000: a phone number as a slip shows it (it may be photographed). */
export function maskedPhone(digits: string): string {
  return digits.length >= 11 ? `${digits.slice(0, 3)}****${digits.slice(-4)}` : '*'.repeat(Math.max(0, digits.length - 4)) + digits.slice(-4);
}

/** Whole seconds left, never negative, rounded up so 0 appears only at the end. */
export function secondsLeft(deadlineMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((deadlineMs - nowMs) / 1000));
}
