import t from 'tap';
import { crc16Xmodem, simpleChecksum } from '../../drivers/checksum/crc16.js';
import { frameCrc16 } from '../../drivers/cctalk/checksum.js';
import { FrameError, FrameSplitter, decodeFrame, encodeFrame } from '../../drivers/cctalk/codec.js';
import { coinErrorText, hopperTestFlags, seriousCoinError } from '../../drivers/cctalk/headers.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const dec = (...n: number[]) => Buffer.from(n);
const show = (b: Uint8Array) => Buffer.from(b).toString('hex');

t.test('CRC-16/XMODEM check value and the simple checksum', async (t) => {
  t.equal(crc16Xmodem(Buffer.from('123456789', 'ascii')), 0x31c3);
  t.equal(crc16Xmodem(Buffer.alloc(0)), 0);
  t.equal(simpleChecksum(dec(2, 2, 1, 231, 255, 255)), 22, 'modify inhibits example from the spec');
  t.equal(simpleChecksum(Buffer.alloc(0)), 0);
  t.equal(frameCrc16(dec(40, 0, 182, 254, 33)), 0x21b6, 'CRC over dest, length, header (source slot and last byte skipped)');
});

t.test('simple-checksum frames match the protocols.md vectors', async (t) => {
  const vectors: [string, number, number, number, number[], string][] = [
    ['simple poll to the coin acceptor', 2, 1, 254, [], '02 00 01 FE FF'],
    ['ACK from the coin acceptor', 1, 2, 0, [], '01 00 02 00 FD'],
    ['read buffered credit', 2, 1, 229, [], '02 00 01 E5 18'],
    ['hopper status', 3, 1, 166, [], '03 00 01 A6 56'],
    ['test hopper', 3, 1, 163, [], '03 00 01 A3 59'],
    ['emergency stop', 3, 1, 172, [], '03 00 01 AC 50'],
    ['request serial', 3, 1, 242, [], '03 00 01 F2 0A'],
    ['master inhibit enable', 2, 1, 228, [1], '02 01 01 E4 01 17'],
    ['enable hopper', 3, 1, 164, [0xa5], '03 01 01 A4 A5 B2'],
    ['ACK from the hopper', 1, 3, 0, [], '01 00 03 00 FC'],
    ['modify inhibits', 2, 1, 231, [255, 255], show(dec(2, 2, 1, 231, 255, 255, 22))],
    ['request equipment category', 2, 1, 245, [], show(dec(2, 0, 1, 245, 8))],
    ['SCH2 request cipher key', 3, 1, 160, [], show(dec(3, 0, 1, 160, 92))],
    ['SCH2 dispense 5', 3, 1, 167, [0, 0, 0, 0, 0, 0, 0, 0, 5], show(dec(3, 9, 1, 167, 0, 0, 0, 0, 0, 0, 0, 0, 5, 71))],
    ['SCH2 dispense reply (event 8)', 1, 3, 0, [8], show(dec(1, 1, 3, 0, 8, 243))],
    ['Flow dispense 1 with serial DF D7 0A', 3, 1, 167, [0xdf, 0xd7, 0x0a, 1], '03 04 01 A7 DF D7 0A 01 90'],
  ];
  for (const [name, dest, source, header, data, expected] of vectors) {
    const frame = encodeFrame({ dest, source, header, data: Uint8Array.from(data) }, 'simple');
    t.equal(show(frame), show(hex(expected)), name);
    const back = decodeFrame(frame, 'simple');
    t.same([back.dest, back.source, back.header, [...back.data]], [dest, source, header, data], `${name} decodes`);
  }
  const category = Buffer.concat([dec(1, 13, 2, 0), Buffer.from('Coin Acceptor', 'ascii'), dec(22)]);
  const reply = decodeFrame(category, 'simple');
  t.equal(reply.data.toString('ascii'), 'Coin Acceptor', 'the spec example reply to 245 decodes');
  t.equal(show(encodeFrame({ dest: 1, source: 2, header: 0, data: Buffer.from('Coin Acceptor') }, 'simple')), show(category));
});

t.test('CRC-16 frames match the spec example', async (t) => {
  const poll = encodeFrame({ dest: 40, source: 1, header: 254 }, 'crc16');
  t.equal(show(poll), show(dec(40, 0, 182, 254, 33)), 'simple poll to a bill validator');
  const reply = encodeFrame({ dest: 1, source: 40, header: 0 }, 'crc16');
  t.equal(show(reply), show(dec(1, 0, 48, 0, 55)), 'its ACK');
  const back = decodeFrame(dec(1, 0, 48, 0, 55), 'crc16');
  t.same([back.dest, back.source, back.header, back.data.length], [1, undefined, 0, 0], 'no source address in CRC mode');
  const withData = encodeFrame({ dest: 2, source: 1, header: 231, data: dec(3, 0) }, 'crc16');
  t.same([...decodeFrame(withData, 'crc16').data], [3, 0], 'a frame with data round-trips');
  t.throws(() => decodeFrame(dec(40, 0, 182, 254, 34), 'crc16'), /bad CRC-16/);
  t.throws(() => decodeFrame(dec(40, 0, 183, 254, 33), 'crc16'), /bad CRC-16/, 'the low byte sits in the source slot');
});

