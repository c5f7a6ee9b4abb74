/**
 * Properties of the ZVT codec (drivers/zvt/codec.ts, framing.ts, messages.ts) and its agreement with
 * the terminal emulator's own wire code (hw-sim/devices/zvt/wire.ts).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import {
  ApduSplitter,
  ZvtCodecError,
  decodeApdu,
  decodeBcd,
  encodeApdu,
  encodeBcd,
  encodeBmps,
  encodeTlv,
  parseBmps,
  parseTlv,
  type BmpField,
  type TlvObject,
} from '../../drivers/zvt/codec.js';
import { BMP_FORMATS } from '../../drivers/zvt/constants.js';
import { crc16Kermit as crcCcitt } from '../../drivers/checksum/crc16.js';
import { DLE, FrameReader, encodeFrame, type SerialEvent } from '../../drivers/zvt/framing.js';
import { classify } from '../../drivers/zvt/messages.js';
import * as wire from '../../hw-sim/devices/zvt/wire.js';
import { check, concat, cutsArb, hex, mutate, mutationArb, noiseArb, noiseRichIn, splitAt } from './fuzz.js';

const byte = fc.integer({ min: 0, max: 255 });
const dataArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 250, maxLength: 600 }) },
);
const apduArb = fc.record({ cls: byte, instr: byte, data: dataArb });
const apdusArb = fc.array(apduArb, { minLength: 1, maxLength: 4 });
const encoded = (a: { cls: number; instr: number; data: Uint8Array }): Buffer => encodeApdu(a.cls, a.instr, a.data);
const mutatedApdusArb = fc.tuple(apdusArb, fc.array(mutationArb, { maxLength: 6 })).map(([as, ms]) => mutate(concat(...as.map(encoded)), ms));
const anyBytes = fc.oneof(noiseArb, noiseRichIn([0xff, 0x10, 0x02, 0x03, 0x06, 0x15, 0x80, 0x84]), mutatedApdusArb);

/** Runs `f`; an error other than the codec's own fails the property. */
function codecOnly<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    assert.ok(e instanceof ZvtCodecError, `unexpected ${String(e)}`);
    return undefined;
  }
}

check(
  t,
  'encodeApdu → decodeApdu round-trips any control field and data, short and extended lengths',
  fc.property(apduArb, (a) => {
    const bytes = encoded(a);
    assert.equal(bytes.length, a.data.length + (a.data.length < 255 ? 3 : 5));
    const back = decodeApdu(bytes);
    assert.equal(back.cls, a.cls);
    assert.equal(back.instr, a.instr);
    assert.equal(hex(back.data), hex(a.data));
  }),
);

check(
  t,
  'decodeApdu on random and mutated bytes: an APDU that re-decodes the same, or a ZvtCodecError',
  fc.property(anyBytes, (bytes) => {
    const a = codecOnly(() => decodeApdu(bytes));
    if (a) assert.deepEqual(decodeApdu(encoded(a)), a);
  }),
);

check(
  t,
  'the TCP splitter: a split stream gives what the whole gives, and it never holds more than one APDU',
  fc.property(fc.oneof(apdusArb.map((as) => concat(...as.map(encoded))), anyBytes), cutsArb, (stream, cuts) => {
    const whole = new ApduSplitter().push(stream).map((a) => `${a.cls}.${a.instr}.${hex(a.data)}`);
    const s = new ApduSplitter();
    const parts: string[] = [];
    for (const chunk of splitAt(stream, cuts)) {
      parts.push(...s.push(chunk).map((a) => `${a.cls}.${a.instr}.${hex(a.data)}`));
      assert.ok(s.pending < 0xffff + 5, `pending ${s.pending}`);
    }
    assert.deepEqual(parts, whole);
  }),
);

