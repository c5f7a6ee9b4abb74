import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/** Engineers' PINs: digits only, so they can be typed on any keypad or terminal. */
export const PIN_RULE = /^\d{4,12}$/;

const N = 16384;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds on what a stored hash may ask for, so a tampered config cannot make a login attempt
// allocate gigabytes or spin for minutes.
const MAX_N = 1 << 17;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEM = 256 * 1024 * 1024;

export function isValidPin(pin: string): boolean {
  return PIN_RULE.test(pin);
}

/**
 * `scrypt$N$r$p$<salt b64>$<hash b64>`. The salt is random unless given (tests pin it to get a
 * known vector).
 */
export function hashPin(pin: string, salt: Buffer = randomBytes(SALT_BYTES)): string {
  if (!isValidPin(pin)) throw new Error('a PIN is 4 to 12 digits');
  if (salt.length < 8) throw new Error('the salt must be at least 8 bytes');
  const key = scryptSync(pin, salt, KEY_BYTES, { N, r: R, p: P });
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

/** True only when `pin` matches; any malformed or unsupported hash is simply false. */
export function verifyPin(pin: string, hash: string): boolean {
  const parsed = parseHash(hash);
  if (!parsed) return false;
  try {
    const key = scryptSync(pin, parsed.salt, parsed.key.length, {
      N: parsed.n,
      r: parsed.r,
      p: parsed.p,
      maxmem: MAX_MEM,
    });
    return timingSafeEqual(key, parsed.key);
  } catch {
    return false;
  }
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseHash(hash: string): ParsedHash | null {
  if (typeof hash !== 'string') return null;
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [n, r, p] = parts.slice(1, 4).map((s) => (/^\d{1,7}$/.test(s) ? Number(s) : NaN)) as [number, number, number];
  if (!(n >= 2 && n <= MAX_N && (n & (n - 1)) === 0)) return null;
  if (!(r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P)) return null;
  if (128 * n * r * p > MAX_MEM) return null;
  const [saltText, keyText] = parts.slice(4) as [string, string];
  if (!BASE64.test(saltText) || !BASE64.test(keyText)) return null;
  const salt = Buffer.from(saltText, 'base64');
  const key = Buffer.from(keyText, 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 64) return null;
  return { n, r, p, salt, key };
}
