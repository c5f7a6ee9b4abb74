/** Properties of the emulator-side ID-003 wire format (hw-sim/devices/id003/wire.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { CommandParser, MIN_FRAME, SYNC, crc16Kermit, frame } from '../../hw-sim/devices/id003/wire.js';
import {
  check,
  concat,
  cutsArb,
  dataArb,
  flipBit,
  hex,
  mutate,
  mutationArb,
  noiseArb,
  noiseRichIn,
  noiseWithout,
  shadowed,
  splitAt,
} from './fuzz.js';

const MAX_FRAME = 0xff;
const MAX_DATA = MAX_FRAME - MIN_FRAME;
const byte = fc.integer({ min: 0, max: 255 });
const frameArb = fc.record({ cmd: byte, data: dataArb(MAX_DATA) });
const mutatedStreamArb = fc
  .tuple(fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.array(mutationArb, { maxLength: 6 }))
  .map(([frames, mutations]) => mutate(concat(...frames.map((f) => frame(f.cmd, f.data))), mutations));
const anyBytes = fc.oneof(noiseArb, noiseRichIn([SYNC]), mutatedStreamArb);

/** The parser's held bytes: private, read here only to check that they stay bounded. */
const held = (p: CommandParser): number => (p as unknown as { buffer: Uint8Array }).buffer.length;

interface Run {
  frames: string[];
  garbageBytes: number;
  badFrames: number;
  held: number;
  pushed: number;
}

/** A parsed frame as `cc:data…` in hex, and back to its length on the wire. */
const show = (f: { cmd: number; data: Uint8Array }): string => `${hex(Uint8Array.of(f.cmd))}:${hex(f.data)}`;
const wireLength = (shown: string): number => (shown.length - 3) / 2 + MIN_FRAME;

function parse(chunks: readonly Uint8Array[], parser = new CommandParser()): Run {
  const frames: string[] = [];
  let pushed = 0;
  for (const chunk of chunks) {
    pushed += chunk.length;
    for (const f of parser.push(chunk)) frames.push(show(f));
    assert.ok(held(parser) < MAX_FRAME, `holds ${held(parser)} bytes`);
    assert.equal(parser.pending, held(parser) > 0);
  }
  return { frames, garbageBytes: parser.garbageBytes, badFrames: parser.badFrames, held: held(parser), pushed };
}

check(
  t,
  'frame → CommandParser round-trips any command byte and data up to 250 bytes',
  fc.property(frameArb, ({ cmd, data }) => {
    const bytes = frame(cmd, data);
    assert.equal(bytes.length, data.length + MIN_FRAME);
    assert.deepEqual(parse([bytes]), { frames: [show({ cmd, data })], garbageBytes: 0, badFrames: 0, held: 0, pushed: bytes.length });
  }),
);

check(
  t,
  'frame refuses data over 250 bytes with a RangeError',
  fc.property(byte, fc.uint8Array({ minLength: MAX_DATA + 1, maxLength: MAX_DATA + 40 }), (cmd, data) => {
    assert.throws(() => frame(cmd, data), RangeError);
  }),
  0.2,
);

check(
  t,
  'CommandParser on random and mutated bytes in random chunks: no throw, bounded buffer, every byte accounted for',
  fc.property(anyBytes, cutsArb, (bytes, cuts) => {
    const parser = new CommandParser();
    const run = parse(splitAt(bytes, cuts), parser);
    // Each bad frame drops its SYNC byte; the rest is garbage, a frame, or still held.
    const inFrames = run.frames.reduce((n, f) => n + wireLength(f), 0);
    assert.equal(run.garbageBytes + run.badFrames + inFrames + run.held, run.pushed);
    let guard = 0;
    while (parser.pending) {
      parser.abandonPartial();
      assert.ok(++guard <= MAX_FRAME, 'abandonPartial makes progress');
    }
  }),
);

check(
  t,
  'CommandParser: a stream split at random points gives the same frames and counts as in one chunk',
  fc.property(anyBytes, cutsArb, (bytes, cuts) => {
    assert.deepEqual(parse(splitAt(bytes, cuts)), parse([bytes]));
  }),
);

check(
  t,
  'CommandParser: a single flipped bit is always detected: never a frame of the same length',
  fc.property(frameArb, fc.nat(), fc.integer({ min: 0, max: 7 }), ({ cmd, data }, at, bit) => {
    const bad = flipBit(frame(cmd, data), at, bit);
    const parser = new CommandParser();
    const found = parser.push(bad);
    assert.ok(found.every((f) => f.data.length !== data.length), `accepted ${found.map(show).join(',')}`);
  }),
);

check(
  t,
  'CommandParser: valid frames with garbage (no SYNC) around them are all found, in order',
  fc.property(
    fc.array(fc.tuple(noiseWithout([SYNC]), frameArb), { minLength: 1, maxLength: 4 }),
    noiseWithout([SYNC]),
    cutsArb,
    (parts, tail, cuts) => {
      const stream = concat(...parts.flatMap(([g, f]) => [g, frame(f.cmd, f.data)]), tail);
      const run = parse(splitAt(stream, cuts));
      assert.deepEqual(run.frames, parts.map(([, f]) => show(f)));
      assert.equal(run.garbageBytes, parts.reduce((n, [g]) => n + g.length, 0) + tail.length);
      assert.equal(run.badFrames, 0);
    },
  ),
);

check(
  t,
  'CommandParser: a valid frame after any garbage is found (giving up stale SYNCs), unless a chance-valid frame in the garbage overlaps it',
  fc.property(noiseArb, frameArb, fc.uint8Array({ maxLength: 16 }), (garbage, { cmd, data }, tail) => {
    const good = frame(cmd, data);
    const stream = concat(garbage, good, tail);
    const parser = new CommandParser();
    const found = parser.push(stream).map(show);
    while (parser.pending) found.push(...parser.abandonPartial().map(show));
    if (found.includes(show({ cmd, data }))) return;
    const excused = shadowed(
      stream,
      garbage.length,
      (p) => (stream[p] === SYNC && p + 1 < stream.length && stream[p + 1]! >= MIN_FRAME ? stream[p + 1]! : undefined),
      (c) => {
        const crc = crc16Kermit(c.subarray(0, c.length - 2));
        return c[c.length - 2] === (crc & 0xff) && c[c.length - 1] === crc >>> 8;
      },
    );
    assert.ok(excused, `frame ${hex(good)} lost in ${hex(stream)}`);
  }),
);
