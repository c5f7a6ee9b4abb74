/**
 * Properties of the business link's envelope codec (src/uplink/link/envelope.ts, docs/business-link.md):
 * round trips with interleaved parts and any chunking; random, structured and mutated bytes only
 * ever end in an EnvelopeError; a declared length is refused from the header alone; what the
 * decoder holds stays within its limits.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import t from 'tap';
import {
  DEFAULT_LIMITS,
  EnvelopeDecoder,
  EnvelopeError,
  HEADER_BYTES,
  MAX_OPEN_MESSAGES,
  encodeMessage,
  type EnvelopeLimits,
  type EnvelopeMessage,
} from '../../src/uplink/link/envelope.js';
import { check, cutsArb, mutate, mutationArb, noiseArb, noiseRichIn, splitAt } from './fuzz.js';

const SMALL: EnvelopeLimits = { maxPartBytes: 24, maxMessageBytes: 200 };

const bodyArb = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.record({ messageId: fc.uuid(), amount: fc.integer({ min: 0, max: 10_000_000 }) }),
);
const messageArb = (seq: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffff_ffff })) =>
  fc.record({
    seq,
    service: fc.integer({ min: 0, max: 0xffff }),
    error: fc.integer({ min: 0, max: 0xffff }),
    response: fc.boolean(),
    body: bodyArb,
  });

/** A decoded message as JSON would give it back (no -0, no undefined members). */
const asDecoded = (m: EnvelopeMessage): EnvelopeMessage => ({ ...m, body: JSON.parse(JSON.stringify(m.body)) as unknown });

/** The parts of an encoded stream, each header with its body. */
function partsOf(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = HEADER_BYTES + bytes.readUInt32BE(at + 12);
    parts.push(bytes.subarray(at, at + length));
    at += length;
  }
  return parts;
}

interface Outcome {
  messages: EnvelopeMessage[];
  error?: string;
}

/**
 * Feeds the chunks; any error other than an EnvelopeError fails the property, as does holding more
 * than a part's header and body beyond the message limit.
 */
function feed(chunks: readonly Uint8Array[], limits: EnvelopeLimits, end = false): Outcome {
  const d = new EnvelopeDecoder(limits);
  const messages: EnvelopeMessage[] = [];
  try {
    for (const c of chunks) {
      messages.push(...d.push(Buffer.from(c)));
      assert.ok(d.pendingBytes <= limits.maxMessageBytes + HEADER_BYTES + limits.maxPartBytes, `holds ${d.pendingBytes} bytes`);
    }
    if (end) d.end();
  } catch (e) {
    if (!(e instanceof EnvelopeError)) throw e;
    // The first error is final: the framing is lost.
    assert.throws(() => d.push(Buffer.from([0x4b, 0x4c])), (again: unknown) => again === e);
    return { messages, error: e.kind };
  }
  for (const m of messages) {
    assert.ok(Number.isInteger(m.seq) && m.seq >= 0 && m.seq <= 0xffff_ffff);
    assert.ok(Number.isInteger(m.service) && m.service <= 0xffff && Number.isInteger(m.error) && m.error <= 0xffff);
    assert.notEqual(JSON.stringify(m.body), undefined);
  }
  return { messages };
}

/** One byte at a time: each message comes out on its last byte, the error on the first bad one. */
const byteByByte = (bytes: Uint8Array, limits: EnvelopeLimits, end = false): Outcome =>
  feed(
    Array.from(bytes, (b) => Uint8Array.of(b)),
    limits,
    end,
  );

check(
  t,
  'round trip: messages with parts interleaved in any order, any part size, any chunking',
  fc.property(
    fc.uniqueArray(messageArb(fc.integer({ min: 0, max: 50 })), { minLength: 1, maxLength: 5, selector: (m) => `${m.response} ${m.seq}` }),
    fc.integer({ min: 1, max: 30 }),
    fc.array(fc.nat(), { maxLength: 60 }),
    cutsArb,
    (messages, partBytes, schedule, cuts) => {
      const limits = { maxPartBytes: partBytes, maxMessageBytes: 1 << 20 };
      const queues = messages.map((m) => partsOf(encodeMessage(m, limits)));
      const stream: Buffer[] = [];
      const expected: EnvelopeMessage[] = [];
      // The schedule picks whose next part goes on the wire; each message's parts stay in order.
      for (let i = 0; queues.some((q) => q.length > 0); i++) {
        const open = queues.map((q, n) => [q, n] as const).filter(([q]) => q.length > 0);
        const [q, n] = open[(schedule[i] ?? 0) % open.length]!;
        stream.push(q.shift()!);
        if (q.length === 0) expected.push(asDecoded(messages[n]!));
      }
      const got = feed(splitAt(Buffer.concat(stream), cuts), limits, true);
      assert.equal(got.error, undefined);
      assert.deepEqual(got.messages, expected);
    },
  ),
  0.4,
);

