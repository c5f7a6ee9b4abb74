/** Properties of the printer emulator's ESC/POS decoder (hw-sim/devices/escpos/decoder.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import t from 'tap';
import { encodeText } from '../../drivers/escpos/encoder.js';
import { EscposDecoder, type EscposEvent } from '../../hw-sim/devices/escpos/decoder.js';
import { check, concat, cutsArb, mutate, mutationArb, noiseArb, splitAt } from './fuzz.js';

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const DLE = 0x10;

/** Second bytes the decoder knows, per prefix (plus any byte, for the unknown ones). */
const SECOND: Readonly<Record<number, readonly number[]>> = {
  [ESC]: [
    0x20, 0x24, 0x25, 0x32, 0x33, 0x3c, 0x3d, 0x3f, 0x47, 0x4a, 0x4c, 0x4d, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x5c, 0x65,
    0x70, 0x72, 0x75, 0x76, 0x7b, 0x40, 0x69, 0x6d, 0x61, 0x45, 0x2d, 0x64, 0x74, 0x21, 0x44, 0x2a, 0x26, 0x63,
  ],
  [GS]: [
    0x24, 0x2f, 0x3a, 0x42, 0x48, 0x49, 0x4c, 0x50, 0x54, 0x57, 0x5c, 0x5e, 0x62, 0x66, 0x67, 0x68, 0x72, 0x77, 0x21, 0x61,
    0x56, 0x28, 0x6b, 0x76, 0x2a, 0x38,
  ],
  [FS]: [0x26, 0x2e, 0x21, 0x2d, 0x3f, 0x43, 0x53, 0x57, 0x70, 0x28, 0x32],
  [DLE]: [0x04, 0x05, 0x14],
};

/** Parameter bytes: mostly small (so that announced lengths stay short) or meaningful values. */
const paramArb = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 4 }) },
  { weight: 2, arbitrary: fc.constantFrom(0x00, 0x30, 0x31, 0x32, 0x33, 0x41, 0x42, 0x43, 0x45, 0x50, 0x51, 0x52, 0x6b, 0x61, 0x67) },
);

const commandArb = fc
  .tuple(
    fc.constantFrom(ESC, GS, FS, DLE),
    fc.nat(),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 4 }).map((n) => n > 0),
    fc.array(paramArb, { maxLength: 8 }),
  )
  .map(([prefix, pick, any, known, params]) => {
    const seconds = SECOND[prefix]!;
    return Uint8Array.from([prefix, known ? seconds[pick % seconds.length]! : any, ...params]);
  });

const textArb = fc.string({ maxLength: 12 }).map((s) => Uint8Array.from(Buffer.from(s, 'latin1')));
const gbArb = fc
  .array(fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0x30, max: 0x39 }), fc.integer({ min: 0x40, max: 0xfe })), {
    minLength: 1,
    maxLength: 6,
  })
  .map((a) => Uint8Array.from(a));
/** A QR store or print with its true length: the family most receipts end with. */
const qrArb = fc.tuple(fc.constantFrom(0x41, 0x43, 0x45, 0x50, 0x51, 0x52, 0x00), fc.uint8Array({ maxLength: 40 })).map(([fn, body]) => {
  const length = body.length + 2;
  return Uint8Array.from([GS, 0x28, 0x6b, length & 0xff, length >> 8, 0x31, fn, ...body]);
});

const tokenArb = fc.oneof(
  { weight: 4, arbitrary: commandArb },
  { weight: 3, arbitrary: textArb },
  { weight: 2, arbitrary: gbArb },
  { weight: 1, arbitrary: qrArb },
  { weight: 1, arbitrary: fc.constantFrom(Uint8Array.of(0x0a), Uint8Array.of(0x0d), Uint8Array.of(0x09), Uint8Array.of(0x00)) },
);
const tokenStreamArb = fc.array(tokenArb, { maxLength: 40 }).map((tokens) => concat(...tokens));
const anyBytes = fc.oneof(
  noiseArb,
  tokenStreamArb,
  fc.tuple(tokenStreamArb, fc.array(mutationArb, { maxLength: 6 })).map(([s, m]) => mutate(s, m)),
);
const optionsArb = fc.record({ chineseByDefault: fc.boolean() });

const KINDS = new Set([
  'text', 'line-feed', 'initialize', 'align', 'bold', 'underline', 'size', 'feed', 'code-table', 'chinese-mode', 'qr-model',
  'qr-module-size', 'qr-error-correction', 'qr-store', 'qr-print', 'barcode', 'cut', 'status-request', 'recover',
  'auto-status', 'command', 'notice',
]);

