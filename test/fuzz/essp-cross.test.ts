/**
 * eSSP cross-checks: the driver (drivers/essp) and the emulator (hw-sim/devices/essp) share no code,
 * so each side is the other's oracle. Host → device: encodeFrame into HostParser; device → host:
 * packet into FrameSplitter; on any byte stream both splitters find the same packets; and packets
 * sealed on one side open on the other.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { FrameSplitter, encodeFrame, parsePollEvents } from '../../drivers/essp/codec.js';
import { crc16Cms } from '../../drivers/checksum/crc16.js';
import { decryptPacket, encryptPacket } from '../../drivers/essp/crypto.js';
import { HostParser, crc16 as wireCrc, packet } from '../../hw-sim/devices/essp/wire.js';
import { openPacket, sealPacket } from '../../hw-sim/devices/essp/crypto.js';
import { check, concat, cutsArb, hex, mutate, mutationArb, noiseArb, noiseRichIn, noiseWithout, splitAt } from './fuzz.js';

const STX = 0x7f;
/** Data rich in 0x7F, so that stuffing is exercised on most runs. */
const dataArb = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constant(STX)), { minLength: 1, maxLength: 255 })
  .map((a) => Uint8Array.from(a));
const packetArb = fc.record({ seqId: fc.oneof(fc.constant(0x00), fc.constant(0x80), fc.integer({ min: 0, max: 0xfd })), data: dataArb });
const show = (seqId: number, data: Uint8Array): string => `${seqId.toString(16)}:${hex(data)}`;
/** Packets separated by garbage without an STX, so that every packet must be found. */
const streamArb = fc.array(fc.tuple(noiseWithout([STX], 16), packetArb), { minLength: 1, maxLength: 5 });

check(
  t,
  'the table-driven (driver) and bitwise (emulator) CRC-16/CMS agree on any bytes',
  fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.equal(crc16Cms(bytes), wireCrc(bytes));
  }),
);

check(
  t,
  'driver encodeFrame and emulator packet produce the same bytes for any address, flag and data',
  fc.property(packetArb, ({ seqId, data }) => {
    const address = seqId & 0x7f;
    if (address > 0x7d) return;
    assert.equal(hex(encodeFrame(address, (seqId & 0x80) !== 0, data)), hex(packet(seqId, data)));
  }),
);

check(
  t,
  'host → device: driver packets, with garbage and split anyhow, reach the emulator intact',
  fc.property(streamArb, cutsArb, (parts, cuts) => {
    const valid = parts.filter(([, p]) => (p.seqId & 0x7f) <= 0x7d);
    const stream = concat(...valid.flatMap(([g, p]) => [g, encodeFrame(p.seqId & 0x7f, (p.seqId & 0x80) !== 0, p.data)]));
    const parser = new HostParser();
    const got = splitAt(stream, cuts).flatMap((c) => parser.push(c).map((h) => show(h.seqId, h.data)));
    assert.deepEqual(got, valid.map(([, p]) => show(p.seqId, p.data)));
    assert.equal(parser.badFrames + parser.abandoned, 0);
    assert.equal(parser.pending, false);
  }),
);

check(
  t,
  'device → host: emulator packets, with garbage and split anyhow, reach the driver intact',
  fc.property(streamArb, cutsArb, (parts, cuts) => {
    const stream = concat(...parts.flatMap(([g, p]) => [g, packet(p.seqId, p.data)]));
    const splitter = new FrameSplitter();
    const got = splitAt(stream, cuts).flatMap((c) => splitter.push(c));
    assert.deepEqual(
      got.map((f) => show(f.address | (f.seq ? 0x80 : 0), f.data)),
      parts.map(([, p]) => show(p.seqId, p.data)),
    );
    for (const f of got) parsePollEvents(f.data, 8); // any data parses without throwing
    assert.equal(splitter.stats.badCrc + splitter.stats.aborted + splitter.stats.badLength, 0);
    assert.equal(splitter.pending, 0);
  }),
);

const anyStreamArb = fc.oneof(
  noiseArb,
  noiseRichIn([STX, 0x80, 0x00]),
  fc
    .tuple(fc.array(fc.tuple(fc.boolean(), packetArb), { minLength: 1, maxLength: 4 }), fc.array(mutationArb, { maxLength: 6 }))
    .map(([packets, mutations]) =>
      mutate(concat(...packets.map(([driver, p]) => (driver && (p.seqId & 0x7f) <= 0x7d ? encodeFrame(p.seqId & 0x7f, (p.seqId & 0x80) !== 0, p.data) : packet(p.seqId, p.data)))), mutations),
    ),
);

check(
  t,
  'on any byte stream the driver FrameSplitter and the emulator HostParser find the same packets, and hold at most one',
  fc.property(anyStreamArb, cutsArb, (stream, cuts) => {
    const splitter = new FrameSplitter();
    const parser = new HostParser();
    const a: string[] = [];
    const b: string[] = [];
    for (const chunk of splitAt(stream, cuts)) {
      a.push(...splitter.push(chunk).map((f) => show(f.address | (f.seq ? 0x80 : 0), f.data)));
      b.push(...parser.push(chunk).map((h) => show(h.seqId, h.data)));
      assert.deepEqual(a, b);
      assert.equal(splitter.pending > 0, parser.pending);
      assert.ok(splitter.pending <= 260, 'at most one unfinished packet is kept');
    }
    splitter.abandonPending();
    parser.abandonPartial();
    assert.equal(splitter.pending, 0);
    assert.equal(parser.pending, false);
    assert.equal(splitter.stats.badCrc, parser.badFrames);
  }),
);

check(
  t,
  'encrypted packets: sealed by either side, opened by the other',
  fc.property(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.nat(),
    fc.uint8Array({ minLength: 1, maxLength: 233 }),
    (key, count, data) => {
      const k = Buffer.from(key);
      const fromDriver = encryptPacket(k, count, data);
      const opened = openPacket(k, fromDriver);
      assert.ok(opened.ok && opened.count === count >>> 0 && hex(opened.data) === hex(data));
      const fromDevice = sealPacket(k, count, data);
      const back = decryptPacket(k, fromDevice);
      assert.ok(back.ok && back.count === count >>> 0 && hex(back.data) === hex(data));
    },
  ),
  0.2,
);
