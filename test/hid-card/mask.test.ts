/**
 * What leaves the reader: the masked card, the keyed hash, and the sealed sensitive part, which must
 * show nothing however it is printed or serialised and must be zero after use.
 */
import { format, inspect } from 'node:util';
import t from 'tap';
import { derivePanKey, maskPan, panHash, seal } from '../../drivers/hid-card/mask.js';
import { readSwipe } from '../../drivers/hid-card/tracks.js';
import type { SensitiveCardData } from '../../drivers/types.js';
import { TEST_CARDS, track1, track2 } from '../../hw-sim/devices/hid-card/reports.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const secret = Buffer.alloc(32, 7);
const key = derivePanKey(secret);

t.test('masking: first 6 and last 4 at most, at least 4 masked', async (t) => {
  t.equal(maskPan(b('4111111111111111')), '411111******1111');
  t.equal(maskPan(b('378282246310005')), '378282*****0005');
  t.equal(maskPan(b('6250941006528599123')), '625094*********9123');
  t.equal(maskPan(b('4111111111111')), '41111****1111', '13 digits: fewer leading digits');
  t.equal(maskPan(b('411111111111')), '4111****1111', '12 digits');
});

t.test('the keyed hash: same card same hash, another key another hash, never the number', async (t) => {
  const h = panHash(key, b('4111111111111111'));
  t.match(h, /^[0-9a-f]{64}$/);
  t.equal(panHash(key, b('4111111111111111')), h);
  t.not(panHash(key, b('5555555555554444')), h);
  t.not(panHash(derivePanKey(Buffer.alloc(32, 8)), b('4111111111111111')), h);
  t.not(key.toString('hex'), secret.toString('hex'), 'the hash key is derived, not the terminal secret itself');
  t.throws(() => derivePanKey(Buffer.alloc(8)), /at least 16 bytes/);
});

function swiped(name = 'visa'): ReturnType<typeof seal> {
  const card = TEST_CARDS[name]!;
  return seal(readSwipe(b(track1(card) + track2(card))), key);
}

t.test('the masked card', async (t) => {
  const read = swiped();
  t.same(read.card, { maskedPan: '411111******1111', expiry: '3012', panHash: panHash(key, b('4111111111111111')), tracks: [1, 2] });
});

t.test('nothing sensitive in JSON, inspect, template strings, format or a structured clone', async (t) => {
  for (const [name, card] of Object.entries(TEST_CARDS)) {
    const read = swiped(name);
    const secrets = [card.pan, card.name, `${card.pan}=`, `=${card.expiry}${card.serviceCode}${card.discretionary}`];
    const renderings = [
      JSON.stringify(read),
      JSON.stringify(read.sensitive),
      inspect(read, { depth: Infinity, showHidden: true }),
      inspect(read.sensitive, { showHidden: true, getters: true }),
      `${read.sensitive}`,
      String(read.sensitive),
      format('%s %o %O %j', read.sensitive, read.sensitive, read, read),
      JSON.stringify(structuredClone(read)),
      Object.keys(read.sensitive).join(','),
    ];
    for (const r of renderings) for (const s of secrets) t.notOk(r.includes(s), `${name}: not in ${r.slice(0, 60)}`);
    t.match(JSON.stringify(read.sensitive), /redacted/);
    t.match(inspect(read.sensitive), /redacted/);
  }
});

t.test('consume hands the data over once, then everything is zero', async (t) => {
  const read = swiped();
  let seen: SensitiveCardData | undefined;
  const sent = await read.sensitive.consume((data) => {
    seen = data;
    return `${data.pan.toString('latin1')}|${data.expiry.toString('latin1')}|${data.track2?.toString('latin1')}`;
  });
  t.equal(sent, `4111111111111111|3012|${track2(TEST_CARDS.visa!)}`, 'the data, for the request to the business system');
  t.ok(read.sensitive.wiped);
  t.ok(seen!.pan.every((x) => x === 0), 'card number zeroed');
  t.ok(seen!.expiry.every((x) => x === 0));
  t.ok(seen!.track1!.every((x) => x === 0), 'track 1 zeroed');
  t.ok(seen!.track2!.every((x) => x === 0), 'track 2 zeroed');
  await t.rejects(read.sensitive.consume(() => 1), /already wiped/, 'only once');
  read.sensitive.wipe();
  t.pass('wipe is idempotent');

  const failing = swiped('mastercard');
  let kept: SensitiveCardData | undefined;
  await t.rejects(
    failing.sensitive.consume((data) => {
      kept = data;
      throw new Error('uplink down');
    }),
    /uplink down/,
  );
  t.ok(failing.sensitive.wiped, 'wiped when the call failed too');
  t.ok(kept!.pan.every((x) => x === 0));

  const dropped = swiped('amex');
  dropped.sensitive.wipe();
  t.ok(dropped.sensitive.wiped, 'a read the flow does not use is wiped without consume');
});
