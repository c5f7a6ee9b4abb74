import t from 'tap';
import { crc16Kermit } from '../../drivers/checksum/crc16.js';
import { Cmd } from '../../drivers/ccnet/constants.js';
import {
  FrameSplitter,
  billTypeMask,
  decodeReply,
  enableBillTypesData,
  encodeCommand,
  encodeFrame,
  parseBillTable,
  parseFrame,
  parseIdentification,
} from '../../drivers/ccnet/codec.js';

const bytes = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

// Every frame quoted in protocols.md section 4 (the idling reply is the published worked example).
const SPEC_VECTORS: [string, Buffer, string][] = [
  ['POLL', encodeCommand(Cmd.poll), '02 03 06 33 DA 81'],
  ['ACK', encodeCommand(Cmd.ack), '02 03 06 00 C2 82'],
  ['NAK', encodeCommand(Cmd.nak), '02 03 06 FF BA 8D'],
  ['RESET', encodeCommand(Cmd.reset), '02 03 06 30 41 B3'],
  ['STACK', encodeCommand(Cmd.stack), '02 03 06 35 EC E4'],
  ['RETURN', encodeCommand(Cmd.return), '02 03 06 36 77 D6'],
  ['HOLD', encodeCommand(Cmd.hold), '02 03 06 38 09 3F'],
  ['IDENTIFICATION', encodeCommand(Cmd.identification), '02 03 06 37 FE C7'],
  ['GET BILL TABLE', encodeCommand(Cmd.getBillTable), '02 03 06 41 4F D1'],
  // protocols.md labels this "escrow all"; the escrow mask bytes are in fact zero.
  [
    'ENABLE BILL TYPES: all types, escrow mask zero',
    encodeCommand(Cmd.enableBillTypes, bytes('FF FF FF 00 00 00')),
    '02 03 0C 34 FF FF FF 00 00 00 B5 C1',
  ],
  ['idling reply (published)', encodeFrame(Uint8Array.of(0x14)), '02 03 06 14 67 D4'],
];

t.test('every computed frame of the specification', async (t) => {
  for (const [name, got, want] of SPEC_VECTORS) t.equal(hexOf(got), hexOf(bytes(want)), name);
});

t.test('CRC-16/KERMIT: the check value and the idling frame', async (t) => {
  t.equal(crc16Kermit(Buffer.from('123456789', 'ascii')), 0x2189, 'KERMIT check value');
  const idling = bytes('02 03 06 14 67 D4');
  t.equal(crc16Kermit(idling, 0, 4), 0xd467, 'covers SYNC to the last data byte, sent low byte first');
  t.equal(crc16Kermit(idling, 0, 6), 0, 'a frame with its CRC appended runs to zero');
});

t.test('the published idling reply decodes; parseFrame checks SYNC, length and CRC', async (t) => {
  const frame = parseFrame(bytes('02 03 06 14 67 D4'));
  t.equal(frame.address, 3);
  t.same(decodeReply(frame), { kind: 'idling' });
  t.throws(() => parseFrame(bytes('02 03 06 14 67 D5')), /bad CRC/);
  t.throws(() => parseFrame(bytes('02 03 07 14 67 D4')), /not a CCNET frame/);
  t.throws(() => parseFrame(bytes('03 03 06 14 67 D4')), /not a CCNET frame/);
  t.throws(() => parseFrame(bytes('02 03 05 14 67')), /not a CCNET frame/);
  t.throws(() => encodeFrame(new Uint8Array(0)), /without data/);
  t.throws(() => encodeFrame(new Uint8Array(251)), /too long/);
  t.equal(encodeFrame(new Uint8Array(250)).length, 255, 'the longest frame LNG can express');
});

