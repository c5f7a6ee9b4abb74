import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (pin: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** Engineers' PINs: digits only, so they can be typed on any keypad or terminal; six at least. */
export const PIN_RULE = /^\d{6,12}$/;
export const PIN_RULE_TEXT = 'a PIN is 6 to 12 digits';

/**
 * The cost of a new hash. Someone who copies the configuration can try every PIN offline, so one
 * try must be slow: scrypt with N = 2^17, r = 8 takes 128 MiB and, measured on one core of the
 * development machine (`node -e` timing scryptSync, 2 shared cores), about 0.5 s. The whole
 * 6-digit space is 10^6 tries: 10^6 × 0.5 s ≈ 5.8 days on one core; a core twice as fast still
 * needs about 3 days. A login pays it once (about half a second on the kiosk).
 */
export const COST = { N: 1 << 17, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds on what a stored hash may ask for, so a tampered config cannot make a login attempt
// allocate gigabytes or spin for minutes. Hashes made with older, lower parameters still verify:
// the parameters are part of the hash string.
const MAX_N = 1 << 17;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEM = 256 * 1024 * 1024;

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

export function isValidPin(pin: string): boolean {
  return PIN_RULE.test(pin);
}

/**
 * `scrypt$N$r$p$<salt b64>$<hash b64>`. The salt is random unless given (tests pin it to get a
 * known vector); the cost is COST unless given (tests of the console's flow use a cheap one).
 */
export function hashPin(pin: string, salt: Buffer = randomBytes(SALT_BYTES), cost: ScryptCost = COST): string {
  if (!isValidPin(pin)) throw new Error(PIN_RULE_TEXT);
  if (salt.length < 8) throw new Error('the salt must be at least 8 bytes');
  const key = scryptSync(pin, salt, KEY_BYTES, { N: cost.N, r: cost.r, p: cost.p, maxmem: MAX_MEM });
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/**
 * True only when `pin` matches; any malformed or unsupported hash is simply false. Computed off the
 * event loop (libuv's thread pool): a login costs about half a second of scrypt, which must not
 * stall whatever else the process serves meanwhile.
 */
export async function verifyPin(pin: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (!parsed) return false;
  try {
    const key = await scryptAsync(pin, parsed.salt, parsed.key.length, { N: parsed.n, r: parsed.r, p: parsed.p, maxmem: MAX_MEM });
    return timingSafeEqual(key, parsed.key);
  } catch {
    return false;
  }
}

/** The cost a stored hash was made with, or null when it is not a usable hash. */
export function hashCost(hash: string): ScryptCost | null {
  const parsed = parseHash(hash);
  return parsed ? { N: parsed.n, r: parsed.r, p: parsed.p } : null;
}

/** A hash made with less work than COST: it verifies, but should be made again with hash-pin. */
export function isWeakHash(hash: string): boolean {
  const cost = hashCost(hash);
  return cost !== null && cost.N * cost.r * cost.p < COST.N * COST.r * COST.p;
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

/** Engineers whose PIN hash is weaker than hash-pin makes today: a warning each. */
export function weakPins(engineers: readonly { name: string; pin: string }[]): string[] {
  return engineers.flatMap((e, i) =>
    isWeakHash(e.pin) ? [`console.engineers[${i}].pin (${e.name}): made at a lower cost than today's; make it again with \`kiosk console hash-pin\` (6 digits or more)`] : [],
  );
}
