import t from 'tap';
import { COST, hashPin, isValidPin, isWeakHash, verifyPin } from '../../src/console/pin.js';

// Computed once with Python's hashlib.scrypt (an implementation independent of node:crypto).
const SALT = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const VECTOR = 'scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$U+WfH59WwjF9mfeh52/R1DZ3zLGcLBJeBU+agSgeCuw=';

t.test('a known vector with a fixed salt, made at the old cost: it still verifies', async (t) => {
  t.equal(hashPin('123456', SALT, { N: 16384, r: 8, p: 1 }), VECTOR);
  t.ok(await verifyPin('123456', VECTOR));
  t.notOk(await verifyPin('123457', VECTOR));
  t.ok(isWeakHash(VECTOR), 'and it is reported as weaker than today');
});

t.test('round trip with a random salt, at the cost of today', async (t) => {
  const a = hashPin('246801');
  const b = hashPin('246801');
  t.match(a, /^scrypt\$131072\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  t.same(COST, { N: 131072, r: 8, p: 1 });
  t.notOk(isWeakHash(a));
  t.not(a, b, 'a fresh salt each time');
  // The time a try takes (and so the days a search of the space takes) is measured in bench/pin-search.ts.
  t.ok(await verifyPin('246801', a));
  t.ok(await verifyPin('246801', b));
  t.notOk(await verifyPin('246802', a), 'wrong PIN');
  t.notOk(await verifyPin('', a), 'empty PIN');
  t.notOk(await verifyPin('2468010', a), 'longer PIN');
});

t.test('PINs are 6 to 12 digits', async (t) => {
  for (const ok of ['000000', '123456789012']) t.ok(isValidPin(ok), ok);
  for (const bad of ['', '1234', '12345', '1234567890123', '12a456', ' 123456', '123456\n', '١٢٣٤٥٦']) {
    t.notOk(isValidPin(bad), JSON.stringify(bad));
    t.throws(() => hashPin(bad), /6 to 12 digits/);
  }
});

t.test('malformed hashes are false, never an exception', async (t) => {
  const [, n, r, p, salt, key] = VECTOR.split('$');
  const bad = [
    '',
    'scrypt$',
    'plain-1234',
    VECTOR.replace('scrypt', 'bcrypt'),
    VECTOR + '$extra',
    `scrypt$${n}$${r}$${p}$${salt}`,
    `scrypt$16383$${r}$${p}$${salt}$${key}`, // N not a power of two
    `scrypt$1073741824$${r}$${p}$${salt}$${key}`, // N far too large
    `scrypt$${n}$0$${p}$${salt}$${key}`,
    `scrypt$${n}$${r}$999$${salt}$${key}`,
    `scrypt$${n}$-8$${p}$${salt}$${key}`,
    `scrypt$${n}$8.5$${p}$${salt}$${key}`,
    `scrypt$${n}$${r}$${p}$not*base64$${key}`,
    `scrypt$${n}$${r}$${p}$${salt}$`,
    `scrypt$${n}$${r}$${p}$AAEC$${key}`, // salt too short
    `scrypt$${n}$${r}$${p}$${salt}$AAECAwQF`, // key too short
    `scrypt$${n}$${r}$${p}$${salt}$${key!.slice(0, -4)}AAA=`, // the key's last bytes changed
  ];
  for (const h of bad) {
    await t.resolves(verifyPin('123456', h));
    t.equal(await verifyPin('123456', h), false, h);
  }
  t.equal(await verifyPin('123456', undefined as unknown as string), false, 'not a string');
});
