/** Properties of the driver-side ccTalk codec and checksums (drivers/cctalk/codec.ts, checksum.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { crc16Xmodem, simpleChecksum } from '../../drivers/checksum/crc16.js';
import { frameCrc16 } from '../../drivers/cctalk/checksum.js';
import {
  FRAME_OVERHEAD,
  FrameError,
  FrameSplitter,
  MAX_DATA_LENGTH,
  decodeFrame,
  encodeFrame,
  type ChecksumMode,
  type Frame,
  type FrameFields,
} from '../../drivers/cctalk/codec.js';
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

const HOST = 1;
const MAX_FRAME = FRAME_OVERHEAD + MAX_DATA_LENGTH;
const byte = fc.integer({ min: 0, max: 255 });
const modeArb = fc.constantFrom<ChecksumMode>('simple', 'crc16');
const fieldsArb = fc.record({ dest: byte, source: byte, header: byte, data: dataArb(MAX_DATA_LENGTH) });
const mutatedStreamArb = fc
  .tuple(fc.array(fieldsArb, { minLength: 1, maxLength: 4 }), modeArb, fc.array(mutationArb, { maxLength: 6 }))
  .map(([frames, mode, mutations]) => mutate(concat(...frames.map((f) => encodeFrame(f, mode))), mutations));
const anyBytes = fc.oneof(noiseArb, noiseRichIn([HOST]), mutatedStreamArb);

/** What a decoded frame says, in a form deepEqual can compare. */
const show = (f: Frame): string => `${f.dest}>${f.source ?? '-'}/${f.header}:${hex(f.data)}|${hex(f.bytes)}`;

function decodeOrRefuse(bytes: Uint8Array, mode: ChecksumMode): Frame | undefined {
  try {
    return decodeFrame(bytes, mode);
  } catch (e) {
    assert.ok(e instanceof FrameError, `a FrameError, not ${String(e)}`);
    assert.match(e.message, /^ccTalk frame (too short|length mismatch|with a bad (checksum|CRC-16))/);
    return undefined;
  }
}

/** The splitters' clock: tests set it before each push. */
let clock = 0;
const now = (): number => clock;

interface Run {
  frames: string[];
  frameBytes: number;
  stats: FrameSplitter['stats'];
  pending: number;
  pushed: number;
}

/** Pushes chunks (setting the clock from `times` before each), checking the buffer after each. */
function split(chunks: readonly Uint8Array[], splitter: FrameSplitter, times?: readonly number[]): Run {
  const frames: string[] = [];
  let frameBytes = 0;
  let pushed = 0;
  chunks.forEach((chunk, i) => {
    clock = times?.[i] ?? clock;
    pushed += chunk.length;
    for (const f of splitter.push(chunk)) {
      frames.push(show(f));
      frameBytes += f.bytes.length;
    }
    assert.ok(splitter.pending < MAX_FRAME, `pending ${splitter.pending} bytes`);
  });
  return { frames, frameBytes, stats: { ...splitter.stats }, pending: splitter.pending, pushed };
}

const splitterArb = fc.record({ mode: modeArb, dest: fc.option(fc.constantFrom(HOST, 2, 0), { nil: undefined }) });
const newSplitter = (o: { mode: ChecksumMode; dest: number | undefined }): FrameSplitter =>
  new FrameSplitter(o.mode, o.dest === undefined ? { now } : { now, dest: o.dest });

// ------------------------------------------------------------------------------ checksums

check(
  t,
  'simpleChecksum makes the bytes sum to 0 mod 256',
  fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const c = simpleChecksum(bytes);
    assert.ok(Number.isInteger(c) && c >= 0 && c <= 255);
    assert.equal((bytes.reduce((s, b) => s + b, 0) + c) % 256, 0);
  }),
);

check(
  t,
  'crc16Xmodem chains through its initial value, and a message followed by its CRC leaves 0',
  fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
    const at = cut % (bytes.length + 1);
    const crc = crc16Xmodem(bytes);
    assert.ok(crc >= 0 && crc <= 0xffff);
    assert.equal(crc16Xmodem(bytes, at, bytes.length, crc16Xmodem(bytes, 0, at)), crc);
    assert.equal(crc16Xmodem(concat(bytes, Uint8Array.of(crc >>> 8, crc & 0xff))), 0);
  }),
);