check(
  t,
  'a valid stream cut anywhere gives exactly the messages before the cut; end() says truncated inside one',
  fc.property(fc.array(messageArb(), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 30 }), fc.nat(), cutsArb, (messages, partBytes, cutAt, cuts) => {
    const limits = { maxPartBytes: partBytes, maxMessageBytes: 1 << 20 };
    const encoded = messages.map((m) => encodeMessage(m, limits));
    const whole = Buffer.concat(encoded);
    const at = cutAt % (whole.length + 1);
    let offset = 0;
    const ends = encoded.map((e) => (offset += e.length));
    const got = feed(splitAt(whole.subarray(0, at), cuts), limits, true);
    assert.deepEqual(
      got.messages,
      messages.filter((_, i) => ends[i]! <= at).map(asDecoded),
    );
    assert.equal(got.error, at === 0 || ends.includes(at) ? undefined : 'truncated');
  }),
  0.4,
);

/** Parts with a valid start and random everything else, sequence numbers and services from a few. */
const structuredPartArb = fc
  .record({
    flags: fc.integer({ min: 0, max: 3 }),
    seq: fc.integer({ min: 0, max: 80 }),
    service: fc.constantFrom(1, 2, 0x101, 0x102),
    error: fc.constantFrom(0, 0, 0, 5),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 8 }),
      fc.constantFrom('', '[', ']', '{}', '"x"', '1', 'null', ',').map((s) => Buffer.from(s)),
    ),
    declared: fc.option(fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constant(0xffff_ffff)), { freq: 8 }),
  })
  .map(({ flags, seq, service, error, body, declared }) => {
    const h = Buffer.alloc(HEADER_BYTES);
    h.writeUInt16BE(0x4b4c, 0);
    h[2] = 1;
    h[3] = flags;
    h.writeUInt32BE(seq, 4);
    h.writeUInt16BE(service, 8);
    h.writeUInt16BE(error, 10);
    h.writeUInt32BE(declared ?? body.length, 12);
    return Buffer.concat([h, body]);
  });

const validStreamArb = fc
  .tuple(fc.array(messageArb(fc.integer({ min: 0, max: 8 })), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 24 }))
  .map(([ms, part]) => Buffer.concat(ms.map((m) => encodeMessage(m, { maxPartBytes: part, maxMessageBytes: 1 << 20 }))));

const anyBytesArb = fc.oneof(
  noiseArb.map((b) => Buffer.from(b)),
  noiseRichIn([0x4b, 0x4c, 0x01, 0x02, 0x03, 0x7b, 0x7d]).map((b) => Buffer.concat([Buffer.from([0x4b, 0x4c, 0x01]), b])),
  fc.array(structuredPartArb, { maxLength: 90 }).map((ps) => Buffer.concat(ps)),
  fc.tuple(validStreamArb, fc.array(mutationArb, { minLength: 1, maxLength: 6 })).map(([s, ms]) => Buffer.from(mutate(s, ms))),
  fc.tuple(validStreamArb, fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([s, tail]) => Buffer.concat([s, tail])),
);

check(
  t,
  'random, structured and mutated bytes: only EnvelopeErrors, bounded holding, and chunking changes nothing',
  fc.property(anyBytesArb, cutsArb, fc.boolean(), (bytes, cuts, small) => {
    const limits = small ? SMALL : DEFAULT_LIMITS;
    const reference = byteByByte(bytes, limits, true);
    const chunked = feed(splitAt(bytes, cuts), limits, true);
    // The same error at the same byte; a chunk that fails loses the messages it finished before
    // the bad byte, so a chunked run may give fewer (the connection is closed either way).
    assert.equal(chunked.error, reference.error);
    if (reference.error === undefined) assert.deepEqual(chunked.messages, reference.messages);
    else assert.deepEqual(chunked.messages, reference.messages.slice(0, chunked.messages.length));
  }),
  0.4,
);

