/** Properties of the driver-side ID-003 codec (drivers/id003/codec.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import {
  FrameSplitter,
  decodeStatus,
  denominationMask,
  encodeCommand,
  parseCurrencyTable,
  parseFrame,
  type Frame,
} from '../../drivers/id003/codec.js';
import { COUNTRIES, MAX_FRAME_LENGTH, MIN_FRAME_LENGTH, SYNC } from '../../drivers/id003/constants.js';
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

const MAX_DATA = MAX_FRAME_LENGTH - MIN_FRAME_LENGTH; // 250
const byte = fc.integer({ min: 0, max: 255 });
const frameArb = fc.record({ cmd: byte, data: dataArb(MAX_DATA) });
const framesArb = fc.array(frameArb, { minLength: 1, maxLength: 4 });
/** Streams built from valid frames, then damaged: they look like frames, so they reach the CRC check. */
const mutatedStreamArb = fc
  .tuple(framesArb, fc.array(mutationArb, { maxLength: 6 }))
  .map(([frames, mutations]) => mutate(concat(...frames.map((f) => encodeCommand(f.cmd, f.data))), mutations));
const anyBytes = fc.oneof(noiseArb, noiseRichIn([SYNC]), mutatedStreamArb);

/** parseFrame accepts or throws one of its two documented errors, nothing else. */
function parseOrRefuse(bytes: Uint8Array): Frame | undefined {
  try {
    return parseFrame(bytes);
  } catch (e) {
    assert.ok(e instanceof Error, 'throws an Error');
    assert.match(e.message, /^(not an ID-003 frame|ID-003 frame with a bad CRC): [0-9a-f]*$/);
    return undefined;
  }
}

interface Run {
  frames: string[];
  stats: FrameSplitter['stats'];
  pending: number;
  pushed: number;
}

/** Pushes chunks, checking after each that the splitter holds less than one longest frame. */
function split(chunks: readonly Uint8Array[], splitter = new FrameSplitter()): Run {
  const frames: string[] = [];
  let pushed = 0;
  for (const chunk of chunks) {
    pushed += chunk.length;
    for (const f of splitter.push(chunk)) frames.push(hex(f.bytes));
    assert.ok(splitter.pending < MAX_FRAME_LENGTH, `pending ${splitter.pending} bytes`);
  }
  return { frames, stats: { ...splitter.stats }, pending: splitter.pending, pushed };
}

/** Every byte pushed is in a frame, counted as dropped, or still pending. */
function assertConserved(run: Run): void {
  const inFrames = run.frames.reduce((n, f) => n + f.length / 2, 0);
  assert.equal(run.stats.droppedBytes + inFrames + run.pending, run.pushed);
}

check(
  t,
  'encodeCommand → parseFrame round-trips any command byte and data up to 250 bytes',
  fc.property(frameArb, ({ cmd, data }) => {
    const bytes = encodeCommand(cmd, data);
    assert.equal(bytes.length, data.length + MIN_FRAME_LENGTH);
    assert.equal(bytes[0], SYNC);
    assert.equal(bytes[1], bytes.length);
    const back = parseFrame(bytes);
    assert.equal(back.cmd, cmd);
    assert.equal(hex(back.data), hex(data));
    assert.equal(hex(back.bytes), hex(bytes));
    // decodeStatus takes any checked frame, whatever its code.
    assert.equal(typeof decodeStatus(back).kind, 'string');
    assert.equal(decodeStatus(bytes).kind, decodeStatus(back).kind);
  }),
);

check(
  t,
  'encodeCommand refuses data over 250 bytes with a RangeError',
  fc.property(byte, fc.uint8Array({ minLength: MAX_DATA + 1, maxLength: MAX_DATA + 40 }), (cmd, data) => {
    assert.throws(() => encodeCommand(cmd, data), RangeError);
  }),
  0.2,
);

check(
  t,
  'parseFrame on random and mutated bytes: a frame that re-encodes to the same bytes, or a documented error',
  fc.property(anyBytes, (bytes) => {
    const frame = parseOrRefuse(bytes);
    if (frame) assert.equal(hex(encodeCommand(frame.cmd, frame.data)), hex(bytes));
  }),
);

check(
  t,
  'decodeStatus on random and mutated bytes decodes or throws the parseFrame error',
  fc.property(anyBytes, (bytes) => {
    let reply;
    try {
      reply = decodeStatus(bytes);
    } catch (e) {
      assert.match((e as Error).message, /^(not an ID-003 frame|ID-003 frame with a bad CRC)/);
      return;
    }
    assert.equal(typeof reply.kind, 'string');
  }),
);

check(
  t,
  'decodeStatus on any checked frame: never throws, and the data byte it reports is the first data byte',
  fc.property(frameArb, ({ cmd, data }) => {
    const frame: Frame = { cmd, data: Buffer.from(data), bytes: encodeCommand(cmd, data) };
    const reply = decodeStatus(frame);
    if ('code' in reply) assert.equal(reply.code, data[0]);
    if (reply.kind === 'echo' || reply.kind === 'unknown') {
      assert.equal(reply.cmd, cmd);
      assert.equal(hex(reply.data), hex(data));
    }
    if (reply.kind === 'currency') assert.ok(reply.records.length <= Math.floor(data.length / 4));
  }),
);

