/**
 * ID-003 cross-checks: the driver (drivers/id003) and the emulator (hw-sim/devices/id003/wire.ts)
 * share no code, so each side is the other's oracle. Host → acceptor: encodeCommand into
 * CommandParser; acceptor → host: frame into parseFrame and FrameSplitter; and on any byte stream
 * the two splitters must find the same frames.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { FrameSplitter, decodeStatus, encodeCommand, parseFrame } from '../../drivers/id003/codec.js';
import { crc16Kermit as driverCrc } from '../../drivers/checksum/crc16.js';
import { MAX_FRAME_LENGTH, MIN_FRAME_LENGTH, SYNC } from '../../drivers/id003/constants.js';
import { CommandParser, crc16Kermit as wireCrc, frame } from '../../hw-sim/devices/id003/wire.js';
import { check, concat, cutsArb, dataArb, hex, mutate, mutationArb, noiseArb, noiseRichIn, noiseWithout, splitAt } from './fuzz.js';

const MAX_DATA = MAX_FRAME_LENGTH - MIN_FRAME_LENGTH;
const byte = fc.integer({ min: 0, max: 255 });
const frameArb = fc.record({ cmd: byte, data: dataArb(MAX_DATA) });
const show = (f: { cmd: number; data: Uint8Array }): string => `${hex(Uint8Array.of(f.cmd))}:${hex(f.data)}`;
/** Frames separated by garbage that holds no SYNC, so that every frame must be found. */
const streamArb = fc.array(fc.tuple(noiseWithout([SYNC], 16), frameArb), { minLength: 1, maxLength: 5 });

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
  'driver encodeCommand and emulator frame produce the same bytes for any command and data',
  fc.property(frameArb, ({ cmd, data }) => {
    assert.equal(hex(encodeCommand(cmd, data)), hex(frame(cmd, data)));
  }),
);

check(
  t,
  'host → acceptor: driver-encoded commands, with garbage and split anyhow, reach the emulator intact',
  fc.property(streamArb, cutsArb, (parts, cuts) => {
    const stream = concat(...parts.flatMap(([g, f]) => [g, encodeCommand(f.cmd, f.data)]));
    const parser = new CommandParser();
    const got = splitAt(stream, cuts).flatMap((c) => parser.push(c).map(show));
    assert.deepEqual(got, parts.map(([, f]) => show(f)));
    assert.equal(parser.badFrames, 0);
    assert.equal(parser.pending, false);
  }),
);

check(
  t,
  'acceptor → host: emulator frames, with garbage and split anyhow, reach the driver intact',
  fc.property(streamArb, cutsArb, (parts, cuts) => {
    const stream = concat(...parts.flatMap(([g, f]) => [g, frame(f.cmd, f.data)]));
    const splitter = new FrameSplitter();
    const got = splitAt(stream, cuts).flatMap((c) => splitter.push(c));
    assert.deepEqual(got.map(show), parts.map(([, f]) => show(f)));
    for (const [i, f] of got.entries()) {
      const [, sent] = parts[i]!;
      assert.equal(hex(f.bytes), hex(frame(sent.cmd, sent.data)));
      assert.equal(show(parseFrame(f.bytes)), show(sent));
      decodeStatus(f); // any frame the emulator can send decodes without throwing
    }
    assert.equal(splitter.stats.badCrc + splitter.stats.badLength, 0);
  }),
);

/** Streams made of frames from both sides, then damaged; or plain noise. */
const anyStreamArb = fc.oneof(
  noiseArb,
  noiseRichIn([SYNC]),
  fc
    .tuple(fc.array(fc.tuple(fc.boolean(), frameArb), { minLength: 1, maxLength: 4 }), fc.array(mutationArb, { maxLength: 6 }))
    .map(([frames, mutations]) =>
      mutate(concat(...frames.map(([driver, f]) => (driver ? encodeCommand(f.cmd, f.data) : frame(f.cmd, f.data)))), mutations),
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
    for (const chunk of splitAt(stream, cuts)) {
      a.push(...splitter.push(chunk).map(show));
      b.push(...parser.push(chunk).map(show));
      assert.deepEqual(a, b);
      assert.equal(splitter.pending > 0, parser.pending);
    }
    // Then both give up on whatever is left, one SYNC at a time.
    while (splitter.pending > 0) {
      a.push(...splitter.abandonPending().map(show));
      b.push(...parser.abandonPartial().map(show));
      assert.deepEqual(a, b);
      assert.equal(splitter.pending > 0, parser.pending);
    }
    assert.equal(parser.pending, false);
    assert.equal(splitter.stats.badCrc, parser.badFrames);
    assert.equal(splitter.stats.droppedBytes, parser.garbageBytes + parser.badFrames);
  }),
);