t.test('decodeFrame and encodeFrame say what is wrong', async (t) => {
  t.throws(() => decodeFrame(hex('02 00 01 FE'), 'simple'), { name: 'FrameError' });
  try {
    decodeFrame(hex('02 00 01'), 'simple');
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof FrameError, 'a FrameError');
  }
  t.throws(() => decodeFrame(hex('02 00 01 FE'), 'simple'), /too short: 4 bytes/);
  t.throws(() => decodeFrame(hex('02 01 01 FE FF'), 'simple'), /length mismatch: length byte says 6 bytes, got 5/);
  t.throws(() => decodeFrame(hex('02 00 01 FE FE'), 'simple'), /bad checksum: 020001fefe/);
  t.throws(() => encodeFrame({ dest: 256, source: 1, header: 254 }, 'simple'), /dest out of range: 256/);
  t.throws(() => encodeFrame({ dest: 2, source: 1, header: -1 }, 'simple'), /header out of range/);
  t.throws(() => encodeFrame({ dest: 2, source: 1, header: 1, data: new Uint8Array(256) }, 'simple'), /data too long/);
  t.equal(encodeFrame({ dest: 2, source: 1, header: 1, data: new Uint8Array(255) }, 'simple').length, 260);
});

t.test('splitter: frames, fragments, garbage and bad checksums', async (t) => {
  const ack = hex('01 00 02 00 FD');
  const status = encodeFrame({ dest: 1, source: 3, header: 0, data: dec(7, 0, 5, 0) }, 'simple');

  const s = new FrameSplitter('simple', { now: () => 0 });
  t.same(s.push(Buffer.concat([ack, status])).map((f) => show(f.bytes)), [show(ack), show(status)], 'two frames in one chunk');
  t.equal(s.pending, 0);

  t.same(s.push(status.subarray(0, 3)), [], 'first part of a frame: nothing yet');
  t.equal(s.pending, 3);
  const rest = s.push(status.subarray(3));
  t.same(rest.map((f) => [...f.data]), [[7, 0, 5, 0]], 'completed by the second part');

  const bad = Buffer.from(ack);
  bad[4] = 0xfe;
  const h = new FrameSplitter('simple', { now: () => 0, dest: 1 });
  const frames = h.push(Buffer.concat([bad, ack]));
  t.same(frames.map((f) => show(f.bytes)), [show(ack)], 'a good frame after a bad one is found');
  t.equal(h.stats.badChecksum, 1, 'the bad frame is counted');
  t.equal(h.stats.droppedBytes, 5, 'and its bytes dropped');
  t.equal(h.pending, 0);

  const g = new FrameSplitter('simple', { now: () => 0, dest: 1 });
  const found = g.push(Buffer.concat([dec(0x55, 0x00, 0x03), ack, dec(0x7f, 0x02, 0xfe), ack]));
  t.same(found.map((f) => show(f.bytes)), [show(ack), show(ack)], 'bytes that cannot start a frame to the host are skipped');
  t.equal(g.stats.droppedBytes, 6);
  t.equal(g.stats.badChecksum, 0);

  const any = new FrameSplitter('simple', { now: () => 0 });
  const all = any.push(Buffer.concat([dec(0x02, 0x00, 0x01, 0xfe, 0xff), ack]));
  t.same(all.map((f) => f.dest), [2, 1], 'without a destination filter every valid frame comes out');
});

t.test('splitter: a partial frame is given up after the inter-byte gap', async (t) => {
  const ack = hex('01 00 02 00 FD');
  let now = 1000;
  const s = new FrameSplitter('simple', { now: () => now, gapMs: 50 });
  // A garbage byte whose "length" (200) would swallow the good frame behind it.
  t.same(s.push(Buffer.concat([dec(0x07, 200), ack])), [], 'held: the length points past the end');
  now += 30;
  t.same(s.push(dec(0x09)), [], 'within the gap the bytes are kept');
  t.equal(s.pending, 8);
  now += 51;
  const later = s.push(ack);
  t.same(later.map((f) => show(f.bytes)), [show(ack), show(ack)], 'after the gap: the hidden frame and the new one');
  t.equal(s.stats.abandoned, 1);
  t.equal(s.pending, 0);

  const m = new FrameSplitter('simple', { now: () => 0 });
  m.push(Buffer.concat([dec(0x07, 200), ack, ack.subarray(0, 2)]));
  t.same(m.abandonPending().map((f) => show(f.bytes)), [show(ack)], 'abandonPending returns frames hidden in the partial');
  t.equal(m.pending, 0, 'and drops the rest');
  t.same(m.abandonPending(), [], 'nothing pending: nothing to do');
});

t.test('splitter in CRC-16 mode', async (t) => {
  const s = new FrameSplitter('crc16', { now: () => 0 });
  const frames = s.push(dec(0xff, 1, 0, 48, 0, 55, 1, 0, 48, 0, 56));
  t.same(frames.map((f) => show(f.bytes)), [show(dec(1, 0, 48, 0, 55))]);
  t.ok(s.stats.badChecksum >= 1);
});

t.test('coin error texts and hopper flags', async (t) => {
  t.equal(coinErrorText(1), 'reject coin');
  t.equal(coinErrorText(254), 'coin return mechanism activated');
  t.equal(coinErrorText(130), 'inhibited coin (type 3)');
  t.match(coinErrorText(99), /unknown coin acceptor error 99/);
  t.equal(seriousCoinError(254), 'coin-return-activated');
  t.equal(seriousCoinError(255), 'alarm');
  t.equal(seriousCoinError(1), undefined, 'a rejected coin is routine');
  t.same(
    hopperTestFlags(dec(0b1100_0000)).map((f) => f.name),
    ['power-up detected', 'payout disabled'],
  );
  t.same(
    hopperTestFlags(dec(0b0010_1000, 0b0100_0010)).map((f) => f.name),
    ['opto path blocked during idle', 'opto blocked permanently during payout', 'single-coin mode', 'power fail during NV memory write'],
  );
  t.same(hopperTestFlags(dec(0)), []);
});
