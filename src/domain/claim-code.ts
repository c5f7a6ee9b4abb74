import { randomBytes } from 'node:crypto';

/** The letters a claim code is made of: no 0/O/1/I, which a customer reading a slip could confuse. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A code the customer shows to be paid what the kiosk owes: 8 characters in two groups of four, e.g. ABCD-EFGH. */
export function newClaimCode(): string {
  let code = '';
  for (const b of randomBytes(8)) code += ALPHABET[b % ALPHABET.length];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}
