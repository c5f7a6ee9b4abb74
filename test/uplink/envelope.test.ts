import fc from 'fast-check';
import t from 'tap';
import {
  EnvelopeDecoder,
  EnvelopeError,
  encodeFrames,
  encodeMessage,
  ErrorCode,
  Service,
  type EnvelopeMessage,
} from '../../src/uplink/link/envelope.js';
import { check, cutsArb, splitAt } from '../fuzz/fuzz.js';

// The byte vectors documented in docs/business-link.md.
const VECTORS: { name: string; message: EnvelopeMessage; hex: string; limits?: { maxPartBytes: number; maxMessageBytes: number } }[] = [
  {
    name: 'hello request, seq 1, body {}',
    message: { seq: 1, service: Service.hello, error: 0, response: false, body: {} },
    hex: '4b4c0101' + '00000001' + '0001' + '0000' + '00000002' + '7b7d',
  },
  {
    name: 'look-up request, seq 7',
    message: { seq: 7, service: Service.lookup, error: 0, response: false, body: { phone: '13800138000' } },
    hex: '4b4c0101' + '00000007' + '0101' + '0000' + '00000017' + Buffer.from('{"phone":"13800138000"}').toString('hex'),
  },
  {
    name: 'look-up response, seq 7, error 3 (unknown account)',
    message: { seq: 7, service: Service.lookup, error: ErrorCode.unknownAccount, response: true, body: { error: 'unknown-account' } },
    hex: '4b4c0103' + '00000007' + '0101' + '0003' + '0000001b' + Buffer.from('{"error":"unknown-account"}').toString('hex'),
  },
  {
    name: 'echo response of 5 body bytes in three parts of at most 2',
    message: { seq: 0x01020304, service: Service.echo, error: 0, response: true, body: [1, 2] },
    limits: { maxPartBytes: 2, maxMessageBytes: 100 },
    hex:
      '4b4c0102' + '01020304' + '0002' + '0000' + '00000002' + '5b31' +
      '4b4c0102' + '01020304' + '0002' + '0000' + '00000002' + '2c32' +
      '4b4c0103' + '01020304' + '0002' + '0000' + '00000001' + '5d',
  },
  {
    name: 'card authorisation request, seq 9 (test card, no track 2)',
    message: {
      seq: 9,
      service: Service.authoriseCard,
      error: 0,
      response: false,
      body: { requestId: 'R1', txnId: 'T1', phone: '13800138000', amount: 5000, currency: 'CNY', card: { pan: '4111111111111111', expiry: '3012' } },
    },
    hex:
      '4b4c0101' + '00000009' + '0103' + '0000' + '00000086' +
      Buffer.from('{"requestId":"R1","txnId":"T1","phone":"13800138000","amount":5000,"currency":"CNY","card":{"pan":"4111111111111111","expiry":"3012"}}').toString('hex'),
  },
  {
    name: 'card authorisation response, seq 9, declined',
    message: { seq: 9, service: Service.authoriseCard, error: 0, response: true, body: { requestId: 'R1', outcome: 'declined', reason: 'insufficient-funds' } },
    hex: '4b4c0103' + '00000009' + '0103' + '0000' + '00000045' + Buffer.from('{"requestId":"R1","outcome":"declined","reason":"insufficient-funds"}').toString('hex'),
  },
];

t.test('encoding matches the documented vectors, and decoding gives the message back', async (t) => {
  for (const v of VECTORS) {
    t.equal(encodeMessage(v.message, v.limits).toString('hex'), v.hex, v.name);
    t.same(new EnvelopeDecoder(v.limits).push(Buffer.from(v.hex, 'hex')), [v.message], v.name);
  }
});

