import t from 'tap';
import { crc16Kermit } from '../../drivers/checksum/crc16.js';
import { Cmd } from '../../drivers/id003/constants.js';
import {
  FrameSplitter,
  decodeStatus,
  denominationMask,
  encodeCommand,
  parseCurrencyTable,
  parseFrame,
} from '../../drivers/id003/codec.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('CRC-16/KERMIT check value', async (t) => {
  t.equal(crc16Kermit(Buffer.from('123456789', 'ascii')), 0x2189);
  t.equal(crc16Kermit(Buffer.alloc(0)), 0);
});

t.test('command frames match the spec vectors', async (t) => {
  const vectors: [string, number, number[], string][] = [
    ['status request', Cmd.statusRequest, [], 'FC 05 11 27 56'],
    ['reset', Cmd.reset, [], 'FC 05 40 2B 15'],
    ['ACK', Cmd.ack, [], 'FC 05 50 AA 05'],
    ['stack-1', Cmd.stack1, [], 'FC 05 41 A2 04'],
    ['stack-2', Cmd.stack2, [], 'FC 05 42 39 36'],
    ['return', Cmd.return, [], 'FC 05 43 B0 27'],
    ['hold', Cmd.hold, [], 'FC 05 44 0F 53'],
    ['inhibit off', Cmd.setInhibit, [0], 'FC 06 C3 00 04 D6'],
    ['inhibit on', Cmd.setInhibit, [1], 'FC 06 C3 01 8D C7'],
    ['enable all', Cmd.setDenominations, [0, 0], 'FC 07 C0 00 00 2D B5'],
    ['version request', Cmd.versionRequest, [], 'FC 05 88 6F 5F'],
    ['currency request', Cmd.currencyRequest, [], 'FC 05 8A 7D 7C'],
    ['comm mode 1', Cmd.setCommMode, [1], 'FC 06 C2 01 55 DE'],
  ];
  for (const [name, cmd, data, expected] of vectors) {
    t.same(encodeCommand(cmd, Uint8Array.from(data)).toString('hex'), hex(expected).toString('hex'), name);
  }
  t.throws(() => encodeCommand(0xc0, new Uint8Array(251)), RangeError, 'LNG must fit one byte');
});

t.test('parseFrame checks SYNC, length and CRC', async (t) => {
  const f = parseFrame(hex('fc 06 13 63 a2 d8'));
  t.equal(f.cmd, 0x13);
  t.same([...f.data], [0x63]);
  t.throws(() => parseFrame(hex('fc 06 13 63 a2 d9')), /bad CRC/);
  t.throws(() => parseFrame(hex('fd 05 11 27 56')), /not an ID-003 frame/);
  t.throws(() => parseFrame(hex('fc 06 11 27 56')), /not an ID-003 frame/);
});