check(
  t,
  'BCD round-trips, and random bytes decode or throw the codec error',
  fc.property(fc.integer({ min: 1, max: 7 }), fc.nat(), fc.uint8Array({ maxLength: 8 }), (size, n, random) => {
    const value = n % 10 ** Math.min(size * 2, 15);
    assert.equal(decodeBcd(encodeBcd(value, size)), value);
    codecOnly(() => decodeBcd(random));
  }),
);

/** A valid field for any BMP of the table. */
const fieldArb: fc.Arbitrary<BmpField> = fc.constantFrom(...BMP_FORMATS.keys()).chain((id) => {
  const format = BMP_FORMATS.get(id)!;
  const size =
    format === 'tlv'
      ? fc.uint8Array({ maxLength: 300 })
      : 'fixed' in format
        ? fc.uint8Array({ minLength: format.fixed, maxLength: format.fixed })
        : fc.uint8Array({ maxLength: format.var === 2 ? 99 : 400 });
  return size.map((value) => ({ id, value: Buffer.from(value) }));
});

check(
  t,
  'BMPs: encode → parse gives the fields back',
  fc.property(fc.array(fieldArb, { maxLength: 6 }), (fields) => {
    const back = parseBmps(encodeBmps(fields)).fields;
    assert.deepEqual(
      back.map((f) => [f.id, hex(f.value)]),
      fields.map((f) => [f.id, hex(f.value)]),
    );
  }),
);

check(
  t,
  'BMPs from random and mutated bytes: strict parse or the codec error; lenient never throws; parse ∘ encode ∘ parse = parse',
  fc.property(fc.oneof(anyBytes, fc.tuple(fc.array(fieldArb, { maxLength: 5 }), fc.array(mutationArb, { maxLength: 4 })).map(([fs, ms]) => mutate(encodeBmps(fs), ms))), (bytes) => {
    const strict = codecOnly(() => parseBmps(bytes));
    const lenient = parseBmps(bytes, true);
    if (strict) {
      assert.equal(lenient.error, undefined);
      const again = parseBmps(encodeBmps(strict.fields)).fields;
      assert.deepEqual(
        again.map((f) => [f.id, hex(f.value)]),
        strict.fields.map((f) => [f.id, hex(f.value)]),
      );
    } else {
      assert.ok(lenient.error instanceof ZvtCodecError);
    }
  }),
);

const tagArb = fc.oneof(
  byte.filter((b) => (b & 0x1f) !== 0x1f && (b & 0x20) === 0),
  fc.integer({ min: 0, max: 0x7f }).map((b) => 0x1f00 | b),
);

