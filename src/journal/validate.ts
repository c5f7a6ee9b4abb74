import type { Coin, Note } from '../../drivers/types.js';

/** Argument checks shared by the journal's concern modules: bad input never reaches SQLite. */

export function requireText(name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new Error(`journal: ${name} must be a non-empty string, got ${JSON.stringify(v)}`);
  }
}

/** Money is integer minor units (fen), never negative, never a float. */
export function requireAmount(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`journal: ${name} must be a whole number of fen >= 0, got ${String(v)}`);
  }
}

export function requirePositive(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new Error(`journal: ${name} must be a whole number >= 1, got ${String(v)}`);
  }
}

export function requireRange(name: string, v: unknown, min: number, max: number): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new Error(`journal: ${name} must be a whole number from ${min} to ${max}, got ${String(v)}`);
  }
}

/** Notes and coins have the same shape; only the word in the error differs. */
export function cleanCash(kind: 'note' | 'coin', item: Note | Coin): Note & Coin {
  if (item === null || typeof item !== 'object') throw new Error(`journal: ${kind} must be an object`);
  requireAmount(`${kind} value`, item.value);
  if (item.value === 0) throw new Error(`journal: ${kind} value must be above 0`);
  if (typeof item.currency !== 'string' || !/^[A-Z]{3}$/.test(item.currency)) {
    throw new Error(`journal: ${kind} currency must be an ISO 4217 code, got ${JSON.stringify(item.currency)}`);
  }
  if (!Number.isSafeInteger(item.code)) {
    throw new Error(`journal: ${kind} code must be an integer, got ${String(item.code)}`);
  }
  return { value: item.value, currency: item.currency, code: item.code };
}

export function toJson(data: unknown, what: string): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    throw new Error(`journal: ${what} data cannot be stored as JSON: ${(err as Error).message}`, { cause: err });
  }
}