t.test('status decoding: every status code', async (t) => {
  const plain: [string, string][] = [
    ['fc 05 11 27 56', 'idling'],
    ['fc 05 12 bc 64', 'accepting'],
    ['fc 05 14 8a 01', 'stacking'],
    ['fc 05 15 03 10', 'vend-valid'],
    ['fc 05 16 98 22', 'stacked'],
    ['fc 05 18 e6 cb', 'returning'],
    ['fc 05 19 6f da', 'holding'],
    ['fc 05 1a f4 e8', 'disabled'],
    ['fc 05 1b 7d f9', 'initialize'],
    ['fc 05 40 2b 15', 'power-up'],
    ['fc 05 41 a2 04', 'power-up-bill-in-acceptor'],
    ['fc 05 42 39 36', 'power-up-bill-in-stacker'],
    ['fc 05 43 b0 27', 'stacker-full'],
    ['fc 05 44 0f 53', 'stacker-open'],
    ['fc 05 45 86 42', 'jam-acceptor'],
    ['fc 05 46 1d 70', 'jam-stacker'],
    ['fc 05 47 94 61', 'pause'],
    ['fc 05 48 63 99', 'cheated'],
    ['fc 05 4a 71 ba', 'communication-error'],
    ['fc 05 4b f8 ab', 'invalid-command'],
    ['fc 05 50 aa 05', 'ack'],
  ];
  for (const [bytes, kind] of plain) t.same(decodeStatus(hex(bytes)), { kind }, kind);

  t.same(decodeStatus(hex('fc 06 13 63 a2 d8')), { kind: 'escrow', code: 0x63 });
  t.same(decodeStatus(hex('fc 06 17 71 51 8c')), { kind: 'rejecting', code: 0x71, reason: 'insertion error' });
  t.same(decodeStatus(hex('fc 06 49 a2 a0 21')), { kind: 'failure', code: 0xa2, text: 'stacker motor failure' });
  t.same(decodeStatus(encodeCommand(0x17, Uint8Array.of(0x70))), {
    kind: 'rejecting',
    code: 0x70,
    reason: 'unknown reject reason 0x70',
  });
  t.same(decodeStatus(encodeCommand(0x13)), { kind: 'unknown', cmd: 0x13, data: Buffer.alloc(0) }, 'escrow without code');
  t.same(decodeStatus(encodeCommand(0x60)), { kind: 'unknown', cmd: 0x60, data: Buffer.alloc(0) });
});

t.test('echo, version and currency replies', async (t) => {
  t.same(decodeStatus(hex('fc 07 c1 00 00 f1 ef')), { kind: 'echo', cmd: 0xc1, data: Buffer.of(0, 0) });
  t.same(decodeStatus(hex('fc 06 c2 00 dc cf')), { kind: 'echo', cmd: 0xc2, data: Buffer.of(0) });
  t.same(decodeStatus(hex('fc 18 88 4a 43 4d 2d 49 44 30 30 33 2d 43 4e 59 20 56 31 2e 30 30 d7 33')), {
    kind: 'version',
    text: 'JCM-ID003-CNY V1.00',
  });
  const currency = decodeStatus(
    hex('fc 25 8a 61 9c 01 00 62 9c 05 00 63 9c 01 01 64 9c 02 01 65 9c 05 01 66 9c 01 02 67 00 00 00 68 00 00 00 4b a8'),
  );
  t.equal(currency.kind, 'currency');
  if (currency.kind === 'currency') t.same(currency.records.map((r) => r.value), [100, 500, 1000, 2000, 5000, 10000]);
});

t.test('currency table: the emulator CNY table in fen', async (t) => {
  const table = hex('61 9C 01 00 62 9C 05 00 63 9C 01 01 64 9C 02 01 65 9C 05 01 66 9C 01 02 67 00 00 00 68 00 00 00');
  const records = parseCurrencyTable(table);
  t.same(records, [
    { code: 0x61, country: 0x9c, currency: 'CNY', base: 1, exp: 0, value: 100 },
    { code: 0x62, country: 0x9c, currency: 'CNY', base: 5, exp: 0, value: 500 },
    { code: 0x63, country: 0x9c, currency: 'CNY', base: 1, exp: 1, value: 1000 },
    { code: 0x64, country: 0x9c, currency: 'CNY', base: 2, exp: 1, value: 2000 },
    { code: 0x65, country: 0x9c, currency: 'CNY', base: 5, exp: 1, value: 5000 },
    { code: 0x66, country: 0x9c, currency: 'CNY', base: 1, exp: 2, value: 10000 },
  ]);
  for (const r of records) t.ok(Number.isInteger(r.value));
});

t.test('currency table: other countries, trailing bytes, absurd exponents', async (t) => {
  const records = parseCurrencyTable(hex('61 01 01 00 62 08 05 00 63 77 02 01 64 9c ff ff 01 02'));
  t.same(
    records.map((r) => [r.code, r.currency, r.value]),
    [
      [0x61, 'USD', 100],
      [0x62, 'CAD', 500],
      [0x63, undefined, 2000],
    ],
  );
});