t.test('poll states, with the byte that follows some of them', async (t) => {
  const cases: [string, object][] = [
    ['02 03 06 10 43 92', { kind: 'power-up' }],
    ['02 03 06 11 CA 83', { kind: 'power-up-bill-in-validator' }],
    ['02 03 06 12 51 B1', { kind: 'power-up-bill-in-stacker' }],
    ['02 03 06 13 D8 A0', { kind: 'initialize' }],
    ['02 03 06 15 EE C5', { kind: 'accepting' }],
    ['02 03 06 17 FC E6', { kind: 'stacking' }],
    ['02 03 06 18 0B 1E', { kind: 'returning' }],
    ['02 03 06 19 82 0F', { kind: 'disabled' }],
    ['02 03 06 1A 19 3D', { kind: 'holding' }],
    ['02 03 06 1B 90 2C', { kind: 'busy' }],
    ['02 03 06 30 41 B3', { kind: 'illegal-command' }],
    ['02 03 06 41 4F D1', { kind: 'stacker-full' }],
    ['02 03 06 42 D4 E3', { kind: 'stacker-open' }],
    ['02 03 06 43 5D F2', { kind: 'jam-acceptor' }],
    ['02 03 06 44 E2 86', { kind: 'jam-stacker' }],
    ['02 03 06 45 6B 97', { kind: 'cheated' }],
    ['02 03 06 46 F0 A5', { kind: 'pause' }],
    ['02 03 07 80 02 9E 10', { kind: 'escrow', billType: 2 }],
    ['02 03 07 81 02 46 09', { kind: 'stacked', billType: 2 }],
    ['02 03 07 82 02 2E 23', { kind: 'returned', billType: 2 }],
    ['02 03 07 1C 60 77 E0', { kind: 'rejecting', code: 0x60, reason: 'insertion error' }],
    ['02 03 07 1C 68 3F 6C', { kind: 'rejecting', code: 0x68, reason: 'bill type inhibited' }],
    ['02 03 07 47 50 AB E6', { kind: 'failure', code: 0x50, text: 'stack motor failure' }],
    ['02 03 06 00 C2 82', { kind: 'ack' }],
    ['02 03 06 FF BA 8D', { kind: 'nak' }],
  ];
  for (const [frame, want] of cases) t.same(decodeReply(parseFrame(bytes(frame))), want, frame);
  t.same(decodeReply(Uint8Array.of(0x80)), { kind: 'unknown', data: Buffer.of(0x80) }, 'escrow without its bill type');
  t.same(decodeReply(Uint8Array.of(0x1c)).kind, 'unknown', 'rejecting without its reason');
  t.same(decodeReply(Uint8Array.of(0x99)).kind, 'unknown');
  t.same(decodeReply(Uint8Array.of(0x1c, 0x7e)), { kind: 'rejecting', code: 0x7e, reason: 'unknown reject reason 0x7E' });
  t.same(decodeReply(Uint8Array.of(0x47, 0x5a)), { kind: 'failure', code: 0x5a, text: 'unknown failure 0x5A' });
});

/** A table in the wire layout: [digits][country ×3][power], 24 entries. */
function table(entries: [number, string, number, number][]): Buffer {
  const out = Buffer.alloc(120);
  for (const [type, country, digits, power] of entries) {
    out[type * 5] = digits;
    out.write(country, type * 5 + 1, 'latin1');
    out[type * 5 + 4] = power;
  }
  return out;
}

t.test('bill table: 24 entries of 5 bytes, values in minor units, unknown countries kept apart', async (t) => {
  const cny = table([
    [0, 'CHN', 1, 0],
    [1, 'CHN', 5, 0],
    [2, 'CHN', 1, 1],
    [3, 'CHN', 2, 1],
    [4, 'CHN', 5, 1],
    [5, 'CHN', 1, 2],
  ]);
  t.same(
    parseBillTable(cny).map((e) => [e.billType, e.currency, e.value]),
    [
      [0, 'CNY', 100],
      [1, 'CNY', 500],
      [2, 'CNY', 1000],
      [3, 'CNY', 2000],
      [4, 'CNY', 5000],
      [5, 'CNY', 10000],
    ],
  );
  const mixed = parseBillTable(
    table([
      [2, 'RUS', 5, 2],
      [7, 'CNY', 5, 0x81],
      [9, 'CNY', 1, 0x83],
      [23, 'XXX', 2, 0],
    ]),
  );
  t.same(mixed[0], { billType: 2, digits: 5, country: 'RUS', exponent: 2, currency: 'RUB', value: 50000 });
  t.same(mixed[1], { billType: 7, digits: 5, country: 'CNY', exponent: -1, currency: 'CNY', value: 50 }, 'bit 7: negative power (5 jiao)');
  t.equal(mixed[2]!.value, undefined, '0.001 yuan is not a whole number of fen');
  t.same(mixed[3], { billType: 23, digits: 2, country: 'XXX', exponent: 0, currency: undefined, value: undefined });
  t.same(parseBillTable(cny.subarray(0, 12)).map((e) => e.billType), [0, 1], 'a short answer gives the entries it holds');
});

