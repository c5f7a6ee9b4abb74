/**
 * The device's side of eSSP encryption, written apart from drivers/essp: checking the primes the
 * host sets, its half of the Diffie-Hellman exchange, and opening and sealing packets with the
 * slave's counter rule. AES-128-ECB itself comes from node:crypto.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { crc16 } from './wire.js';

export const STEX = 0x7e;

/** Right-to-left binary exponentiation modulo m. */
export function powMod(base: bigint, exp: bigint, m: bigint): bigint {
  let out = 1n % m;
  let square = base % m;
  for (let e = exp; e > 0n; e /= 2n) {
    if (e % 2n === 1n) out = (out * square) % m;
    square = (square * square) % m;
  }
  return out;
}

/**
 * Strong-probable-prime tests to the bases 2..41 (every prime up to 41), which no composite below
 * 3.3 × 10^24 passes: exact for the 64-bit numbers the commands carry.
 */
export function probablyPrime(n: bigint): boolean {
  const bases = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n];
  if (n < 2n) return false;
  if (bases.includes(n)) return true;
  if (bases.some((p) => n % p === 0n)) return false;
  let odd = n - 1n;
  let twos = 0n;
  while (odd % 2n === 0n) {
    odd /= 2n;
    twos++;
  }
  return bases.every((a) => {
    let x = powMod(a, odd, n);
    if (x === 1n || x === n - 1n) return true;
    for (let r = 1n; r < twos; r++) {
      x = (x * x) % n;
      if (x === n - 1n) return true;
    }
    return false;
  });
}

export function readU64(bytes: Uint8Array): bigint {
  return Buffer.from(bytes).readBigUInt64LE(0);
}

export function writeU64(n: bigint): number[] {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, n));
  return [...b];
}

/** The device's half of the exchange: its intermediate key for the host, and the 16-byte AES key. */
export function slaveKeys(
  generator: bigint,
  modulus: bigint,
  hostIntermediate: bigint,
  fixedKey: bigint,
): { slaveIntermediate: bigint; aesKey: Buffer } {
  const secret = (randomBytes(8).readBigUInt64LE(0) % (modulus > 3n ? modulus - 2n : 1n)) + 1n;
  const slaveIntermediate = powMod(generator, secret, modulus);
  const shared = powMod(hostIntermediate, secret, modulus);
  return { slaveIntermediate, aesKey: Buffer.from([...writeU64(fixedKey), ...writeU64(shared)]) };
}

export type Opened = { ok: true; count: number; data: Uint8Array } | { ok: false; why: string };

/** Opens STEX + AES block; checks the inner CRC and eLENGTH. */
export function openPacket(key: Buffer, data: Uint8Array): Opened {
  const block = data.subarray(1);
  if (data[0] !== STEX || block.length === 0 || block.length % 16 !== 0) return { ok: false, why: 'not a whole encrypted block' };
  const d = createDecipheriv('aes-128-ecb', key, null);
  d.setAutoPadding(false);
  const plain = Buffer.concat([d.update(block), d.final()]);
  const crc = crc16(plain.subarray(0, plain.length - 2));
  if (plain[plain.length - 2] !== (crc & 0xff) || plain[plain.length - 1] !== crc >>> 8) {
    return { ok: false, why: 'failed decryption (inner CRC)' };
  }
  const length = plain[0]!;
  if (length < 1 || 1 + 4 + length + 2 > plain.length) return { ok: false, why: `bad eLENGTH ${length}` };
  return { ok: true, count: plain.readUInt32LE(1), data: Uint8Array.from(plain.subarray(5, 5 + length)) };
}

/** STEX + AES(eLENGTH eCOUNT eDATA ePACKING eCRC), the packing random, the whole a multiple of 16. */
export function sealPacket(key: Buffer, count: number, data: Uint8Array | readonly number[]): Uint8Array {
  const inner = [data.length, ...writeU32(count), ...data];
  const total = Math.ceil((inner.length + 2) / 16) * 16;
  inner.push(...randomBytes(total - inner.length - 2));
  const crc = crc16(Uint8Array.from(inner));
  inner.push(crc & 0xff, crc >>> 8);
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Uint8Array.from([STEX, ...c.update(Uint8Array.from(inner)), ...c.final()]);
}

function writeU32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
