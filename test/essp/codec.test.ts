/**
 * SSP framing against the worked examples of protocols.md section 2, on both sides: the driver's
 * codec (drivers/essp) and the emulator's own wire module (hw-sim/devices/essp/wire.ts).
 */
import t from 'tap';
import { crc16Cms } from '../../drivers/checksum/crc16.js';
import {
  FrameSplitter,
  decodeReply,
  encodeFrame,
  genericName,
  inhibitMask,
  parsePollEvents,
  parseSetup,
  stuff,
  uint64le,
} from '../../drivers/essp/codec.js';
import { HostParser, crc16 as wireCrc, packet } from '../../hw-sim/devices/essp/wire.js';
import { setupReply } from '../../hw-sim/devices/essp/channels.js';

const bytes = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** [what, address, seq flag, DATA, the packet on the wire] from protocols.md section 2. */
const VECTORS: [string, number, boolean, string, string][] = [
  ['SYNC (host)', 0, true, '11', '7F 80 01 11 65 82'],
  ['OK to SYNC (slave)', 0, true, 'F0', '7F 80 01 F0 23 80'],
  ['RESET', 0, true, '01', '7F 80 01 01 06 02'],
  ['POLL', 0, true, '07', '7F 80 01 07 12 02'],
  ['DISABLE', 0, true, '09', '7F 80 01 09 35 82'],
  ['ENABLE', 0, true, '0A', '7F 80 01 0A 3F 82'],
  ['poll reply: slave reset + disabled', 0, true, 'F0 F1 E8', '7F 80 03 F0 F1 E8 BF 8C'],
  ['poll reply: credit ch1 + stacked', 0, true, 'F0 EE 01 EB', '7F 80 04 F0 EE 01 EB B9 48'],
  ['poll reply: read in escrow ch3', 0, true, 'F0 EF 03', '7F 80 03 F0 EF 03 C5 CA'],
  ['SET INHIBITS 16 channels enabled', 0, true, '02 FF FF', '7F 80 03 02 FF FF 25 A4'],
  ['HOST PROTOCOL VERSION 8', 0, true, '06 08', '7F 80 02 06 08 03 94'],
  ['FAIL (version 9 refused)', 0, true, 'F8', '7F 80 01 F8 10 00'],
  ['SET GENERATOR 982451653', 0, true, '4A C5 05 8F 3A 00 00 00 00', '7F 80 09 4A C5 05 8F 3A 00 00 00 00 B2 73'],
  ['POLL with seq 0', 0, false, '07', '7F 00 01 07 11 88'],
  ['OK with seq 0', 0, false, 'F0', '7F 00 01 F0 20 0A'],
];

t.test('both CRCs give the CRC-16/CMS check value', async (t) => {
  t.equal(crc16Cms(Buffer.from('123456789', 'ascii')), 0xaee7);
  t.equal(wireCrc(Buffer.from('123456789', 'ascii')), 0xaee7);
  t.equal(crc16Cms(bytes('0080011100'), 1, 4), wireCrc(bytes('800111')), 'a range of a buffer');
});

t.test('every worked example: driver and emulator encode it, and both parsers read it back', async (t) => {
  for (const [what, address, seq, data, wire] of VECTORS) {
    t.equal(hex(encodeFrame(address, seq, bytes(data))), hex(bytes(wire)), `driver encodes ${what}`);
    t.equal(hex(packet(address | (seq ? 0x80 : 0), bytes(data))), hex(bytes(wire)), `emulator encodes ${what}`);
    const [frame] = new FrameSplitter().push(bytes(wire));
    t.same({ address: frame?.address, seq: frame?.seq, data: frame && hex(frame.data) }, { address, seq, data: hex(bytes(data)) }, `driver splits ${what}`);
    const [host] = new HostParser().push(bytes(wire));
    t.same(host && { seqId: host.seqId, data: hex(host.data) }, { seqId: address | (seq ? 0x80 : 0), data: hex(bytes(data)) }, `emulator parses ${what}`);
  }
});

t.test('the worked poll replies decode into their events', async (t) => {
  const events = (h: string) => {
    const reply = decodeReply(bytes(h));
    t.equal(reply.status, 'ok');
    return parsePollEvents(reply.data, 8).events.map((e) => (e.channel === undefined ? e.kind : `${e.kind}:${e.channel}`));
  };
  t.same(events('F0 F1 E8'), ['slave-reset', 'disabled']);
  t.same(events('F0 EE 01 EB'), ['credit:1', 'stacked']);
  t.same(events('F0 EF 03'), ['read:3']);
  t.same(decodeReply(bytes('F8')), { code: 0xf8, status: 'fail', data: Buffer.alloc(0) });
  t.equal(decodeReply(bytes('FA')).status, 'key-not-set');
  t.equal(decodeReply(bytes('99')).status, 'unknown');
  t.equal(genericName(0xf5), 'command cannot be processed');
  t.match(genericName(0x99), /unknown response 0x99/);
  t.throws(() => decodeReply(Buffer.alloc(0)), /empty/);
});

