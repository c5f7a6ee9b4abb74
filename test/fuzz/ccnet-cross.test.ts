/**
 * CCNET cross-checks: the driver (drivers/ccnet) and the emulator (hw-sim/devices/ccnet/wire.ts)
 * share no code, so each side is the other's oracle. Host → validator: encodeFrame into
 * CommandParser; validator → host: frame into parseFrame and FrameSplitter; on any byte stream the
 * two splitters find the same frames; and the driver's decoders never throw on what they are given.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import {
  FrameSplitter,
  decodeReply,
  encodeFrame,
  parseBillTable,
  parseFrame,
  parseIdentification,
} from '../../drivers/ccnet/codec.js';
import { crc16Kermit as driverCrc } from '../../drivers/checksum/crc16.js';
import { SYNC } from '../../drivers/ccnet/constants.js';
import { CommandParser, crc16Kermit as wireCrc, frame, type HostItem } from '../../hw-sim/devices/ccnet/wire.js';
import { check, concat, cutsArb, dataArb, hex, mutate, mutationArb, noiseArb, noiseRichIn, noiseWithout, splitAt } from './fuzz.js';

/** LNG is one byte and counts SYNC, ADR, LNG and the CRC too. */
const MAX_DATA = 0xff - 5;
const validatorData = dataArb(MAX_DATA).filter((d) => d.length > 0);
const show = (address: number, data: Uint8Array): string => `${address}:${hex(data)}`;
const showItem = (i: HostItem): string => (i.kind === 'frame' ? show(i.address, Uint8Array.of(i.cmd, ...i.data)) : 'bad');
/** Frames separated by garbage that holds no SYNC, so that every frame must be found. */
const streamArb = fc.array(fc.tuple(noiseWithout([SYNC], 16), validatorData), { minLength: 1, maxLength: 5 });

t.test('both CRCs give the CRC-16/KERMIT check value', async (t) => {
  const vector = Buffer.from('123456789', 'ascii');
  t.equal(driverCrc(vector), 0x2189);
  t.equal(wireCrc(vector), 0x2189);
});

check(
  t,
  'the table-driven (driver) and bitwise (emulator) CRC-16/KERMIT agree on any bytes and range',
  fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
    const [start, end] = [a % (bytes.length + 1), b % (bytes.length + 1)].sort((x, y) => x - y) as [number, number];
    assert.equal(driverCrc(bytes, start, end), wireCrc(bytes.subarray(start, end)));
  }),
);

check(
  t,
  'driver encodeFrame and emulator frame produce the same bytes for any data',
  fc.property(validatorData, (data) => {
    assert.equal(hex(encodeFrame(data)), hex(frame(data)));
  }),
);

check(
  t,
  'host → validator: driver-encoded frames, with garbage and split anyhow, reach the emulator intact',
  fc.property(streamArb, cutsArb, (parts, cuts) => {
    const stream = concat(...parts.flatMap(([g, d]) => [g, encodeFrame(d)]));
    const parser = new CommandParser();
    const got = splitAt(stream, cuts).flatMap((c) => parser.push(c).map(showItem));
    assert.deepEqual(got, parts.map(([, d]) => show(3, d)));
    assert.equal(parser.badFrames, 0);
    assert.equal(parser.pending, false);
  }),
);

check(
  t,
  'validator → host: emulator frames, with garbage and split anyhow, reach the driver intact',
  fc.property(streamArb, cutsArb, (parts, cuts) => {
    const stream = concat(...parts.flatMap(([g, d]) => [g, frame(d)]));
    const splitter = new FrameSplitter();
    const got = splitAt(stream, cuts).flatMap((c) => splitter.push(c));
    assert.deepEqual(
      got.map((f) => show(f.address, f.data)),
      parts.map(([, d]) => show(3, d)),
    );
    for (const f of got) {
      const again = parseFrame(f.bytes);
      assert.equal(hex(again.data), hex(f.data));
      decodeReply(f); // any frame the emulator can send decodes without throwing
    }
    assert.equal(splitter.stats.badCrc + splitter.stats.badLength, 0);
  }),
);

/** Streams made of frames from both sides (some for other addresses), then damaged; or plain noise. */
const anyStreamArb = fc.oneof(
  noiseArb,
  noiseRichIn([SYNC, 0x03]),
  fc
    .tuple(
      fc.array(fc.tuple(fc.boolean(), fc.constantFrom(1, 2, 3), validatorData), { minLength: 1, maxLength: 4 }),
      fc.array(mutationArb, { maxLength: 6 }),
    )
    .map(([frames, mutations]) =>
      mutate(concat(...frames.map(([driver, address, d]) => (driver ? encodeFrame(d, address) : frame(d)))), mutations),
    ),
);

check(
  t,
  'on any byte stream the driver FrameSplitter and the emulator CommandParser find the same frames and drop the same bytes',
  fc.property(anyStreamArb, cutsArb, (stream, cuts) => {
    const splitter = new FrameSplitter();
    const parser = new CommandParser();
    const a: string[] = [];
    const b: string[] = [];
    const emulatorFrames = (items: HostItem[]) => items.filter((i) => i.kind === 'frame').map(showItem);
    for (const chunk of splitAt(stream, cuts)) {
      a.push(...splitter.push(chunk).map((f) => show(f.address, f.data)));
      b.push(...emulatorFrames(parser.push(chunk)));
      assert.deepEqual(a, b);
      assert.equal(splitter.pending > 0, parser.pending);
    }
    // Then both give up on whatever is left, one SYNC at a time.
    while (splitter.pending > 0) {
      a.push(...splitter.abandonPending().map((f) => show(f.address, f.data)));
      b.push(...emulatorFrames(parser.abandonPartial()));
      assert.deepEqual(a, b);
      assert.equal(splitter.pending > 0, parser.pending);
    }
    assert.equal(parser.pending, false);
    assert.equal(splitter.stats.badCrc, parser.badFrames);
    assert.equal(splitter.stats.droppedBytes, parser.garbageBytes + parser.badFrames);
  }),
);

check(
  t,
  'the driver splitter holds at most one unfinished frame, and every frame it gives checks',
  fc.property(anyStreamArb, cutsArb, (stream, cuts) => {
    const splitter = new FrameSplitter();
    for (const chunk of splitAt(stream, cuts)) {
      for (const f of splitter.push(chunk)) assert.equal(hex(parseFrame(f.bytes).bytes), hex(f.bytes));
      assert.ok(splitter.pending < 0xff);
    }
  }),
);

check(
  t,
  'the reply, bill table and identification decoders never throw on what they accept',
  fc.property(fc.uint8Array({ maxLength: 260 }), (data) => {
    decodeReply(data);
    for (const e of parseBillTable(data)) {
      assert.ok(e.billType >= 0 && e.billType < 24);
      if (e.value !== undefined) assert.ok(Number.isSafeInteger(e.value) && e.value > 0);
    }
    if (data.length >= 34) parseIdentification(data);
    else assert.throws(() => parseIdentification(data), /too short/);
  }),
);

check(
  t,
  'one flipped bit in a frame is always caught',
  fc.property(validatorData, fc.nat(), fc.integer({ min: 0, max: 7 }), (data, at, bit) => {
    const good = encodeFrame(data);
    const bad = Uint8Array.from(good);
    bad[at % bad.length] = bad[at % bad.length]! ^ (1 << bit);
    assert.throws(() => parseFrame(bad));
  }),
);