check(
  t,
  'frameCrc16 is the CRC of dest, length, header and data (the source slot and check byte skipped)',
  fc.property(fc.uint8Array({ minLength: FRAME_OVERHEAD - 1, maxLength: 300 }), (frame) => {
    assert.equal(frameCrc16(frame), crc16Xmodem(Uint8Array.from([frame[0]!, frame[1]!, ...frame.subarray(3, frame.length - 1)])));
  }),
);

// ------------------------------------------------------------------------------ frames

check(
  t,
  'encodeFrame → decodeFrame round-trips any addresses, header and data up to 255 bytes, in both modes',
  fc.property(fieldsArb, modeArb, (fields, mode) => {
    const bytes = encodeFrame(fields, mode);
    assert.equal(bytes.length, FRAME_OVERHEAD + fields.data.length);
    assert.equal(bytes[1], fields.data.length);
    const back = decodeFrame(bytes, mode);
    assert.equal(back.dest, fields.dest);
    assert.equal(back.source, mode === 'simple' ? fields.source : undefined);
    assert.equal(back.header, fields.header);
    assert.equal(hex(back.data), hex(fields.data));
    assert.equal(hex(back.bytes), hex(bytes));
  }),
);

const anyNumber = fc.oneof(
  byte,
  fc.integer({ min: -1000, max: 1000 }),
  fc.double(),
  fc.constantFrom(-0, 0.5, 255.5, 256, -1, Number.NaN, Infinity),
);

check(
  t,
  'encodeFrame accepts exactly whole-number fields 0–255 and data up to 255 bytes; anything else is a FrameError',
  fc.property(
    fc.record({ dest: anyNumber, source: anyNumber, header: anyNumber }),
    fc.oneof(dataArb(MAX_DATA_LENGTH), fc.uint8Array({ minLength: MAX_DATA_LENGTH + 1, maxLength: MAX_DATA_LENGTH + 20 })),
    modeArb,
    (f, data, mode) => {
      const fields: FrameFields = { ...f, data };
      const valid =
        data.length <= MAX_DATA_LENGTH && [f.dest, f.source, f.header].every((v) => Number.isInteger(v) && v >= 0 && v <= 255);
      if (valid) {
        const back = decodeFrame(encodeFrame(fields, mode), mode);
        assert.ok(back.dest === f.dest && back.header === f.header, 'same fields (-0 counts as 0)');
      } else {
        assert.throws(() => encodeFrame(fields, mode), FrameError);
      }
    },
  ),
);

check(
  t,
  'decodeFrame on random and mutated bytes: a frame that re-encodes to the same bytes, or a FrameError',
  fc.property(anyBytes, modeArb, (bytes, mode) => {
    const f = decodeOrRefuse(bytes, mode);
    if (!f) return;
    const again = encodeFrame({ dest: f.dest, source: f.source ?? 0, header: f.header, data: f.data }, mode);
    assert.equal(hex(again), hex(bytes));
  }),
);

check(
  t,
  'a single flipped bit is always detected, by the checksum and by CRC-16: never a frame of the same length',
  fc.property(fieldsArb, modeArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (fields, mode, at, bit) => {
    const good = encodeFrame(fields, mode);
    const bad = flipBit(good, at, bit);
    assert.equal(decodeOrRefuse(bad, mode), undefined, 'decodeFrame refuses it');
    const splitter = new FrameSplitter(mode, { now: () => 0 });
    const found = [...splitter.push(bad), ...splitter.abandonPending()];
    assert.ok(found.every((f) => f.bytes.length !== good.length), `accepted ${found.map(show).join(',')}`);
  }),
);

// ------------------------------------------------------------------------------ splitter