check(
  t,
  'a single flipped bit is always detected: never a frame of the same length',
  fc.property(frameArb, fc.nat(), fc.integer({ min: 0, max: 7 }), ({ cmd, data }, at, bit) => {
    const good = encodeCommand(cmd, data);
    const bad = flipBit(good, at, bit);
    assert.equal(parseOrRefuse(bad), undefined, 'parseFrame refuses it');
    const found = split([bad]).frames;
    assert.ok(found.every((f) => f.length / 2 !== good.length), `accepted ${found.join(',')}`);
  }),
);

check(
  t,
  'parseCurrencyTable on any data: the 4-byte records with base ≠ 0 and an exact safe value, in order',
  fc.property(fc.uint8Array({ maxLength: 260 }), (data) => {
    const records = parseCurrencyTable(data);
    const expected = [];
    for (let at = 0; at + 4 <= data.length; at += 4) {
      const [code, country, base, exp] = [data[at]!, data[at + 1]!, data[at + 2]!, data[at + 3]!];
      if (base === 0) continue;
      const known = COUNTRIES[country];
      const value = BigInt(base) * 10n ** BigInt(exp + (known?.minorDigits ?? 2));
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) continue;
      expected.push({ code, country, currency: known?.currency, base, exp, value: Number(value) });
    }
    assert.deepEqual(records, expected);
  }),
);

check(
  t,
  'denominationMask sets bit i exactly for the codes 0x61 + i given, and ignores the rest',
  fc.property(fc.array(fc.integer({ min: -300, max: 600 }), { maxLength: 40 }), (codes) => {
    const mask = denominationMask(codes);
    assert.equal(mask.length, 2);
    const bits = mask[0]! | (mask[1]! << 8);
    for (let i = 0; i < 16; i++) assert.equal((bits >> i) & 1, codes.includes(0x61 + i) ? 1 : 0);
  }),
);

check(
  t,
  'FrameSplitter on random and mutated bytes in random chunks: no throw, bounded buffer, every byte accounted for',
  fc.property(anyBytes, cutsArb, (bytes, cuts) => {
    const splitter = new FrameSplitter();
    const run = split(splitAt(bytes, cuts), splitter);
    assertConserved(run);
    for (const f of run.frames) parseFrame(Buffer.from(f, 'hex'));
    // Giving up on the unfinished frame terminates and empties the buffer.
    let guard = 0;
    while (splitter.pending > 0) {
      splitter.abandonPending();
      assert.ok(++guard <= MAX_FRAME_LENGTH, 'abandonPending makes progress');
    }
  }),
);

check(
  t,
  'FrameSplitter: a stream split at random points gives the same frames and counts as in one chunk',
  fc.property(anyBytes, cutsArb, (bytes, cuts) => {
    const whole = split([bytes]);
    const pieces = split(splitAt(bytes, cuts));
    assert.deepEqual(pieces, whole);
  }),
);

check(
  t,
  'FrameSplitter: valid frames with garbage (no SYNC) around them are all found, in order',
  fc.property(
    fc.array(fc.tuple(noiseWithout([SYNC]), frameArb), { minLength: 1, maxLength: 4 }),
    noiseWithout([SYNC]),
    cutsArb,
    (parts, tail, cuts) => {
      const stream = concat(...parts.flatMap(([g, f]) => [g, encodeCommand(f.cmd, f.data)]), tail);
      const run = split(splitAt(stream, cuts));
      assert.deepEqual(
        run.frames,
        parts.map(([, f]) => hex(encodeCommand(f.cmd, f.data))),
      );
      assert.equal(run.stats.droppedBytes, parts.reduce((n, [g]) => n + g.length, 0) + tail.length);
      assert.equal(run.pending, 0);
    },
  ),
);

check(
  t,
  'FrameSplitter: a valid frame after any garbage is found (giving up stale SYNCs), unless a chance-valid frame in the garbage overlaps it',
  fc.property(noiseArb, frameArb, fc.uint8Array({ maxLength: 16 }), (garbage, { cmd, data }, tail) => {
    const good = encodeCommand(cmd, data);
    const stream = concat(garbage, good, tail);
    const splitter = new FrameSplitter();
    const found = splitter.push(stream).map((f) => hex(f.bytes));
    while (splitter.pending > 0) found.push(...splitter.abandonPending().map((f) => hex(f.bytes)));
    if (found.includes(hex(good))) return;
    const excused = shadowed(
      stream,
      garbage.length,
      (p) => (stream[p] === SYNC && p + 1 < stream.length && stream[p + 1]! >= MIN_FRAME_LENGTH ? stream[p + 1]! : undefined),
      (c) => parseOrRefuse(c) !== undefined,
    );
    assert.ok(excused, `frame ${hex(good)} lost in ${hex(stream)}`);
  }),
);
