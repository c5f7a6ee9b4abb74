/**
 * Mobile wallet payment codes (付款码): which wallet a code belongs to, read from its prefix as the
 * wallets publish it, and the masked form the kiosk may keep. A payment code is a single-use bearer
 * token, so these work on the code's bytes and never build a string of the whole code.
 */

export type Wallet = 'wechat' | 'alipay' | 'unionpay';

/** Payment codes are 16 to 24 digits (WeChat 18, Alipay 16–24, UnionPay 19). */
export const CODE_MIN_DIGITS = 16;
export const CODE_MAX_DIGITS = 24;

/** First two digits → wallet: 10–15 WeChat Pay, 25–30 Alipay, 62 UnionPay QuickPass. */
const PREFIXES: readonly { from: number; to: number; wallet: Wallet }[] = [
  { from: 10, to: 15, wallet: 'wechat' },
  { from: 25, to: 30, wallet: 'alipay' },
  { from: 62, to: 62, wallet: 'unionpay' },
];

/** Digits shown at each end of a masked code; everything between is '*'. */
const SHOW_FIRST = 2;
const SHOW_LAST = 4;
/** At least this many characters masked, whatever the length, so the pattern below tells a masked code. */
const MIN_MASKED = 8;

function isDigits(code: Uint8Array): boolean {
  return code.every((b) => b >= 0x30 && b <= 0x39);
}

/**
 * The wallet of a payment code (ASCII digits), or null when the code is not one: wrong length, a
 * non-digit, or a prefix no wallet uses. The kiosk refuses such a code before asking the gateway.
 */
export function walletOf(code: Uint8Array): Wallet | null {
  if (!isDigits(code)) return null;
  return walletByPrefix(String.fromCharCode(code[0] ?? 0, code[1] ?? 0), code.length);
}

/**
 * The wallet from the two leading digits and the code's length: all the kiosk needs to decide,
 * so the scanner's masked read (first 2 and last 4 digits) is enough.
 */
export function walletByPrefix(prefix: string, length: number): Wallet | null {
  if (length < CODE_MIN_DIGITS || length > CODE_MAX_DIGITS || !/^\d\d$/.test(prefix)) return null;
  const n = Number(prefix);
  return PREFIXES.find((p) => n >= p.from && n <= p.to)?.wallet ?? null;
}

/**
 * All the kiosk keeps of a code: its first 2 and last 4 digits, the rest '*', from the scanner's
 * masked read (which shows those at most, whatever character it masks with) and the code's length.
 * Anything that is not a digit where a digit may show is masked too.
 */
export function maskWalletCode(masked: string, length: number): string {
  const digitsOf = (s: string) => (/^\d+$/.test(s) ? s : '');
  const head = digitsOf(masked.slice(0, SHOW_FIRST));
  const tail = masked.length >= SHOW_FIRST + SHOW_LAST ? digitsOf(masked.slice(-SHOW_LAST)) : '';
  return head + '*'.repeat(Math.max(length - head.length - tail.length, MIN_MASKED)) + tail;
}

/** A masked code as the journal accepts it: at most 6 digits shown, at least 8 masked. */
export const MASKED_CODE_PATTERN = /^\d{0,2}\*{8,}\d{0,4}$/;
