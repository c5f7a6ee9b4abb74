/** Properties of the emulator-side ccTalk wire format (hw-sim/devices/cctalk/wire.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import {
  FRAME_OVERHEAD,
  HOST_ADDRESS,
  HostFrameParser,
  checksum8,
  crc16Xmodem,
  encodeFrame,
  type CctalkFrame,
  type CheckMode,
} from '../../hw-sim/devices/cctalk/wire.js';
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

const MAX_DATA = 255;
const MAX_FRAME = FRAME_OVERHEAD + MAX_DATA;
const byte = fc.integer({ min: 0, max: 255 });
const modeArb = fc.constantFrom<CheckMode>('checksum8', 'crc16');
/** A frame from the host: source 1 (with CRC-16 the source slot holds the CRC anyway). */
const hostFrameArb = fc.record({ dest: byte, header: byte, data: dataArb(MAX_DATA) });
const encodeHost = (f: { dest: number; header: number; data: Uint8Array }, mode: CheckMode): Uint8Array =>
  encodeFrame(f.dest, HOST_ADDRESS, f.header, f.data, mode);
const mutatedStreamArb = fc
  .tuple(fc.array(hostFrameArb, { minLength: 1, maxLength: 4 }), modeArb, fc.array(mutationArb, { maxLength: 6 }))
  .map(([frames, mode, mutations]) => mutate(concat(...frames.map((f) => encodeHost(f, mode))), mutations));
const anyBytes = fc.oneof(noiseArb, noiseRichIn([HOST_ADDRESS]), mutatedStreamArb);

const show = (f: CctalkFrame): string => `${f.dest}>${f.source ?? '-'}/${f.header}:${hex(f.data)}`;
const expected = (f: { dest: number; header: number; data: Uint8Array }, mode: CheckMode): string =>
  show({ ...f, source: mode === 'checksum8' ? HOST_ADDRESS : undefined });

/** The parser's held bytes: private, read here only to check that they stay bounded. */
const held = (p: HostFrameParser): number => (p as unknown as { buffer: Uint8Array }).buffer.length;

interface Run {
  frames: string[];
  frameBytes: number;
  skippedBytes: number;
  badChecks: number;
  held: number;
  pushed: number;
}

function parse(chunks: readonly Uint8Array[], parser: HostFrameParser): Run {
  const frames: string[] = [];
  let frameBytes = 0;
  let pushed = 0;
  for (const chunk of chunks) {
    pushed += chunk.length;
    for (const f of parser.push(chunk)) {
      frames.push(show(f));
      frameBytes += FRAME_OVERHEAD + f.data.length;
    }
    assert.ok(held(parser) < MAX_FRAME, `holds ${held(parser)} bytes`);
    assert.equal(parser.pending, held(parser) > 0);
  }
  return { frames, frameBytes, skippedBytes: parser.skippedBytes, badChecks: parser.badChecks, held: held(parser), pushed };
}

/** The check the emulator applies, written out again from the frame layout. */
function valid(c: Uint8Array, mode: CheckMode): boolean {
  if (mode === 'checksum8') return c.reduce((s, b) => s + b, 0) % 256 === 0;
  const crc = crc16Xmodem([c[0]!, c[1]!, ...c.subarray(3, c.length - 1)]);
  return c[2] === (crc & 0xff) && c[c.length - 1] === crc >>> 8;
}

check(
  t,
  'encodeFrame → HostFrameParser round-trips any host frame (data up to 255 bytes) in both modes',
  fc.property(hostFrameArb, modeArb, (f, mode) => {
    const bytes = encodeHost(f, mode);
    assert.equal(bytes.length, FRAME_OVERHEAD + f.data.length);
    assert.deepEqual(parse([bytes], new HostFrameParser(mode)), {
      frames: [expected(f, mode)],
      frameBytes: bytes.length,
      skippedBytes: 0,
      badChecks: 0,
      held: 0,
      pushed: bytes.length,
    });
  }),
);

check(
  t,
  'encodeFrame refuses data over 255 bytes with a RangeError',
  fc.property(fc.uint8Array({ minLength: MAX_DATA + 1, maxLength: MAX_DATA + 40 }), modeArb, (data, mode) => {
    assert.throws(() => encodeFrame(2, HOST_ADDRESS, 0, data, mode), RangeError);
  }),
  0.2,
);