t.test('ENABLE BILL TYPES masks: most significant byte first, bit n = bill type n', async (t) => {
  t.equal(hexOf(billTypeMask([0])), '000001');
  t.equal(hexOf(billTypeMask([0, 5])), '000021');
  t.equal(hexOf(billTypeMask([8, 23])), '800100');
  t.equal(hexOf(billTypeMask([24, -1, 1.5])), '000000', 'out-of-range types are ignored');
  t.equal(hexOf(encodeCommand(Cmd.enableBillTypes, enableBillTypesData([0, 5], [0, 5]))), hexOf(bytes('02 03 0C 34 00 00 21 00 00 21 74 AF')));
  t.equal(hexOf(encodeCommand(Cmd.enableBillTypes, enableBillTypesData([], []))), hexOf(bytes('02 03 0C 34 00 00 00 00 00 00 17 0C')));
});

t.test('identification: part number, serial number, asset number', async (t) => {
  const data = Buffer.concat([
    Buffer.from('SM-CN1301      ', 'latin1'),
    Buffer.from('41K000123456', 'latin1'),
    Buffer.from([0, 0, 0, 0, 0, 0x30, 0x39]),
  ]);
  const id = parseIdentification(data);
  t.equal(id.partNumber, 'SM-CN1301');
  t.equal(id.serialNumber, '41K000123456');
  t.same([...id.assetNumber], [0, 0, 0, 0, 0, 0x30, 0x39]);
  t.equal(parseIdentification(Buffer.concat([data, Buffer.alloc(10)])).serialNumber, '41K000123456', 'extended answer');
  t.throws(() => parseIdentification(data.subarray(0, 33)), /too short/);
});

t.test('splitter: split chunks, garbage, bad CRC, impossible lengths', async (t) => {
  const idling = bytes('02 03 06 14 67 D4');
  // No byte after SYNC equals SYNC in these, so the counts below are exact.
  const escrow = bytes('02 03 07 80 04 A8 75');
  const s = new FrameSplitter();

  t.same(s.push(idling.subarray(0, 2)), [], 'half a frame');
  t.equal(s.pending, 2);
  const [one] = s.push(idling.subarray(2));
  t.equal(hexOf(one!.bytes), hexOf(idling));
  t.equal(s.pending, 0);

  const broken = Buffer.from(escrow);
  broken[broken.length - 1]! ^= 0x01;
  const frames = s.push(Buffer.concat([bytes('00 FF 13'), broken, bytes('02 03 04'), escrow, bytes('02 03 00'), idling]));
  t.same(frames.map((f) => decodeReply(f)), [{ kind: 'escrow', billType: 4 }, { kind: 'idling' }]);
  t.equal(s.stats.badCrc, 1);
  t.equal(s.stats.badLength, 2, 'LNG 4, and LNG 0 (the long-frame form)');
  t.equal(s.stats.droppedBytes, 3 + 7 + 3 + 3, 'noise, the bad frame, and both bad-length headers');

  // A good frame hidden inside a corrupted one is still found.
  const hidden = s.push(Buffer.concat([bytes('02 03 0C 34 00'), idling, bytes('55 55')]));
  t.same(hidden.map((f) => decodeReply(f)), [{ kind: 'idling' }]);

  // A stray SYNC announcing a long frame is abandoned after a time-out, and what followed is found.
  s.reset();
  t.same(s.push(Buffer.concat([bytes('02 03 F0'), idling])), []);
  t.same(s.abandonPending().map((f) => decodeReply(f)), [{ kind: 'idling' }]);
  t.equal(s.pending, 0);
  t.same(s.abandonPending(), []);

  s.push(bytes('02 03 06 14'));
  s.reset();
  t.equal(s.pending, 0);
});

t.test('frames for another address are split like any other', async (t) => {
  const s = new FrameSplitter();
  const coinChanger = encodeFrame(Uint8Array.of(0x14), 0x02);
  const [f] = s.push(coinChanger);
  t.equal(f!.address, 0x02);
});
