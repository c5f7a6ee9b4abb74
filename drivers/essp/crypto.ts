/**
 * eSSP encryption: the Diffie-Hellman key exchange on 64-bit primes, the AES-128 key it yields, and
 * the encrypted packet STEX | AES-ECB(eLENGTH | eCOUNT | eDATA | ePACKING | eCRC) with its counter.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { STEX } from './constants.js';
import { crc16Cms } from '../checksum/crc16.js';
import { uint64le } from './codec.js';

export type RandomSource = (size: number) => Buffer;

// ------------------------------------------------------------------------------ numbers

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus === 1n) return 0n;
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/** Miller–Rabin with the first twelve primes as bases: exact for every n below 3.3 × 10^24. */
const WITNESSES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

export function isPrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const p of WITNESSES) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  outer: for (const a of WITNESSES) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue outer;
    }
    return false;
  }
  return true;
}

/** A random prime with bit 63 set, so that it fills the 8 bytes the commands carry. */
export function randomPrime64(random: RandomSource = randomBytes): bigint {
  for (;;) {
    const candidate = random(8).readBigUInt64LE() | (1n << 63n) | 1n;
    if (isPrime(candidate)) return candidate;
  }
}

// ------------------------------------------------------------------------------ key exchange

export interface KeyExchange {
  generator: bigint;
  modulus: bigint;
  /** The host's secret exponent. */
  hostRandom: bigint;
  /** generator ^ hostRandom mod modulus: what REQUEST KEY EXCHANGE carries. */
  hostIntermediate: bigint;
}

/** Fresh parameters for one negotiation: two primes (generator the larger) and a secret exponent. */
export function newKeyExchange(random: RandomSource = randomBytes): KeyExchange {
  let generator = randomPrime64(random);
  let modulus = randomPrime64(random);
  while (modulus === generator) modulus = randomPrime64(random);
  // ITL's own host code keeps the generator above the modulus; devices are tested that way.
  if (generator < modulus) [generator, modulus] = [modulus, generator];
  const hostRandom = (random(8).readBigUInt64LE() % (modulus - 3n)) + 2n;
  return { generator, modulus, hostRandom, hostIntermediate: modPow(generator, hostRandom, modulus) };
}

/** The negotiated half of the key, from the slave's intermediate key. */
export function negotiatedKey(exchange: KeyExchange, slaveIntermediate: bigint): bigint {
  return modPow(slaveIntermediate, exchange.hostRandom, exchange.modulus);
}

/** AES-128 key: the fixed key as uint64 LE in the low 8 bytes, the negotiated key as uint64 LE in the high 8. */
export function aesKey(fixedKey: bigint, negotiated: bigint): Buffer {
  return Buffer.concat([uint64le(BigInt.asUintN(64, fixedKey)), uint64le(BigInt.asUintN(64, negotiated))]);
}

// ------------------------------------------------------------------------------ packets

const BLOCK = 16;
/** eLENGTH, eCOUNT and eCRC around eDATA. */
const OVERHEAD = 7;
/** The largest block that still fits the 255-byte DATA with its STEX. */
const MAX_BLOCK = Math.floor((255 - 1) / BLOCK) * BLOCK;
export const MAX_ENCRYPTED_DATA = MAX_BLOCK - OVERHEAD;

/** DATA of an encrypted packet: STEX then the AES block. The packing is random. */
export function encryptPacket(key: Buffer, count: number, data: Uint8Array, random: RandomSource = randomBytes): Buffer {
  if (data.length === 0 || data.length > MAX_ENCRYPTED_DATA) throw new RangeError(`eSSP data length out of range: ${data.length}`);
  const size = Math.ceil((data.length + OVERHEAD) / BLOCK) * BLOCK;
  const plain = Buffer.alloc(size);
  plain[0] = data.length;
  plain.writeUInt32LE(count >>> 0, 1);
  plain.set(data, 5);
  random(size - OVERHEAD - data.length).copy(plain, 5 + data.length);
  const crc = crc16Cms(plain, 0, size - 2);
  plain[size - 2] = crc & 0xff;
  plain[size - 1] = crc >>> 8;
  const cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([Buffer.of(STEX), cipher.update(plain), cipher.final()]);
}

export type Decrypted = { ok: true; count: number; data: Buffer } | { ok: false; reason: string };

/** Opens the DATA of an encrypted packet (STEX included). Never throws on bad input. */
export function decryptPacket(key: Buffer, packet: Uint8Array): Decrypted {
  if (packet[0] !== STEX) return { ok: false, reason: 'not an encrypted packet (no STEX)' };
  const block = packet.subarray(1);
  if (block.length === 0 || block.length % BLOCK !== 0) {
    return { ok: false, reason: `encrypted block of ${block.length} bytes is not a whole number of AES blocks` };
  }
  const decipher = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(block), decipher.final()]);
  const crc = crc16Cms(plain, 0, plain.length - 2);
  if ((crc & 0xff) !== plain[plain.length - 2] || crc >>> 8 !== plain[plain.length - 1]) {
    return { ok: false, reason: 'decryption failed (inner CRC does not match: wrong key or damaged packet)' };
  }
  const length = plain[0]!;
  if (length === 0 || length + OVERHEAD > plain.length) return { ok: false, reason: `impossible eLENGTH ${length}` };
  return { ok: true, count: plain.readUInt32LE(1), data: plain.subarray(5, 5 + length) };
}

/**
 * The host's side of one encrypted session. The host sends eCOUNT = n; the slave's reply carries
 * n + 1, and the next command goes out with n + 1. A reply with any other count is stale (or
 * forged) and is refused without changing the count.
 */
export class HostSession {
  /** eCOUNT of the next command. */
  count = 0;

  constructor(
    readonly key: Buffer,
    private readonly random: RandomSource = randomBytes,
  ) {}

  seal(data: Uint8Array): Buffer {
    return encryptPacket(this.key, this.count, data, this.random);
  }

  open(packet: Uint8Array): Decrypted {
    const result = decryptPacket(this.key, packet);
    if (!result.ok) return result;
    const expected = (this.count + 1) >>> 0;
    if (result.count !== expected) return { ok: false, reason: `stale counter: reply carries ${result.count}, expected ${expected}` };
    this.count = expected;
    return result;
  }
}