t.test('a stream fed one byte at a time gives the same messages, each once it is complete', async (t) => {
  const stream = Buffer.concat(VECTORS.slice(0, 3).map((v) => Buffer.from(v.hex, 'hex')));
  const d = new EnvelopeDecoder();
  const got: EnvelopeMessage[] = [];
  const firstLength = VECTORS[0]!.hex.length / 2;
  for (let i = 0; i < stream.length; i++) {
    const out = d.push(stream.subarray(i, i + 1));
    if (i === firstLength - 2) t.same(out, [], 'nothing before the last byte of the first message');
    if (i === firstLength - 1) t.same(out, [VECTORS[0]!.message], 'the first message on its last byte');
    got.push(...out);
  }
  t.same(got, VECTORS.slice(0, 3).map((v) => v.message));
  t.equal(d.pendingBytes, 0);
  d.end();
});

t.test('parts of two messages may interleave; each is joined by its own sequence number', async (t) => {
  const limits = { maxPartBytes: 3, maxMessageBytes: 100 };
  const a = encodeMessage({ seq: 1, service: Service.deliver, error: 0, response: true, body: { a: 'xxxx' } }, limits);
  const b = encodeMessage({ seq: 2, service: Service.deliver, error: 0, response: true, body: { b: 1 } }, limits);
  const partsOf = (buf: Buffer) => {
    const parts: Buffer[] = [];
    for (let at = 0; at < buf.length; ) {
      const len = 16 + buf.readUInt32BE(at + 12);
      parts.push(buf.subarray(at, at + len));
      at += len;
    }
    return parts;
  };
  const pa = partsOf(a);
  const pb = partsOf(b);
  t.ok(pa.length > 2 && pb.length > 2);
  const mixed: Buffer[] = [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) mixed.push(...[pa[i], pb[i]].filter((p): p is Buffer => p !== undefined));
  const got = new EnvelopeDecoder(limits).push(Buffer.concat(mixed));
  t.same(
    got.map((m) => m.body),
    [{ b: 1 }, { a: 'xxxx' }],
    'the shorter one ends first',
  );
  // A request and a response may share a sequence number (each side counts its own).
  const req = encodeMessage({ seq: 5, service: Service.echo, error: 0, response: false, body: 'ping' }, limits);
  const res = encodeMessage({ seq: 5, service: Service.echo, error: 0, response: true, body: 'pong' }, limits);
  const pr = partsOf(req);
  const ps = partsOf(res);
  const both = new EnvelopeDecoder(limits).push(Buffer.concat([pr[0]!, ps[0]!, ...pr.slice(1), ...ps.slice(1)]));
  t.same(both.map((m) => [m.response, m.body]), [[false, 'ping'], [true, 'pong']]);
});