t.test('SET INHIBITS data and 64-bit numbers', async (t) => {
  t.equal(hex(inhibitMask([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])), 'ffff', 'all 16, as in the worked example');
  t.equal(hex(inhibitMask([1, 4, 9])), '0901');
  t.equal(hex(inhibitMask([0, 17])), '0000', 'channels outside 1–16 are ignored');
  t.equal(hex(uint64le(982451653n)), 'c5058f3a00000000', 'the generator of the worked example');
});

t.test('stuffing: every 0x7F after the STX is doubled, the CRC included; both sides round-trip it', async (t) => {
  t.equal(hex(stuff(bytes('7f017f7f02'))), '7f7f017f7f7f7f02');
  // A CRC that itself contains 0x7F: found by search so that the test holds on its own.
  let data: Buffer | undefined;
  for (let i = 0; i < 0x10000 && !data; i++) {
    const candidate = Buffer.of(0xf0, i & 0xff, i >>> 8);
    const crc = crc16Cms(Buffer.concat([Buffer.of(0x80, 3), candidate]));
    if ((crc & 0xff) === 0x7f || crc >>> 8 === 0x7f) data = candidate;
  }
  t.ok(data, 'a payload whose CRC has a 0x7F byte exists');
  const payloads = [bytes('7f'), bytes('7f7f7f'), bytes('f07f0000'), data!, Buffer.alloc(255, 0x7f)];
  for (const payload of payloads) {
    for (const seq of [false, true]) {
      const wire = encodeFrame(0, seq, payload);
      t.equal(hex(packet(seq ? 0x80 : 0, payload)), hex(wire), `same bytes both sides for ${hex(payload).slice(0, 12)}`);
      t.equal(wire.subarray(1).filter((b, i, all) => b === 0x7f && all[i + 1] !== 0x7f && all[i - 1] !== 0x7f).length, 0, 'no lone 0x7F after the STX');
      const [frame] = new FrameSplitter().push(wire);
      t.equal(frame && hex(frame.data), hex(payload));
      const [host] = new HostParser().push(wire);
      t.equal(host && hex(host.data), hex(payload));
    }
  }
  t.throws(() => encodeFrame(0, true, Buffer.alloc(0)), /length/);
  t.throws(() => encodeFrame(0, true, Buffer.alloc(256)), /length/);
  t.throws(() => encodeFrame(0x7e, true, bytes('07')), /address/);
  t.throws(() => packet(0x80, []), /length/);
});

t.test('driver splitter: garbage, split chunks, bad CRC, lone STX mid-packet, LENGTH 0', async (t) => {
  const good = encodeFrame(0, true, bytes('f0ee01eb'));
  const other = encodeFrame(0, false, bytes('f0'));
  const broken = Buffer.from(good);
  broken[broken.length - 1]! ^= 0x01;

  const s = new FrameSplitter();
  t.same(s.push(bytes('00 13 55')), [], 'garbage alone gives nothing');
  t.equal(s.stats.droppedBytes, 3);

  // One byte at a time.
  const got = [...good].flatMap((b) => s.push(Buffer.of(b)));
  t.equal(got.length, 1, 'a packet fed byte by byte');
  t.equal(s.pending, 0);

  t.same(s.push(broken), [], 'bad CRC dropped');
  t.equal(s.stats.badCrc, 1);
  t.equal(hex(s.push(other)[0]!.data), 'f0', 'the next packet is found');

  // A packet cut short by the STX of the next one: the first is dropped, the second kept.
  const cut = Buffer.concat([good.subarray(0, 5), other]);
  const found = s.push(cut);
  t.same(found.map((f) => [f.seq, hex(f.data)]), [[false, 'f0']]);
  t.equal(s.stats.aborted, 1);

  t.same(s.push(bytes('7f 80 00 7f 80 01 f0 23 80')).map((f) => hex(f.data)), ['f0'], 'LENGTH 0 is dropped, the packet after it read');
  t.equal(s.stats.badLength, 1);

  s.push(good.subarray(0, 4));
  t.ok(s.pending > 0, 'a partial packet is held');
  s.abandonPending();
  t.equal(s.pending, 0);
  t.equal(hex(s.push(other)[0]!.data), 'f0', 'after abandoning, the next packet is read');
  s.push(good.subarray(0, 4));
  s.reset();
  t.equal(s.pending, 0);
  s.abandonPending();
});