check(
  t,
  'TLV: primitive objects round-trip; random bytes parse or throw the codec error, and never nest without end',
  fc.property(fc.array(fc.record({ tag: tagArb, value: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 5 }), anyBytes, (objects, random) => {
    const back = parseTlv(encodeTlv(objects));
    assert.deepEqual(
      back.map((o) => [o.tag, hex(o.value)]),
      objects.map((o) => [o.tag, hex(o.value)]),
    );
    const parsed = codecOnly(() => parseTlv(random));
    const depth = (os: TlvObject[]): number => Math.max(0, ...os.map((o) => 1 + depth(o.children ?? [])));
    if (parsed) assert.ok(depth(parsed) <= 9);
  }),
);

check(
  t,
  'reading any APDU the terminal might send never throws',
  fc.property(apduArb, fc.constantFrom([0x04, 0x0f], [0x04, 0xff], [0x06, 0xd1], [0x06, 0xd3], [0x06, 0x0f], [0x06, 0x1e], [0x80, 0x00], [0x84, 0x9c]), (a, ctrl) => {
    const m = classify({ cls: ctrl[0]!, instr: ctrl[1]!, data: Buffer.from(a.data) });
    assert.equal(typeof m.kind, 'string');
  }),
);

// ------------------------------------------------------------------------------ serial framing

function read(chunks: readonly Uint8Array[]): { events: string[]; reader: FrameReader } {
  const reader = new FrameReader();
  const events: string[] = [];
  const show = (e: SerialEvent): string => (e.kind === 'frame' ? `frame:${hex(e.apdu)}` : e.kind === 'bad-frame' ? `bad:${e.reason}` : e.kind);
  for (const c of chunks) {
    events.push(...reader.push(c).map(show));
    assert.ok(reader.pending <= 0xffff + 5, `pending ${reader.pending}`);
  }
  return { events, reader };
}

check(
  t,
  'frames: encode → read round-trips, and a split stream reads like the whole',
  fc.property(apdusArb, cutsArb, (as, cuts) => {
    const stream = concat(...as.map((a) => encodeFrame(encoded(a))));
    const whole = read([stream]).events;
    assert.deepEqual(
      whole,
      as.map((a) => `frame:${hex(encoded(a))}`),
    );
    assert.deepEqual(read(splitAt(stream, cuts)).events, whole);
  }),
);

check(
  t,
  'the frame reader on random and mutated bytes never throws and never grows without bound',
  fc.property(fc.oneof(anyBytes, fc.tuple(apdusArb, fc.array(mutationArb, { maxLength: 6 })).map(([as, ms]) => mutate(concat(...as.map((a) => encodeFrame(encoded(a)))), ms))), cutsArb, (bytes, cuts) => {
    read(splitAt(bytes, cuts));
  }),
);

check(
  t,
  'one flipped bit in a data byte of a frame (not making or unmaking a DLE) is always caught by the CRC',
  fc.property(apduArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (a, at, bit) => {
    const apdu = encoded(a);
    const i = at % apdu.length;
    const flipped = apdu[i]! ^ (1 << bit);
    fc.pre(apdu[i] !== DLE && flipped !== DLE);
    const frame = encodeFrame(apdu);
    // The byte's position in the frame: after DLE STX and the doubled DLEs before it.
    const position = 2 + i + apdu.subarray(0, i).filter((b) => b === DLE).length;
    const damaged = Buffer.from(frame);
    damaged[position] = flipped;
    const { events } = read([damaged]);
    assert.ok(!events.some((e) => e.startsWith('frame:')), `accepted ${events.join(' ')}`);
  }),
);

// ------------------------------------------------------------------------------ driver ⇄ emulator

check(
  t,
  'the emulator and the driver agree byte for byte: APDUs, CRC, frames, both readers',
  fc.property(apduArb, cutsArb, (a, cuts) => {
    const driverApdu = encoded(a);
    const emulatorApdu = wire.apdu(a.cls, a.instr, a.data);
    assert.equal(hex(emulatorApdu), hex(driverApdu));
    assert.equal(wire.crc16(driverApdu), crcCcitt(driverApdu));
    assert.equal(hex(wire.frame(driverApdu)), hex(encodeFrame(driverApdu)));
    const parser = new wire.FrameParser();
    const events = splitAt(encodeFrame(driverApdu), cuts).flatMap((c) => parser.feed(c));
    assert.deepEqual(
      events.map((e) => (e.type === 'message' ? hex(e.bytes) : e.type)),
      [hex(driverApdu)],
    );
    assert.equal(wire.messageLength(driverApdu), driverApdu.length);
    const m = wire.readMessage(driverApdu);
    assert.deepEqual([m.cls, m.instr, hex(m.data)], [a.cls, a.instr, hex(a.data)]);
  }),
);

check(
  t,
  'the emulator reads the amounts and receipt numbers the driver writes',
  fc.property(fc.integer({ min: 1, max: 999_999_999_999 }), fc.integer({ min: 0, max: 9999 }), (amount, receipt) => {
    const data = Buffer.concat([Buffer.from([0x04]), encodeBcd(amount, 6), Buffer.from([0x87]), encodeBcd(receipt, 2)]);
    assert.deepEqual(wire.commandFields(data), { amount, receipt });
    assert.equal(hex(wire.bcd(amount, 6)), hex(encodeBcd(amount, 6)));
    assert.equal(wire.fromBcd(encodeBcd(amount, 6)), amount);
  }),
);