t.test('errors: bad magic, version, flags, oversize, truncated, mismatched parts, non-JSON body', async (t) => {
  const hello = Buffer.from(VECTORS[0]!.hex, 'hex');
  const fail = (bytes: Buffer, kind: string, re: RegExp, limits?: { maxPartBytes: number; maxMessageBytes: number }) => {
    const d = new EnvelopeDecoder(limits);
    t.throws(() => d.push(bytes), { name: 'EnvelopeError', kind, message: re }, kind);
    // The first error is final: the framing is lost.
    t.throws(() => d.push(hello), { kind }, `${kind} stays`);
  };
  fail(Buffer.from('<html>'), 'bad-magic', /bad magic 0x3c68/);
  fail(Buffer.from('4b4c02', 'hex'), 'bad-version', /version 2/);
  fail(Buffer.from('4b4c0145', 'hex'), 'bad-flags', /0x45/);
  const big = Buffer.from(hello);
  big.writeUInt32BE(64 * 1024 + 1, 12);
  fail(big, 'oversize', /part of 65537 bytes/);
  const small = { maxPartBytes: 4, maxMessageBytes: 6 };
  const long = Buffer.concat([
    encodeMessage({ seq: 1, service: 2, error: 0, response: false, body: 'abcdef' }, { maxPartBytes: 4, maxMessageBytes: 100 }),
  ]);
  fail(long, 'oversize', /message limit/, small);
  const p1 = Buffer.from('4b4c0100' + '00000009' + '0002' + '0000' + '00000001' + '5b', 'hex');
  const p2 = Buffer.from('4b4c0101' + '00000009' + '0003' + '0000' + '00000001' + '5d', 'hex');
  fail(Buffer.concat([p1, p2]), 'mismatch', /changes its service/);
  fail(Buffer.from('4b4c0101' + '00000001' + '0001' + '0000' + '00000002' + '7b7b', 'hex'), 'bad-body', /not JSON/);

  const cut = new EnvelopeDecoder();
  t.same(cut.push(hello.subarray(0, 10)), []);
  t.throws(() => cut.end(), { kind: 'truncated', message: /inside a part \(10 bytes/ });
  const unfinished = new EnvelopeDecoder();
  t.same(unfinished.push(p1), []);
  t.equal(unfinished.pendingBytes, 1);
  t.throws(() => unfinished.end(), { kind: 'truncated', message: /before the last part of message request 9/ });

  t.throws(() => encodeMessage({ seq: -1, service: 1, error: 0, response: false, body: {} }), RangeError);
  t.throws(() => encodeMessage({ seq: 1, service: 0x10000, error: 0, response: false, body: {} }), RangeError);
  t.throws(() => encodeMessage({ seq: 1, service: 1, error: 0, response: false, body: undefined }), TypeError);
  t.throws(
    () => encodeMessage({ seq: 1, service: 1, error: 0, response: false, body: 'x'.repeat(100) }, { maxPartBytes: 10, maxMessageBytes: 50 }),
    EnvelopeError,
  );
});

const jsonArb = fc.jsonValue({ maxDepth: 3 }).filter((v) => JSON.stringify(v) !== undefined);
const messageArb = fc.record({
  seq: fc.integer({ min: 0, max: 0xffff_ffff }),
  service: fc.integer({ min: 0, max: 0xffff }),
  error: fc.integer({ min: 0, max: 0xffff }),
  response: fc.boolean(),
  body: jsonArb,
});

check(
  t,
  'round trip: any messages, any part size, any chunking decode to themselves',
  fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40 }), cutsArb, (messages, part, cuts) => {
    const limits = { maxPartBytes: part, maxMessageBytes: 1 << 20 };
    const bytes = Buffer.concat(messages.map((m) => encodeMessage(m, limits)));
    const d = new EnvelopeDecoder(limits);
    const got = splitAt(bytes, cuts).flatMap((c) => d.push(Buffer.from(c)));
    d.end();
    // JSON has no -0; the body comes back as JSON would give it.
    const expected = messages.map((m) => ({ ...m, body: JSON.parse(JSON.stringify(m.body)) as unknown }));
    if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`got ${JSON.stringify(got)}`);
  }),
  0.4,
);

check(
  t,
  'random bytes never crash the decoder nor make it hold more than the limits allow',
  fc.property(fc.uint8Array({ maxLength: 300 }), cutsArb, (bytes, cuts) => {
    const limits = { maxPartBytes: 32, maxMessageBytes: 64 };
    const d = new EnvelopeDecoder(limits);
    try {
      for (const c of splitAt(Uint8Array.from([0x4b, 0x4c, 0x01, ...bytes]), cuts)) {
        d.push(Buffer.from(c));
        if (d.pendingBytes > limits.maxMessageBytes + 16 + limits.maxPartBytes) throw new Error(`holds ${d.pendingBytes} bytes`);
      }
    } catch (e) {
      if (!(e instanceof EnvelopeError)) throw e;
    }
  }),
);

t.test('encodeFrames: an encoded body gives the bytes encodeMessage gives, in a buffer of its own', async (t) => {
  for (const v of VECTORS) {
    const { body, ...head } = v.message;
    const limits = v.limits ?? undefined;
    const frames = encodeFrames(head, Buffer.from(JSON.stringify(body), 'utf8'), limits);
    t.equal(frames.toString('hex'), v.hex, v.name);
    t.equal(frames.buffer.byteLength, frames.length, `${v.name}: not a slice of the shared pool`);
  }
});