check(
  t,
  'checksum8 makes the bytes sum to 0 mod 256; a message followed by its CRC-16 (high byte first) leaves 0',
  fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.equal((bytes.reduce((s, b) => s + b, 0) + checksum8(bytes)) % 256, 0);
    const crc = crc16Xmodem(bytes);
    assert.equal(crc16Xmodem(concat(bytes, Uint8Array.of(crc >>> 8, crc & 0xff))), 0);
  }),
);

check(
  t,
  'HostFrameParser on random and mutated bytes in random chunks: no throw, bounded buffer, every byte accounted for',
  fc.property(anyBytes, cutsArb, modeArb, (bytes, cuts, mode) => {
    const parser = new HostFrameParser(mode);
    const run = parse(splitAt(bytes, cuts), parser);
    assert.equal(run.skippedBytes + run.frameBytes + run.held, run.pushed);
    assert.ok(run.badChecks <= run.skippedBytes);
    parser.discardPartial();
    assert.equal(parser.pending, false);
    assert.equal(parser.skippedBytes + run.frameBytes, run.pushed);
  }),
);

check(
  t,
  'HostFrameParser: a stream split at random points gives the same frames and counts as in one chunk',
  fc.property(anyBytes, cutsArb, modeArb, (bytes, cuts, mode) => {
    assert.deepEqual(parse(splitAt(bytes, cuts), new HostFrameParser(mode)), parse([bytes], new HostFrameParser(mode)));
  }),
);

check(
  t,
  'HostFrameParser: a single flipped bit is always detected: never a frame of the same length',
  fc.property(hostFrameArb, modeArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (f, mode, at, bit) => {
    const bad = flipBit(encodeHost(f, mode), at, bit);
    const found = new HostFrameParser(mode).push(bad);
    assert.ok(found.every((g) => g.data.length !== f.data.length), `accepted ${found.map(show).join(',')}`);
  }),
);

check(
  t,
  'HostFrameParser (checksum8): host frames with garbage around them that holds no 0x01 are all found, in order',
  fc.property(
    // dest and length other than 1, so that no garbage byte lines up a source 1 in front of a frame.
    fc.array(fc.tuple(noiseWithout([HOST_ADDRESS]), hostFrameArb), { minLength: 1, maxLength: 4 }),
    noiseWithout([HOST_ADDRESS]),
    cutsArb,
    (parts, tail, cuts) => {
      const frames = parts.map(([, f]) => ({ ...f, dest: f.dest === 1 ? 2 : f.dest, data: f.data.length === 1 ? Uint8Array.of() : f.data }));
      const stream = concat(...parts.flatMap(([g], i) => [g, encodeHost(frames[i]!, 'checksum8')]), tail);
      const run = parse(splitAt(stream, cuts), new HostFrameParser('checksum8'));
      assert.deepEqual(run.frames, frames.map((f) => expected(f, 'checksum8')));
      assert.equal(run.badChecks, 0);
    },
  ),
);

check(
  t,
  'HostFrameParser: after any garbage and a quiet gap (discardPartial), the next frame is found whole',
  fc.property(noiseArb, hostFrameArb, modeArb, (garbage, f, mode) => {
    const parser = new HostFrameParser(mode);
    parser.push(garbage);
    parser.discardPartial();
    assert.deepEqual(parser.push(encodeHost(f, mode)).map(show), [expected(f, mode)]);
  }),
);

check(
  t,
  'HostFrameParser: a frame right after any garbage is found, unless a frame started in the garbage covers it',
  fc.property(noiseArb, hostFrameArb, fc.uint8Array({ maxLength: 16 }), modeArb, (garbage, f, tail, mode) => {
    const good = encodeHost(f, mode);
    const stream = concat(garbage, good, tail);
    const found = new HostFrameParser(mode).push(stream).map(show);
    if (found.includes(expected(f, mode))) return;
    // This parser waits for a started frame until discardPartial() drops all it holds (the bus
    // calls it after a quiet gap), so a head in the garbage that runs past the end also hides it.
    const excused = shadowed(
      stream,
      garbage.length,
      (p) =>
        p + 2 < stream.length && (mode === 'crc16' || stream[p + 2] === HOST_ADDRESS) ? FRAME_OVERHEAD + stream[p + 1]! : undefined,
      (c) => valid(c, mode),
      true,
    );
    assert.ok(excused, `frame ${hex(good)} lost in ${hex(stream)}`);
  }),
);
