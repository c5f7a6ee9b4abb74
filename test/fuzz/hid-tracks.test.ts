/**
 * Properties of the magnetic stripe decoding (drivers/hid-card): tracks, keyboard reports and vendor
 * reports, checked with generated cards and the reader emulator's own encoders.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { KeyboardDecoder } from '../../drivers/keyboard/boot-keyboard.js';
import { maskPan } from '../../drivers/hid-card/mask.js';
import { TrackError, parseTrack1, parseTrack2, readSwipe, readTracks } from '../../drivers/hid-card/tracks.js';
import { VENDOR_REPORT_LENGTH, VendorReportError, parseVendorReport } from '../../drivers/hid-card/vendor.js';
import { keyboardReports, lrcChar, track1, track2, vendorReport, type TestCard } from '../../hw-sim/devices/hid-card/reports.js';
import { check, mutate, mutationArb, noiseArb } from './fuzz.js';

const digits = (min: number, max: number): fc.Arbitrary<string> => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));

/** A card number of 12..19 digits with its check digit. */
const panArb = digits(11, 18).map((body) => {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
});

/** Track 1 name characters: the 6-bit set without the sentinels and the separator. */
const nameChar = fc.integer({ min: 0x20, max: 0x5f }).filter((c) => c !== 0x25 && c !== 0x3f && c !== 0x5e && c !== 0x3b).map((c) => String.fromCharCode(c));

const cardArb: fc.Arbitrary<TestCard> = fc
  .record({
    pan: panArb,
    name: fc.array(nameChar, { minLength: 2, maxLength: 26 }).map((a) => a.join('')),
    year: fc.integer({ min: 0, max: 99 }),
    month: fc.integer({ min: 1, max: 12 }),
    serviceCode: digits(3, 3),
    discretionary: digits(0, 8),
  })
  .map((c) => ({
    pan: c.pan,
    name: c.name,
    expiry: String(c.year).padStart(2, '0') + String(c.month).padStart(2, '0'),
    serviceCode: c.serviceCode,
    discretionary: c.discretionary,
  }));

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Runs `f`; an error other than a TrackError fails the property. */
function tracksOnly<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    assert.ok(e instanceof TrackError, `unexpected ${String(e)}`);
    return undefined;
  }
}

check(
  t,
  'generated cards: both tracks, with and without LRC, read back to the same card',
  fc.property(cardArb, fc.boolean(), (card, lrc) => {
    const t1 = track1(card);
    const t2 = track2(card);
    const swipe = lrc ? t1 + lrcChar(1, t1) + t2 + lrcChar(2, t2) : t1 + t2;
    const read = readSwipe(b(swipe));
    assert.equal(read.pan.toString('latin1'), card.pan);
    assert.equal(read.expiry.toString('latin1'), card.expiry);
    assert.equal(read.track1?.name.toString('latin1'), card.name);
    assert.equal(read.track2?.lrcChecked, lrc);
  }),
);

check(
  t,
  'typed by the emulator as keyboard reports, decoded back to the same characters',
  fc.property(cardArb, (card) => {
    const typed = track1(card) + track2(card);
    const decoder = new KeyboardDecoder();
    const events = keyboardReports(typed).flatMap((r) => decoder.push(r));
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.ok(e.kind === 'entry' && e.bytes.toString('latin1') === typed);
  }),
);

check(
  t,
  'random and mutated swipes give a card or a TrackError, nothing else',
  fc.property(
    fc.oneof(
      noiseArb,
      fc.tuple(cardArb, fc.array(mutationArb, { minLength: 1, maxLength: 6 })).map(([c, ms]) => mutate(b(track1(c) + track2(c)), ms)),
    ),
    (bytes) => {
      const card = tracksOnly(() => readSwipe(bytes));
      if (card) assert.ok(card.pan.length >= 12 && card.pan.length <= 19);
    },
  ),
);

check(
  t,
  'with the LRC present, one flipped data bit of a character before the end sentinel is always caught',
  fc.property(cardArb, fc.boolean(), fc.nat(), fc.nat(), (card, first, at, bitPick) => {
    const track = first ? 1 : 2;
    const text = track === 1 ? track1(card) : track2(card);
    const withLrc = b(text + lrcChar(track, text));
    // The end sentinel is left alone: flipped, it can leave an LRC of '?' to stand in for it.
    const i = at % (text.length - 1);
    const bits = track === 1 ? 6 : 4;
    const base = track === 1 ? 0x20 : 0x30;
    const flipped = ((withLrc[i]! - base) ^ (1 << bitPick % bits)) + base;
    const damaged = Buffer.from(withLrc);
    damaged[i] = flipped;
    const parse = track === 1 ? parseTrack1 : parseTrack2;
    assert.equal(tracksOnly(() => parse(damaged)), undefined, `accepted ${damaged.toString('latin1')}`);
  }),
);

check(
  t,
  'random boot-keyboard reports never throw and never grow the buffer past its size',
  fc.property(fc.array(fc.oneof(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ maxLength: 12 })), { maxLength: 200 }), (reports) => {
    const decoder = new KeyboardDecoder(64);
    for (const r of reports) {
      for (const e of decoder.push(r)) {
        if (e.kind === 'entry') {
          assert.ok(e.bytes.length <= 64);
          tracksOnly(() => readSwipe(e.bytes));
        }
      }
    }
  }),
);

check(
  t,
  'vendor reports: emulator reports of generated cards read back; random ones give the layout error, a card or a TrackError',
  fc.property(cardArb, fc.uint8Array({ minLength: VENDOR_REPORT_LENGTH, maxLength: VENDOR_REPORT_LENGTH }), noiseArb, (card, random, short) => {
    const swipe = parseVendorReport(vendorReport(card, 'none', false));
    const read = readTracks({ track1: swipe.track1!, track2: swipe.track2! });
    assert.equal(read.pan.toString('latin1'), card.pan);
    for (const bytes of [random, short]) {
      try {
        const s = parseVendorReport(bytes);
        tracksOnly(() => readTracks({ ...(s.track1 ? { track1: s.track1 } : {}), ...(s.track2 ? { track2: s.track2 } : {}) }));
      } catch (e) {
        assert.ok(e instanceof VendorReportError || e instanceof TrackError, `unexpected ${String(e)}`);
      }
    }
  }),
);

check(
  t,
  'a masked card number shows at most the first 6 and last 4 digits and hides at least 4',
  fc.property(panArb, (pan) => {
    const masked = maskPan(b(pan));
    assert.equal(masked.length, pan.length);
    const shown = [...masked].filter((c) => c !== '*').length;
    assert.ok(shown <= 10 && pan.length - shown >= 4, masked);
    assert.ok(pan.endsWith(masked.slice(-4).replace(/\*/g, '')));
    for (let i = 0; i < pan.length; i++) if (masked[i] !== '*') assert.equal(masked[i], pan[i]);
  }),
);