check(
  t,
  'FrameSplitter on random and mutated bytes, in random chunks at random times: no throw, bounded buffer, every byte accounted for',
  fc.property(
    anyBytes,
    cutsArb,
    fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 13 }),
    splitterArb,
    (bytes, cuts, steps, opts) => {
      clock = 1000;
      const splitter = newSplitter(opts);
      let time = clock;
      const times = steps.map((s) => (time += s));
      const run = split(splitAt(bytes, cuts), splitter, times);
      assert.equal(run.stats.droppedBytes + run.frameBytes + run.pending, run.pushed);
      assert.ok(run.stats.abandoned <= Math.max(0, cuts.length));
      const abandoned = splitter.abandonPending();
      assert.equal(splitter.pending, 0, 'abandonPending empties the buffer');
      for (const f of abandoned) decodeFrame(f.bytes, opts.mode);
    },
  ),
);

check(
  t,
  'FrameSplitter: a stream split at random points (no inter-byte gap) gives the same frames and counts as in one chunk',
  fc.property(anyBytes, cutsArb, splitterArb, (bytes, cuts, opts) => {
    clock = 0;
    const whole = split([bytes], newSplitter(opts));
    const pieces = split(splitAt(bytes, cuts), newSplitter(opts));
    assert.deepEqual(pieces, whole);
    for (const f of whole.frames) decodeFrame(Buffer.from(f.split('|')[1]!, 'hex'), opts.mode);
  }),
);

check(
  t,
  'FrameSplitter looking for the host address: frames to it with garbage (no host byte) around them are all found, in order',
  fc.property(
    fc.array(fc.tuple(noiseWithout([HOST]), fieldsArb), { minLength: 1, maxLength: 4 }),
    noiseWithout([HOST]),
    modeArb,
    cutsArb,
    (parts, tail, mode, cuts) => {
      clock = 0;
      const sent = parts.map(([, f]) => encodeFrame({ ...f, dest: HOST }, mode));
      const stream = concat(...parts.flatMap(([g], i) => [g, sent[i]!]), tail);
      const run = split(splitAt(stream, cuts), newSplitter({ mode, dest: HOST }));
      assert.deepEqual(
        run.frames.map((f) => f.split('|')[1]),
        sent.map(hex),
      );
      assert.equal(run.stats.droppedBytes, parts.reduce((n, [g]) => n + g.length, 0) + tail.length);
    },
  ),
);

check(
  t,
  'FrameSplitter: after any garbage and a quiet gap, the next frame is found whole',
  fc.property(noiseArb, fieldsArb, splitterArb, (garbage, fields, opts) => {
    const splitter = newSplitter(opts);
    const good = encodeFrame({ ...fields, dest: opts.dest ?? fields.dest }, opts.mode);
    clock = 0;
    splitter.push(garbage);
    clock = splitter.gapMs + 1;
    const found = splitter.push(good);
    assert.equal(found.length > 0 ? hex(found[found.length - 1]!.bytes) : '', hex(good));
    assert.equal(splitter.pending, 0);
  }),
);

check(
  t,
  'FrameSplitter: a frame right after any garbage is found (giving up stale heads), unless a chance-valid frame in the garbage overlaps it',
  fc.property(noiseArb, fieldsArb, fc.uint8Array({ maxLength: 16 }), splitterArb, (garbage, fields, tail, opts) => {
    clock = 0;
    const good = encodeFrame({ ...fields, dest: opts.dest ?? fields.dest }, opts.mode);
    const stream = concat(garbage, good, tail);
    const splitter = newSplitter(opts);
    const found = [...splitter.push(stream), ...splitter.abandonPending()].map((f) => hex(f.bytes));
    if (found.includes(hex(good))) return;
    const excused = shadowed(
      stream,
      garbage.length,
      (p) => ((opts.dest === undefined || stream[p] === opts.dest) && p + 1 < stream.length ? FRAME_OVERHEAD + stream[p + 1]! : undefined),
      (c) => decodeOrRefuse(c, opts.mode) !== undefined,
    );
    assert.ok(excused, `frame ${hex(good)} lost in ${hex(stream)}`);
  }),
);