t.test('denomination mask: bit i disables escrow code 0x61 + i', async (t) => {
  t.same([...denominationMask([])], [0, 0]);
  t.same([...denominationMask([0x62, 0x63, 0x64, 0x65])], [0x1e, 0x00]);
  t.same([...denominationMask([0x61, 0x69, 0x70])], [0x01, 0x81]);
  t.same([...denominationMask([0x11, 0x71])], [0, 0], 'codes outside the 16 positions are ignored');
});

t.test('splitter: garbage before a frame is discarded and counted', async (t) => {
  const s = new FrameSplitter();
  const frames = s.push(hex('00 13 ff 7e fc 05 11 27 56'));
  t.equal(frames.length, 1);
  t.equal(frames[0]!.cmd, 0x11);
  t.equal(s.stats.droppedBytes, 4);
  t.equal(s.pending, 0);
});

t.test('splitter: a frame split across chunks', async (t) => {
  const s = new FrameSplitter();
  t.same(s.push(hex('fc')), []);
  t.same(s.push(hex('06 13')), []);
  t.same(s.push(hex('63 a2')), []);
  t.equal(s.pending, 5);
  const frames = s.push(hex('d8'));
  t.equal(frames.length, 1);
  t.same(decodeStatus(frames[0]!), { kind: 'escrow', code: 0x63 });
  t.equal(s.stats.droppedBytes, 0);
});

t.test('splitter: two frames in one chunk, and a partial third', async (t) => {
  const s = new FrameSplitter();
  const frames = s.push(hex('fc 05 14 8a 01 fc 05 15 03 10 fc 05'));
  t.same(
    frames.map((f) => decodeStatus(f).kind),
    ['stacking', 'vend-valid'],
  );
  t.equal(s.pending, 2);
  t.same(s.push(hex('16 98 22')).map((f) => decodeStatus(f).kind), ['stacked']);
});

t.test('splitter: a bad CRC frame followed by a good one', async (t) => {
  const s = new FrameSplitter();
  const frames = s.push(hex('fc 06 13 63 a2 00 fc 05 1a f4 e8'));
  t.same(frames.map((f) => decodeStatus(f).kind), ['disabled']);
  t.equal(s.stats.badCrc, 1);
  t.equal(s.stats.droppedBytes, 6, 'the bad frame is dropped byte by byte up to the next SYNC');
});

t.test('splitter: a good frame hidden after a bad SYNC is found', async (t) => {
  const s = new FrameSplitter();
  // A stray SYNC with a length of 7 swallows the start of a real frame.
  const frames = s.push(hex('fc 07 fc 05 11 27 56'));
  t.same(frames.map((f) => f.cmd), [0x11]);
  t.equal(s.stats.badCrc, 1);
});

t.test('splitter: absurd lengths are rejected, the buffer stays bounded', async (t) => {
  const s = new FrameSplitter();
  t.same(s.push(hex('fc 00 fc 04 fc 05 11 27 56')).map((f) => f.cmd), [0x11]);
  t.equal(s.stats.badLength, 2);

  const noise = Buffer.alloc(5000);
  for (let i = 0; i < noise.length; i++) noise[i] = i % 3 === 0 ? 0xfc : 0xff;
  s.push(noise);
  t.ok(s.pending < 255, `pending ${s.pending} stays under one maximal frame`);
  const after = s.push(hex('fc 05 11 27 56'));
  t.ok(s.pending < 255);
  t.ok(after.length <= 1);
});

t.test('splitter: abandoning a stray SYNC releases the frames behind it', async (t) => {
  const s = new FrameSplitter();
  t.same(s.push(hex('fc ff fc 05 1a f4 e8')), [], 'waits for 255 bytes that will never come');
  const frames = s.abandonPending();
  t.same(frames.map((f) => decodeStatus(f).kind), ['disabled']);
  t.equal(s.pending, 0);
  t.same(s.abandonPending(), []);
});
