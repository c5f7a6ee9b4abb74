/**
 * Track 1 / track 2 parsing (ISO/IEC 7813 layout, ISO/IEC 7811 LRC) with the schemes' published test
 * card numbers, and every kind of bad read a swipe can give.
 */
import t from 'tap';
import { TrackError, luhnValid, parseTrack1, parseTrack2, readSwipe, readTracks, splitSwipe, trackLrc, wipeCardData } from '../../drivers/hid-card/tracks.js';
import { TEST_CARDS, lrcChar, track1, track2 } from '../../hw-sim/devices/hid-card/reports.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const text = (x: Uint8Array | undefined): string => Buffer.from(x ?? []).toString('latin1');

function reason(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof TrackError) return err.reason;
    throw err;
  }
  return 'parsed';
}

t.test('the published test card numbers pass the check digit; a changed digit does not', async (t) => {
  for (const pan of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '6250941006528599', '4012888888881881']) {
    t.ok(luhnValid(b(pan)), pan);
  }
  t.notOk(luhnValid(b('4111111111111112')));
  t.notOk(luhnValid(b('')));
});

t.test('LRC: hand-computed values, and the emulator computes the same', async (t) => {
  t.equal(String.fromCharCode(trackLrc(2, b(';4111111111111111=3012101000000123000?'))), '<');
  t.equal(String.fromCharCode(trackLrc(1, b('%B4111111111111111^TEST/VISA^3012101000000123000?'))), 'Y');
  t.equal(String.fromCharCode(trackLrc(2, b(';5555555555554444=2911201000000000?'))), '1');
  for (const card of Object.values(TEST_CARDS)) {
    t.equal(String.fromCharCode(trackLrc(1, b(track1(card)))), lrcChar(1, track1(card)));
    t.equal(String.fromCharCode(trackLrc(2, b(track2(card)))), lrcChar(2, track2(card)));
  }
});

t.test('track 2 and track 1 of every test card', async (t) => {
  for (const [name, card] of Object.entries(TEST_CARDS)) {
    const two = parseTrack2(b(track2(card)));
    t.equal(text(two.pan), card.pan, `${name} track 2 card number`);
    t.equal(text(two.expiry), card.expiry);
    t.equal(text(two.serviceCode), card.serviceCode);
    t.equal(text(two.raw), track2(card), 'raw keeps the sentinels');
    t.equal(two.lrcChecked, false);
    const one = parseTrack1(b(track1(card) + lrcChar(1, track1(card))));
    t.equal(text(one.pan), card.pan, `${name} track 1 card number`);
    t.equal(text(one.name), card.name);
    t.equal(text(one.expiry), card.expiry);
    t.equal(one.lrcChecked, true);
    t.equal(text(one.raw), track1(card), 'raw stops at the end sentinel');
  }
});

t.test('bad reads, each with its reason', async (t) => {
  const v = TEST_CARDS.visa!;
  const t2 = track2(v);
  const t1 = track1(v);
  const cases: [string, () => unknown, string][] = [
    ['empty', () => parseTrack2(b('')), 'empty'],
    ['no start sentinel', () => parseTrack2(b(t2.slice(1))), 'no-start-sentinel'],
    ['no end sentinel', () => parseTrack2(b(t2.slice(0, -1))), 'no-end-sentinel'],
    ['swipe too fast (cut short)', () => parseTrack2(b(t2.slice(0, 12))), 'too-short'],
    ['cut short but terminated', () => parseTrack2(b(';411111111111?')), 'too-short'],
    ['expiry cut short', () => parseTrack2(b(';4111111111111111=30121?')), 'too-short'],
    ['bad LRC', () => parseTrack2(b(t2 + '0')), 'bad-lrc'],
    ['LRC outside the set', () => parseTrack2(b(t2 + 'A')), 'bad-character'],
    ['two characters after the end', () => parseTrack2(b(t2 + '<<')), 'too-long'],
    ['letter on track 2', () => parseTrack2(b(';41111111111A1111=3012101?')), 'bad-character'],
    ['control character on track 2', () => parseTrack2(b(';4111111111111111=3012101:00?')), 'bad-character'],
    ['lower case on track 1', () => parseTrack1(b('%B4111111111111111^test/visa^3012101?')), 'bad-character'],
    ['format code', () => parseTrack1(b('%A4111111111111111^TEST/VISA^3012101?')), 'bad-format'],
    ['no separator on track 2', () => parseTrack2(b(';41111111111111113012101000?')), 'bad-format'],
    ['no separator after the name', () => parseTrack1(b('%B4111111111111111^TEST/VISA 3012101000?')), 'bad-format'],
    ['name too short', () => parseTrack1(b('%B4111111111111111^X^3012101000?')), 'bad-format'],
    ['month 13', () => parseTrack2(b(';4111111111111111=3013101?')), 'bad-format'],
    ['card number of 11 digits', () => parseTrack2(b(';41111111111=3012101000000?')), 'bad-format'],
    ['card number of 20 digits', () => parseTrack2(b(';41111111111111111111=3012101?')), 'bad-format'],
    ['wrong check digit', () => parseTrack2(b(';4111111111111112=3012101?')), 'bad-pan'],
    ['track 2 over 40 characters', () => parseTrack2(b(`;4111111111111111=3012101${'0'.repeat(15)}?`)), 'too-long'],
    ['track 1 over 79 characters', () => parseTrack1(b(`%B4111111111111111^TEST/VISA^3012101${'0'.repeat(45)}?`)), 'too-long'],
    ['start sentinel inside track 1 data', () => parseTrack1(b('%B4111111111111111^TEST/VISA^3012101%00?')), 'bad-character'],
    ['the reader marked it unreadable', () => parseTrack2(b(';E?')), 'device-error'],
    ['track 1 marked unreadable', () => parseTrack1(b('%E?')), 'device-error'],
    ['track 1 with no end', () => parseTrack1(b(t1.slice(0, -1))), 'no-end-sentinel'],
  ];
  for (const [what, run, expected] of cases) t.equal(reason(run), expected, what);
  t.equal(reason(() => parseTrack2(b(`;4111111111111111=3012101${'0'.repeat(13)}?`))), 'parsed', '39 characters plus the LRC is the longest track 2');
  try {
    parseTrack2(b(';4111111111111112=3012101?'));
  } catch (err) {
    t.notMatch((err as Error).message, /4111/, 'an error never quotes the card number');
  }
});

