/**
 * ccTalk cross-checks: the driver (drivers/cctalk) and the emulator (hw-sim/devices/cctalk/wire.ts)
 * share no code, so each side is the other's oracle. Host → device: driver encodeFrame into
 * HostFrameParser; device → host: encodeReply into decodeFrame and FrameSplitter; and with CRC-16,
 * where neither parser filters on an address, the two must cut any byte stream the same way.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { crc16Xmodem as driverCrc, simpleChecksum } from '../../drivers/checksum/crc16.js';
import { frameCrc16 } from '../../drivers/cctalk/checksum.js';
import { FrameSplitter, decodeFrame, encodeFrame, type ChecksumMode } from '../../drivers/cctalk/codec.js';
import {
  HOST_ADDRESS,
  HostFrameParser,
  checksum8,
  crc16Xmodem as wireCrc,
  encodeFrame as wireEncode,
  encodeReply,
  type CheckMode,
} from '../../hw-sim/devices/cctalk/wire.js';
import { check, concat, cutsArb, dataArb, hex, mutate, mutationArb, noiseArb, noiseRichIn, noiseWithout, splitAt } from './fuzz.js';

const byte = fc.integer({ min: 0, max: 255 });
const modes = [
  ['simple', 'checksum8'],
  ['crc16', 'crc16'],
] as const;
const modeArb = fc.constantFrom(...modes);
const fieldsArb = fc.record({ dest: byte, source: byte, header: byte, data: dataArb(255) });

t.test('both CRCs give the CRC-16/XMODEM check value', async (t) => {
  const vector = Buffer.from('123456789', 'ascii');
  t.equal(driverCrc(vector), 0x31c3);
  t.equal(wireCrc(vector), 0x31c3);
});

check(
  t,
  'the checksums agree: simpleChecksum = checksum8, table-driven = bitwise CRC-16/XMODEM',
  fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.equal(simpleChecksum(bytes), checksum8(bytes));
    assert.equal(driverCrc(bytes), wireCrc(bytes));
    if (bytes.length >= 4) assert.equal(frameCrc16(bytes), wireCrc([bytes[0]!, bytes[1]!, ...bytes.subarray(3, bytes.length - 1)]));
  }),
);

check(
  t,
  'driver and emulator encodeFrame produce the same bytes for any fields, in both modes',
  fc.property(fieldsArb, modeArb, (f, [driverMode, wireMode]) => {
    assert.equal(hex(encodeFrame(f, driverMode)), hex(wireEncode(f.dest, f.source, f.header, f.data, wireMode)));
  }),
);

const hostFrameArb = fc.record({ dest: byte, header: byte, data: dataArb(255) });
const wireShow = (f: { dest: number; source: number | undefined; header: number; data: Uint8Array }): string =>
  `${f.dest}>${f.source ?? '-'}/${f.header}:${hex(f.data)}`;

check(
  t,
  'host → device: driver frames sent back to back, split anyhow, reach the emulator intact',
  fc.property(fc.array(hostFrameArb, { minLength: 1, maxLength: 5 }), modeArb, cutsArb, (frames, [driverMode, wireMode], cuts) => {
    const stream = concat(...frames.map((f) => encodeFrame({ ...f, source: HOST_ADDRESS }, driverMode)));
    const parser = new HostFrameParser(wireMode);
    const got = splitAt(stream, cuts).flatMap((c) => parser.push(c).map(wireShow));
    const source = wireMode === 'checksum8' ? HOST_ADDRESS : undefined;
    assert.deepEqual(got, frames.map((f) => wireShow({ ...f, source })));
    assert.equal(parser.skippedBytes, 0);
    assert.equal(parser.pending, false);
  }),
);

check(
  t,
  'host → device: after any line noise and a quiet gap, a driver frame reaches the emulator intact',
  fc.property(noiseArb, hostFrameArb, modeArb, (noise, f, [driverMode, wireMode]) => {
    const parser = new HostFrameParser(wireMode);
    parser.push(noise);
    parser.discardPartial();
    const got = parser.push(encodeFrame({ ...f, source: HOST_ADDRESS }, driverMode)).map(wireShow);
    assert.deepEqual(got, [wireShow({ ...f, source: wireMode === 'checksum8' ? HOST_ADDRESS : undefined })]);
  }),
);

check(
  t,
  'device → host: emulator replies, with noise (no 0x01) between them and split anyhow, reach the driver intact',
  fc.property(
    fc.array(fc.tuple(noiseWithout([HOST_ADDRESS], 16), fc.record({ source: byte, header: byte, data: dataArb(255) })), {
      minLength: 1,
      maxLength: 5,
    }),
    modeArb,
    cutsArb,
    (parts, [driverMode, wireMode], cuts) => {
      const replies = parts.map(([, r]) => encodeReply(r.source, r.header, r.data, wireMode));
      const stream = concat(...parts.flatMap(([noise], i) => [noise, replies[i]!]));
      const splitter = new FrameSplitter(driverMode, { dest: HOST_ADDRESS, now: () => 0 });
      const got = splitAt(stream, cuts).flatMap((c) => splitter.push(c));
      assert.deepEqual(
        got.map((g) => hex(g.bytes)),
        replies.map(hex),
      );
      for (const [i, g] of got.entries()) {
        const [, sent] = parts[i]!;
        const back = decodeFrame(g.bytes, driverMode);
        assert.equal(
          wireShow(back),
          wireShow({ dest: HOST_ADDRESS, source: driverMode === 'simple' ? sent.source : undefined, header: sent.header, data: sent.data }),
        );
      }
      assert.equal(splitter.stats.badChecksum, 0);
    },
  ),
);

/** The emulator parser's held bytes: private, read here only to compare with the driver's. */
const held = (p: HostFrameParser): number => (p as unknown as { buffer: Uint8Array }).buffer.length;

check(
  t,
  'CRC-16 mode, any byte stream: the driver FrameSplitter and the emulator HostFrameParser find the same frames and skip the same bytes',
  fc.property(
    fc.oneof(
      noiseArb,
      noiseRichIn([HOST_ADDRESS]),
      fc
        .tuple(fc.array(fc.tuple(fc.boolean(), fieldsArb), { minLength: 1, maxLength: 4 }), fc.array(mutationArb, { maxLength: 6 }))
        .map(([frames, mutations]) =>
          mutate(
            concat(...frames.map(([driver, f]) => (driver ? encodeFrame(f, 'crc16') : wireEncode(f.dest, f.source, f.header, f.data, 'crc16')))),
            mutations,
          ),
        ),
    ),
    cutsArb,
    (stream, cuts) => {
      const mode: ChecksumMode & CheckMode = 'crc16';
      const splitter = new FrameSplitter(mode, { now: () => 0 });
      const parser = new HostFrameParser(mode);
      const a: string[] = [];
      const b: string[] = [];
      for (const chunk of splitAt(stream, cuts)) {
        a.push(...splitter.push(chunk).map(wireShow));
        b.push(...parser.push(chunk).map(wireShow));
        assert.deepEqual(a, b);
        assert.equal(splitter.pending, held(parser));
      }
      assert.equal(splitter.stats.droppedBytes, parser.skippedBytes);
      assert.equal(splitter.stats.badChecksum, parser.badChecks);
    },
  ),
);