interface Decoded {
  events: EscposEvent[];
  midCommand: boolean;
}

function decode(chunks: readonly Uint8Array[], decoder: EscposDecoder): Decoded {
  const events: EscposEvent[] = [];
  for (const c of chunks) events.push(...decoder.push(c));
  const midCommand = decoder.midCommand;
  events.push(...decoder.flush());
  return { events, midCommand };
}

check(
  t,
  'any bytes in any chunks: no throw, and only well-formed events (text runs merged, never empty)',
  fc.property(anyBytes, cutsArb, optionsArb, (bytes, cuts, options) => {
    const { events } = decode(splitAt(bytes, cuts), new EscposDecoder(options));
    events.forEach((e, i) => {
      assert.ok(KINDS.has(e.kind), `unknown event kind ${e.kind}`);
      if (e.kind === 'text') {
        assert.ok(e.text.length > 0, 'no empty text event');
        assert.notEqual(events[i + 1]?.kind, 'text', 'adjacent text runs are merged');
      }
      if (e.kind === 'notice' || e.kind === 'command') assert.equal(typeof (e.kind === 'notice' ? e.message : e.name), 'string');
    });
  }),
);

check(
  t,
  'a stream split at random points decodes exactly as in one chunk',
  fc.property(anyBytes, cutsArb, optionsArb, (bytes, cuts, options) => {
    assert.deepEqual(decode(splitAt(bytes, cuts), new EscposDecoder(options)), decode([bytes], new EscposDecoder(options)));
  }),
);

check(
  t,
  'a stream fed one byte at a time decodes exactly as in one chunk',
  fc.property(tokenStreamArb, optionsArb, (bytes, options) => {
    const single = Array.from(bytes, (b) => Uint8Array.of(b));
    assert.deepEqual(decode(single, new EscposDecoder(options)), decode([bytes], new EscposDecoder(options)));
  }),
  0.5,
);

check(
  t,
  'printable ASCII in any chunks is one text event with the same characters',
  fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 200 }), cutsArb, (s, cuts) => {
    const { events } = decode(splitAt(Uint8Array.from(Buffer.from(s, 'latin1')), cuts), new EscposDecoder());
    assert.deepEqual(events, s.length > 0 ? [{ kind: 'text', text: s }] : []);
  }),
);

const receipt = concat(
  Uint8Array.of(ESC, 0x40, FS, 0x26, ESC, 0x61, 1, GS, 0x21, 0x11),
  Uint8Array.from(iconv.encode('示例电信 自助缴费', 'gb18030')),
  Uint8Array.of(0x0a, GS, 0x21, 0x00, ESC, 0x61, 0),
  Uint8Array.from(Buffer.from('Amount: 100.00', 'latin1')),
  Uint8Array.of(0x0a, GS, 0x56, 0x42, 3),
);

check(
  t,
  'after any garbage, reset() (a power cycle) leaves the decoder as new: a receipt decodes as on a fresh decoder',
  fc.property(anyBytes, optionsArb, (garbage, options) => {
    const used = new EscposDecoder(options);
    used.push(garbage);
    used.reset();
    assert.equal(used.midCommand, false);
    assert.deepEqual(decode([receipt], used), decode([receipt], new EscposDecoder(options)));
  }),
);

/** What encodeText promises to print for one character (see glyph() in drivers/escpos/encoder.ts). */
function printed(char: string): string {
  const c = char === '\u00a5' ? '\uffe5' : char;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return ' ';
  const bytes = iconv.encode(c, 'gb18030');
  return bytes.length <= 2 ? iconv.decode(bytes, 'gb18030') : '?';
}

const cjkArb = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0x2fff }),
  fc.integer({ min: 0x3000, max: 0x33ff }),
  fc.integer({ min: 0x4e00, max: 0x9fff }),
  fc.integer({ min: 0xe000, max: 0xffff }),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
  fc.constantFrom(0x00, 0x0a, 0xa5, 0xffe5, 0x20ac, 0x3000),
);

check(
  t,
  'cross-check: any text the driver encoder sends comes out of the decoder as the characters it promises to print',
  fc.property(fc.array(cjkArb, { maxLength: 40 }), cutsArb, (codes, cuts) => {
    const text = String.fromCodePoint(...codes);
    const { events } = decode(splitAt(Uint8Array.from(encodeText(text)), cuts), new EscposDecoder({ chineseByDefault: true }));
    const expected = Array.from(text, printed).join('');
    assert.deepEqual(events, expected.length > 0 ? [{ kind: 'text', text: expected }] : []);
  }),
);