t.test('a keyboard swipe: tracks split at the sentinels, with or without LRC', async (t) => {
  const v = TEST_CARDS.visa!;
  const t1 = track1(v);
  const t2 = track2(v);
  t.same(
    splitSwipe(b(t1 + t2)).map((s) => [s.kind, text(s.bytes)]),
    [
      ['track1', t1],
      ['track2', t2],
    ],
  );
  t.same(
    splitSwipe(b(t1 + lrcChar(1, t1) + t2 + lrcChar(2, t2) + ';0123456789?')).map((s) => s.kind),
    ['track1', 'track2', 'track3'],
  );
  const card = readSwipe(b(t1 + lrcChar(1, t1) + t2 + lrcChar(2, t2)));
  t.equal(text(card.pan), v.pan);
  t.ok(card.track1 && card.track2, 'both tracks kept');
  t.equal(card.track2!.lrcChecked, true);
  t.same(
    splitSwipe(b('junk' + t2)).map((s) => s.kind),
    ['stray', 'track2'],
  );
  t.equal(text(readSwipe(b('junk' + t2)).pan), v.pan, 'stray characters do not spoil a good track');
});

t.test('an LRC that equals the next start sentinel is told apart by what follows it', async (t) => {
  // Find a track 1 whose LRC is ';' (the track 2 start sentinel).
  let t1 = '';
  for (let n = 0; n < 4096 && lrcChar(1, t1) !== ';'; n++) t1 = track1({ ...TEST_CARDS.visa!, discretionary: n.toString(36).toUpperCase() });
  t.equal(lrcChar(1, t1), ';', 'found one');
  const t2 = track2(TEST_CARDS.visa!);
  t.same(
    splitSwipe(b(t1 + ';' + t2)).map((s) => [s.kind, s.bytes.length]),
    [
      ['track1', t1.length + 1],
      ['track2', t2.length],
    ],
    'LRC present: ";;" is the LRC, then the start sentinel',
  );
  t.same(
    splitSwipe(b(t1 + t2)).map((s) => [s.kind, s.bytes.length]),
    [
      ['track1', t1.length],
      ['track2', t2.length],
    ],
    'LRC stripped: ";" followed by a digit starts track 2',
  );
  t.equal(readSwipe(b(t1 + ';' + t2)).track1?.lrcChecked, true);
});

t.test('two tracks: one bad track does not spoil the other; two good ones must agree', async (t) => {
  const v = TEST_CARDS.visa!;
  const m = TEST_CARDS.mastercard!;
  t.equal(text(readTracks({ track1: b(track1(v) + '!'), track2: b(track2(v)) }).pan), v.pan, 'track 1 with a bad LRC, track 2 good');
  t.equal(text(readTracks({ track1: b(track1(v)) }).pan), v.pan, 'track 1 alone');
  t.equal(reason(() => readTracks({ track1: b(track1(v)), track2: b(track2(m)) })), 'tracks-disagree');
  t.equal(reason(() => readTracks({})), 'empty');
  t.equal(reason(() => readSwipe(b(''))), 'empty');
  t.equal(reason(() => readTracks({ track1: b(track1(v) + '!'), track2: b(track2(v).slice(1)) })), 'bad-lrc', 'the most telling reason wins');
  t.equal(reason(() => readSwipe(b('HELLO WORLD 42'))), 'no-start-sentinel', 'garbage');
  t.equal(reason(() => readSwipe(b(track1(v).slice(0, 12) + track2(v).slice(0, 9)))), 'too-short', 'a swipe too fast');
  const card = readSwipe(b(track1(v) + track2(v)));
  const views = [card.pan, card.track1!.raw, card.track1!.name, card.track2!.raw];
  wipeCardData(card);
  t.ok(
    views.every((x) => x.every((byte) => byte === 0)),
    'wiping zero-fills every buffer',
  );
});
