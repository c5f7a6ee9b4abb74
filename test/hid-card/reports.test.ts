/**
 * The two report formats: boot-keyboard reports typed back into characters (shift, held keys, roll-
 * over, Enter), and the MagTek-style vendor report. The reports come from the reader emulator, which
 * has its own key table and report builder.
 */
import t from 'tap';
import { BOOT_REPORT_LENGTH, KeyboardDecoder, UNKNOWN_KEY, keyToChar } from '../../drivers/keyboard/boot-keyboard.js';
import { TrackError } from '../../drivers/hid-card/tracks.js';
import { VENDOR_REPORT_LENGTH, VendorReportError, parseVendorReport } from '../../drivers/hid-card/vendor.js';
import { TEST_CARDS, keyboardReports, presentedTracks, track1, track2, vendorReport } from '../../hw-sim/devices/hid-card/reports.js';

const report = (mods: number, ...keys: number[]): Buffer => Buffer.from([mods, 0, ...keys, ...Array<number>(6 - keys.length).fill(0)]);
const text = (x: Uint8Array): string => Buffer.from(x).toString('latin1');

t.test('key usages of the keyboard page, US layout', async (t) => {
  t.equal(keyToChar(0x04, false), 0x61, 'a');
  t.equal(keyToChar(0x05, true), 0x42, 'shift b = B');
  t.equal(keyToChar(0x1e, false), 0x31, '1');
  t.equal(keyToChar(0x27, false), 0x30, '0');
  t.equal(keyToChar(0x22, true), 0x25, 'shift 5 = %, track 1 start sentinel');
  t.equal(keyToChar(0x23, true), 0x5e, 'shift 6 = ^, track 1 separator');
  t.equal(keyToChar(0x33, false), 0x3b, '; track 2 start sentinel');
  t.equal(keyToChar(0x2e, false), 0x3d, '= track 2 separator');
  t.equal(keyToChar(0x38, true), 0x3f, 'shift / = ? end sentinel');
  t.equal(keyToChar(0x59, false), 0x31, 'keypad 1');
  t.equal(keyToChar(0x62, false), 0x30, 'keypad 0');
  t.equal(keyToChar(0x28, false), undefined, 'Enter');
  t.equal(keyToChar(0x58, false), undefined, 'keypad Enter');
  t.equal(keyToChar(0x3a, false), UNKNOWN_KEY, 'F1 types nothing a track holds');
});

t.test('the emulator typing each test card comes back character for character', async (t) => {
  for (const [name, card] of Object.entries(TEST_CARDS)) {
    const typed = track1(card) + track2(card);
    const d = new KeyboardDecoder();
    const events = keyboardReports(typed).flatMap((r) => d.push(r));
    t.equal(events.length, 1, `${name}: one swipe`);
    const e = events[0]!;
    t.equal(e.kind, 'entry');
    if (e.kind === 'entry') t.equal(text(e.bytes), typed);
    t.equal(d.pending, 0);
  }
});

t.test('held keys, several keys in one report, roll-over, bad lengths, flush and overflow', async (t) => {
  const d = new KeyboardDecoder(8);
  t.same(d.push(report(0, 0x1e)), []);
  t.same(d.push(report(0, 0x1e)), [], 'a key still held types once');
  t.same(d.push(report(0, 0x1e, 0x1f)), [], 'a second key pressed while the first is held');
  t.same(d.push(report(0, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01)), [], 'error roll-over is ignored');
  t.equal(d.stats.rollOvers, 1);
  t.same(d.push(Buffer.from([0, 0, 0x20])), [], 'a report of the wrong length is ignored');
  t.equal(d.stats.badReports, 1);
  t.equal(BOOT_REPORT_LENGTH, 8);
  d.push(report(0));
  const done = d.push(report(0, 0x28));
  t.same(done.map((e) => (e.kind === 'entry' ? text(e.bytes) : e.kind)), ['12']);
  d.push(report(0));
  d.push(report(0x20, 0x22));
  t.equal(d.pending, 1, 'right shift counts as shift');
  const flushed = d.flush();
  t.same(flushed?.kind === 'entry' ? text(flushed.bytes) : flushed, '%', 'a swipe without Enter is ended by flush');
  t.equal(d.flush(), undefined, 'nothing to flush');
  for (let i = 0; i < 10; i++) {
    d.push(report(0, 0x1e + (i % 10)));
    d.push(report(0));
  }
  t.same(d.push(report(0, 0x28)), [{ kind: 'overflow', length: 10 }], 'more than the buffer holds');
  d.push(report(0, 0x1e));
  d.reset();
  t.equal(d.pending, 0, 'reset drops what was typed');
});

t.test('vendor report: statuses, lengths, encode type and three track fields', async (t) => {
  const visa = TEST_CARDS.visa!;
  const swipe = parseVendorReport(vendorReport(visa, 'none', false));
  t.equal(swipe.encodeType, 'iso-aba');
  t.equal(text(swipe.track1 as Uint8Array), track1(visa));
  t.equal(text(swipe.track2 as Uint8Array), track2(visa));
  t.equal(swipe.track3, undefined, 'no track 3');
  const withLrc = parseVendorReport(vendorReport(visa, 'none', true));
  t.equal(text(withLrc.track2 as Uint8Array), presentedTracks(visa, 'none', true)[1]);
  const fast = parseVendorReport(vendorReport(visa, 'too-fast', false));
  t.ok(fast.track1 instanceof TrackError && fast.track1.reason === 'device-error', 'a track the reader could not decode');
  t.equal(parseVendorReport(vendorReport(visa, 'garbage', false)).encodeType, 'undetermined');
  let wrongSize: unknown;
  try {
    parseVendorReport(Buffer.alloc(64));
  } catch (err) {
    wrongSize = err;
  }
  t.ok(wrongSize instanceof VendorReportError, 'a report of another layout');
  t.match((wrongSize as Error).message, /64 bytes, expected 337/);
  const long = Buffer.alloc(VENDOR_REPORT_LENGTH);
  long[4] = 111;
  t.throws(() => parseVendorReport(long), /track 2 length 111 over 110/);
  const odd = Buffer.alloc(VENDOR_REPORT_LENGTH);
  odd[6] = 9;
  t.equal(parseVendorReport(odd).encodeType, 'unknown');
});