t.test('emulator parser: garbage, split chunks, bad CRC, lone STX mid-packet, LENGTH 0', async (t) => {
  const poll = bytes('7F 80 01 07 12 02');
  const sync = bytes('7F 80 01 11 65 82');
  const p = new HostParser();
  t.same(p.push(bytes('01 02')), []);
  t.equal(p.garbageBytes, 2);
  t.same([...poll].flatMap((b) => p.push(Buffer.of(b))).map((h) => hex(h.data)), ['07'], 'byte by byte');
  const bad = Buffer.from(poll);
  bad[4]! ^= 0x10;
  t.same(p.push(bad), []);
  t.equal(p.badFrames, 1);
  t.same(p.push(Buffer.concat([poll.subarray(0, 4), sync])).map((h) => hex(h.data)), ['11'], 'lone STX starts over');
  t.equal(p.abandoned, 1);
  t.same(p.push(bytes('7f 00 00')), [], 'LENGTH 0');
  p.push(poll.subarray(0, 3));
  t.ok(p.pending);
  p.abandonPartial();
  t.notOk(p.pending);
  t.equal(p.abandoned, 2);
  p.abandonPartial();
  t.same(p.push(poll).map((h) => hex(h.data)), ['07']);
});

t.test('poll events: every validator event, the version-dependent payout events, and an unknown code', async (t) => {
  const all = parsePollEvents(bytes('F1 EF 00 EF 03 CC EE 03 EB ED EC EA E9 E8 E6 02 E7 E1 04 E2 05 E0 E3 E4 B5 B6'), 8);
  t.same(
    all.events.map((e) => e.kind),
    [
      'slave-reset', 'read', 'read', 'stacking', 'credit', 'stacked', 'rejecting', 'rejected', 'safe-jam', 'unsafe-jam',
      'disabled', 'fraud-attempt', 'stacker-full', 'cleared-from-front', 'cleared-into-cashbox', 'path-open',
      'cashbox-removed', 'cashbox-replaced', 'channel-disable', 'initialising',
    ],
  );
  t.same(all.events.filter((e) => e.channel !== undefined).map((e) => e.channel), [0, 3, 3, 2, 4, 5]);
  t.equal(all.unparsed.length, 0);

  // Dispensed (0xD2): from protocol 6 a count and value + currency per country; before, one uint32.
  const v8 = parsePollEvents(bytes('D2 01 10 27 00 00 43 4E 59 E8'), 8);
  t.same(v8.events.map((e) => [e.kind, e.data.length]), [['payout-value', 8], ['disabled', 0]]);
  const v5 = parsePollEvents(bytes('D2 10 27 00 00 E8'), 5);
  t.same(v5.events.map((e) => [e.kind, e.data.length]), [['payout-value', 4], ['disabled', 0]]);
  const incomplete8 = parsePollEvents(bytes('DC 01 00 01 00 00 00 02 00 00 43 4E 59 E8'), 7);
  t.same(incomplete8.events.map((e) => e.kind), ['payout-incomplete', 'disabled']);
  const incomplete4 = parsePollEvents(bytes('DD 00 01 00 00 00 02 00 00'), 4);
  t.same(incomplete4.events.map((e) => [e.kind, e.data.length]), [['payout-incomplete', 8]]);

  const unknown = parsePollEvents(bytes('E8 99 01 EB'), 8);
  t.same(unknown.events.map((e) => e.kind), ['disabled'], 'events before the unknown code are kept');
  t.equal(hex(unknown.unparsed), '9901eb', 'the rest is reported unparsed');
  t.equal(hex(parsePollEvents(bytes('EF'), 8).unparsed), 'ef', 'a truncated event is not read past the end');
  t.equal(hex(parsePollEvents(bytes('D2'), 8).unparsed), 'd2', 'a value event without its count');
});

t.test('setup request: the emulator dataset read by the driver, with and without the protocol-6 part', async (t) => {
  const v8 = parseSetup(setupReply(8));
  t.equal(v8.unitType, 0);
  t.equal(v8.unitName, 'banknote validator');
  t.equal(v8.firmware, '0420');
  t.equal(v8.country, 'CNY');
  t.equal(v8.protocolVersion, 8);
  t.same(v8.channels.map((c) => [c.channel, c.value, c.currency]), [
    [1, 100, 'CNY'],
    [2, 500, 'CNY'],
    [3, 1000, 'CNY'],
    [4, 2000, 'CNY'],
    [5, 5000, 'CNY'],
    [6, 10000, 'CNY'],
  ]);
  const v5 = parseSetup(setupReply(5));
  t.same(v5.channels.map((c) => c.value), [100, 500, 1000, 2000, 5000, 10000], 'before protocol 6: the 1-byte values');
  t.equal(v5.channels[0]!.currency, 'CNY', 'and the unit country');
  t.throws(() => parseSetup(setupReply(8).slice(0, 10)), /too short for the header/);
  t.throws(() => parseSetup(setupReply(8).slice(0, 20)), /too short for 6 channels/);
  t.throws(() => parseSetup(setupReply(8).slice(0, 40)), /expanded/);
  t.match(parseSetup([0x42, ...setupReply(8).slice(1)]).unitName, /unit type 0x42/);
});