check(
  t,
  'one flipped bit: the messages wholly before it come out unchanged, and nothing but an EnvelopeError is thrown',
  fc.property(validStreamArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (stream, at, bit) => {
    const i = at % stream.length;
    const flipped = Buffer.from(stream);
    flipped[i] = flipped[i]! ^ (1 << bit);
    const clean = byteByByte(stream.subarray(0, i), DEFAULT_LIMITS).messages;
    const got = byteByByte(flipped, DEFAULT_LIMITS, true);
    assert.deepEqual(got.messages.slice(0, clean.length), clean);
  }),
  0.4,
);

check(
  t,
  'a declared part length above the limit is refused on the header alone, before any body byte',
  fc.property(fc.boolean(), fc.integer({ min: 1, max: 0xffff_ffff }), fc.integer({ min: 0, max: 3 }), (small, excess, flags) => {
    const limits = small ? SMALL : DEFAULT_LIMITS;
    const declared = Math.min(0xffff_ffff, limits.maxPartBytes + excess);
    const header = Buffer.from('4b4c0100' + '00000001' + '0002' + '0000' + '00000000', 'hex');
    header[3] = flags;
    header.writeUInt32BE(declared, 12);
    const d = new EnvelopeDecoder(limits);
    assert.deepEqual(d.push(header.subarray(0, HEADER_BYTES - 1)), []);
    assert.throws(() => d.push(header.subarray(HEADER_BYTES - 1)), { name: 'EnvelopeError', kind: 'oversize' });
    // A length within the limit is waited for, not allocated up front.
    const ok = Buffer.from(header);
    ok.writeUInt32BE(1 + (declared % limits.maxPartBytes), 12);
    const w = new EnvelopeDecoder(limits);
    assert.deepEqual(w.push(ok), []);
    assert.equal(w.pendingBytes, HEADER_BYTES);
  }),
);

check(
  t,
  'a message grown past the message limit by many parts is refused at the part that crosses it',
  fc.property(fc.integer({ min: 1, max: SMALL.maxPartBytes }), fc.nat(), (partBytes, seq) => {
    const part = Buffer.alloc(HEADER_BYTES + partBytes, 0x20);
    part.writeUInt16BE(0x4b4c, 0);
    part[2] = 1;
    part[3] = 0;
    part.writeUInt32BE(seq, 4);
    part.writeUInt16BE(2, 8);
    part.writeUInt16BE(0, 10);
    part.writeUInt32BE(partBytes, 12);
    const d = new EnvelopeDecoder(SMALL);
    const fits = Math.floor(SMALL.maxMessageBytes / partBytes);
    for (let i = 0; i < fits; i++) d.push(part);
    assert.equal(d.pendingBytes, fits * partBytes);
    assert.throws(() => d.push(part), { kind: 'oversize', message: /message limit/ });
  }),
);

t.test('parts with empty bodies hold nothing, and unfinished messages are bounded in number', async (t) => {
  const emptyPart = (seq: number, end = false) =>
    Buffer.from('4b4c01' + (end ? '01' : '00') + seq.toString(16).padStart(8, '0') + '0002' + '0000' + '00000000', 'hex');
  const d = new EnvelopeDecoder();
  for (let seq = 1; seq <= MAX_OPEN_MESSAGES; seq++) t.same(d.push(emptyPart(seq)), []);
  t.throws(() => d.push(emptyPart(MAX_OPEN_MESSAGES + 1)), { kind: 'oversize', message: /more than 64 messages unfinished/ });

  // Once this kept one array slot and one Buffer per empty part: 6 MB of headers held ~40 MB.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const same = new EnvelopeDecoder();
  const stream = Buffer.concat(Array.from({ length: 400_000 }, () => emptyPart(7)));
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let at = 0; at < stream.length; at += 64 * 1024) same.push(stream.subarray(at, at + 64 * 1024));
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  t.ok(grown < 8e6, `400,000 empty parts of one message grew the heap by ${(grown / 1e6).toFixed(1)} MB`);
  t.equal(same.pendingBytes, 0);
  t.same(same.push(Buffer.concat([emptyPart(7, true).subarray(0, 15), Buffer.from([2, 0x7b, 0x7d])])), [
    { seq: 7, service: 2, error: 0, response: false, body: {} },
  ]);
  same.end();
});
