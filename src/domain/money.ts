/**
 * Money as the kiosk counts it: integer fen (1 yuan = 100 fen) of one currency. Formatting works
 * on the digits, so no float ever touches an amount.
 */

/** ISO 4217 code of every amount the kiosk takes, pays and reports. */
export const CURRENCY = 'CNY';

/** Integer fen as yuan with two decimals: 1250 → '12.50', -5 → '-0.05'; '?' for anything not a safe integer. */
export function yuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) return '?';
  const digits = String(Math.abs(fen)).padStart(3, '0');
  return `${fen < 0 ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** With the yuan sign, as customers read it: 1250 → '¥12.50', -150 → '-¥1.50'. */
export function yuanSign(fen: number): string {
  const text = yuan(fen);
  return text.startsWith('-') ? `-¥${text.slice(1)}` : `¥${text}`;
}
