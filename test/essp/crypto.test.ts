/**
 * eSSP encryption on both sides: the driver's (drivers/essp/crypto.ts) and the emulator's own
 * (hw-sim/devices/essp/crypto.ts) must agree on the key exchange and on every packet.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import t from 'tap';
import {
  HostSession,
  MAX_ENCRYPTED_DATA,
  aesKey,
  decryptPacket,
  encryptPacket,
  isPrime,
  modPow,
  negotiatedKey,
  newKeyExchange,
  randomPrime64,
} from '../../drivers/essp/crypto.js';
import { crc16Cms } from '../../drivers/checksum/crc16.js';
import { DEFAULT_FIXED_KEY } from '../../drivers/essp/constants.js';
import { openPacket, powMod, probablyPrime, sealPacket, slaveKeys } from '../../hw-sim/devices/essp/crypto.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const zeros = (n: number) => Buffer.alloc(n);

t.test('modular powers and primes, both implementations', async (t) => {
  t.equal(modPow(4n, 13n, 497n), 445n);
  t.equal(powMod(4n, 13n, 497n), 445n);
  t.equal(modPow(5n, 0n, 7n), 1n);
  t.equal(modPow(5n, 3n, 1n), 0n);
  t.equal(powMod(5n, 3n, 1n), 0n);
  const primes = [2n, 3n, 37n, 41n, 65521n, 982451653n, (1n << 61n) - 1n, 18446744073709551557n];
  // 3215031751 fools bases 2, 3, 5 and 7; 3825123056546413051 fools every prime base up to 23.
  const composites = [0n, 1n, 4n, 561n, 1105n, 3215031751n, 3825123056546413051n, 18446744073709551555n, (1n << 64n) - 1n];
  for (const p of primes) {
    t.ok(isPrime(p), `driver: ${p} is prime`);
    t.ok(probablyPrime(p), `emulator: ${p} is prime`);
  }
  for (const c of composites) {
    t.notOk(isPrime(c), `driver: ${c} is not prime`);
    t.notOk(probablyPrime(c), `emulator: ${c} is not prime`);
  }
  for (let i = 0n; i < 2000n; i++) {
    const n = 0xfffffffffff00001n + 2n * i;
    if (isPrime(n) !== probablyPrime(n)) t.fail(`the two primality tests disagree on ${n}`);
  }
  const p = randomPrime64();
  t.ok(p >> 63n === 1n && isPrime(p), 'a random 64-bit prime with bit 63 set');
});

t.test('Diffie-Hellman: the driver as host and the emulator as slave arrive at the same AES key', async (t) => {
  for (let round = 0; round < 3; round++) {
    const kx = newKeyExchange();
    t.ok(kx.generator > kx.modulus, 'generator above the modulus');
    t.ok(isPrime(kx.generator) && isPrime(kx.modulus), 'both prime');
    t.equal(kx.hostIntermediate, modPow(kx.generator, kx.hostRandom, kx.modulus));
    const slave = slaveKeys(kx.generator, kx.modulus, kx.hostIntermediate, DEFAULT_FIXED_KEY);
    const host = aesKey(DEFAULT_FIXED_KEY, negotiatedKey(kx, slave.slaveIntermediate));
    t.equal(hex(host), hex(slave.aesKey), `round ${round}: same key on both sides`);
  }
});

t.test('AES key layout: fixed key LE in the low 8 bytes, negotiated key LE in the high 8', async (t) => {
  t.equal(hex(aesKey(0x0123456701234567n, 0x1122334455667788n)), '6745230167452301' + '8877665544332211');
  t.equal(hex(aesKey(0n, -1n)), '0000000000000000ffffffffffffffff', 'numbers are taken as unsigned 64-bit');
});

t.test('encrypted packet layout, byte for byte, with zero packing', async (t) => {
  const key = aesKey(DEFAULT_FIXED_KEY, 0x0aabbccddeeff0011n);
  const packet = encryptPacket(key, 0x01020304, Buffer.of(0x07), zeros);
  t.equal(packet[0], 0x7e, 'STEX first');
  t.equal(packet.length, 1 + 16, 'one AES block');
  const d = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  const plain = Buffer.concat([d.update(packet.subarray(1)), d.final()]);
  const crc = crc16Cms(plain, 0, 14);
  t.equal(hex(plain), `01` + `04030201` + `07` + '00'.repeat(8) + hex(Buffer.of(crc & 0xff, crc >>> 8)), 'eLENGTH eCOUNT eDATA ePACKING eCRC');
  t.equal(encryptPacket(key, 0, Buffer.alloc(9), zeros).length, 17, '9 data bytes + 7 fill one block exactly');
  t.equal(encryptPacket(key, 0, Buffer.alloc(10), zeros).length, 33, '10 data bytes need two');
  t.equal(encryptPacket(key, 0, Buffer.alloc(MAX_ENCRYPTED_DATA)).length, 241, 'the largest packet fits the 255-byte DATA');
  t.throws(() => encryptPacket(key, 0, Buffer.alloc(MAX_ENCRYPTED_DATA + 1)), /length/);
  t.throws(() => encryptPacket(key, 0, Buffer.alloc(0)), /length/);
});

t.test('packets sealed by one side open on the other; damage and wrong keys are refused', async (t) => {
  const key = aesKey(DEFAULT_FIXED_KEY, 123456789n);
  const other = aesKey(DEFAULT_FIXED_KEY, 987654321n);
  for (const length of [1, 9, 10, 25, 100, MAX_ENCRYPTED_DATA]) {
    const data = Buffer.from(Array.from({ length }, (_, i) => (i * 37) & 0xff));
    const fromDriver = encryptPacket(key, 41, data);
    const opened = openPacket(key, fromDriver);
    t.same(opened.ok && [opened.count, hex(opened.data)], [41, hex(data)], `emulator opens the driver's ${length}-byte packet`);
    const fromDevice = sealPacket(key, 42, data);
    const back = decryptPacket(key, fromDevice);
    t.same(back.ok && [back.count, hex(back.data)], [42, hex(data)], `driver opens the emulator's ${length}-byte packet`);
  }
  const packet = encryptPacket(key, 0, Buffer.of(0x07));
  t.match(decryptPacket(other, packet), { ok: false, reason: /decryption failed/ }, 'wrong key');
  t.match(openPacket(other, packet), { ok: false, why: /failed decryption/ });
  const flipped = Buffer.from(packet);
  flipped[5]! ^= 0x01;
  t.match(decryptPacket(key, flipped), { ok: false, reason: /decryption failed/ }, 'one flipped bit');
  t.match(decryptPacket(key, packet.subarray(0, 10)), { ok: false, reason: /whole number/ }, 'truncated');
  t.match(decryptPacket(key, Buffer.of(0x07)), { ok: false, reason: /no STEX/ });
  t.match(openPacket(key, Buffer.of(0x7e)), { ok: false, why: /whole/ });

  // A block whose inner CRC is right but whose eLENGTH claims more than the block holds.
  const plain = Buffer.alloc(16);
  plain[0] = 12;
  const crc = crc16Cms(plain, 0, 14);
  plain[14] = crc & 0xff;
  plain[15] = crc >>> 8;
  const c = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  const liar = Buffer.concat([Buffer.of(0x7e), c.update(plain), c.final()]);
  t.match(decryptPacket(key, liar), { ok: false, reason: /eLENGTH 12/ });
  t.match(openPacket(key, liar), { ok: false, why: /eLENGTH 12/ });
});

t.test('host counter rule: send n, accept only n + 1, then send n + 1', async (t) => {
  const key = aesKey(DEFAULT_FIXED_KEY, 5n);
  const session = new HostSession(key);
  const sent = decryptPacket(key, session.seal(Buffer.of(0x07)));
  t.same(sent.ok && sent.count, 0, 'the first command after the exchange carries 0');
  t.match(session.open(encryptPacket(key, 0, Buffer.of(0xf0))), { ok: false, reason: /stale counter: reply carries 0, expected 1/ });
  t.match(session.open(encryptPacket(key, 2, Buffer.of(0xf0))), { ok: false, reason: /expected 1/ });
  t.equal(session.count, 0, 'refused replies do not move the count');
  t.match(session.open(encryptPacket(key, 1, Buffer.of(0xf0))), { ok: true });
  t.equal(session.count, 1);
  const next = decryptPacket(key, session.seal(Buffer.of(0x07)));
  t.same(next.ok && next.count, 1, 'the next command carries the count of the reply');
  t.match(session.open(encryptPacket(key, 1, Buffer.of(0xf0))), { ok: false }, 'the same reply again is stale');
  t.match(session.open(encryptPacket(aesKey(0n, 5n), 2, Buffer.of(0xf0))), { ok: false, reason: /decryption/ });

  session.count = 0xffffffff;
  t.match(session.open(encryptPacket(key, 0, Buffer.of(0xf0))), { ok: true }, 'the 32-bit count wraps to 0');
  t.equal(session.count, 0);
});
