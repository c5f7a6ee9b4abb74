import t from 'tap';
import {
  HostFrameParser,
  checksum8,
  crc16Xmodem,
  encodeFrame,
  encodeReply,
} from '../../hw-sim/devices/cctalk/wire.js';

const bytes = (u: Uint8Array) => Array.from(u);
const ascii = (s: string) => Array.from(Buffer.from(s, 'ascii'));

t.test('8-bit checksum against the frames in protocols.md', async (t) => {
  t.equal(checksum8([0x02, 0x00, 0x01, 0xfe]), 0xff, 'simple poll to the coin acceptor');
  t.equal(checksum8([0x02, 0x00, 0x01, 0xf5]), 0x08, 'spec example: request category');
  t.equal(checksum8([0x03, 0x00, 0x01, 0x01]), 0xfb, 'Flow example: reset device 03 00 01 01 FB');
  t.equal(checksum8([1, 2, 3, 250]), 0, 'a sum of exactly 256 needs 0');
  t.equal(checksum8([]), 0, 'nothing to balance');
});

t.test('CRC-16/XMODEM', async (t) => {
  t.equal(crc16Xmodem(ascii('123456789')), 0x31c3, 'catalogue check value');
  t.equal(crc16Xmodem([]), 0, 'init 0');
  // Spec example [40][0][182][254][33]: the CRC over dest, length, header is 0x21B6.
  t.equal(crc16Xmodem([40, 0, 254]), 0x21b6, 'bill validator simple poll');
  t.equal(crc16Xmodem([1, 0, 0]), 0x3730, 'its ACK');
});

t.test('encoder: host frames and device replies, 8-bit checksum', async (t) => {
  t.same(bytes(encodeFrame(2, 1, 254, [], 'checksum8')), [0x02, 0x00, 0x01, 0xfe, 0xff], 'simple poll 02 00 01 FE FF');
  t.same(bytes(encodeReply(2, 0, [])), [0x01, 0x00, 0x02, 0x00, 0xfd], 'ACK from the coin acceptor 01 00 02 00 FD');
  t.same(bytes(encodeReply(3, 0, [])), [0x01, 0x00, 0x03, 0x00, 0xfc], 'ACK from the hopper 01 00 03 00 FC');
  t.same(bytes(encodeFrame(3, 1, 164, [0xa5], 'checksum8')), [0x03, 0x01, 0x01, 0xa4, 0xa5, 0xb2], 'enable hopper');
  t.same(bytes(encodeFrame(2, 1, 231, [255, 255], 'checksum8')), [2, 2, 1, 231, 255, 255, 22], 'modify inhibits');
  t.same(bytes(encodeFrame(2, 1, 228, [1], 'checksum8')), [0x02, 0x01, 0x01, 0xe4, 0x01, 0x17], 'master inhibit enable');
  t.same(bytes(encodeFrame(2, 1, 229, [], 'checksum8')), [0x02, 0x00, 0x01, 0xe5, 0x18], 'read buffered credit');
  t.same(bytes(encodeFrame(3, 1, 166, [], 'checksum8')), [0x03, 0x00, 0x01, 0xa6, 0x56], 'hopper status');
  t.same(bytes(encodeFrame(3, 1, 163, [], 'checksum8')), [0x03, 0x00, 0x01, 0xa3, 0x59], 'test hopper');
  t.same(bytes(encodeFrame(3, 1, 172, [], 'checksum8')), [0x03, 0x00, 0x01, 0xac, 0x50], 'emergency stop');
  t.same(bytes(encodeFrame(3, 1, 242, [], 'checksum8')), [0x03, 0x00, 0x01, 0xf2, 0x0a], 'request serial');
  t.same(
    bytes(encodeFrame(3, 1, 167, [0xdf, 0xd7, 0x0a, 0x01], 'checksum8')),
    [0x03, 0x04, 0x01, 0xa7, 0xdf, 0xd7, 0x0a, 0x01, 0x90],
    'Flow dispense with the serial number',
  );
  t.same(
    bytes(encodeFrame(3, 1, 167, [0, 0, 0, 0, 0, 0, 0, 0, 5], 'checksum8')),
    [3, 9, 1, 167, 0, 0, 0, 0, 0, 0, 0, 0, 5, 71],
    'SCH2 dispense 5',
  );
  t.same(bytes(encodeReply(3, 0, [8])), [1, 1, 3, 0, 8, 243], 'SCH2 dispense reply, event 8');
  t.same(
    bytes(encodeReply(2, 0, ascii('Coin Acceptor'))),
    [1, 13, 2, 0, ...ascii('Coin Acceptor'), 22],
    'spec example: category reply',
  );
  t.throws(() => encodeReply(2, 0, new Uint8Array(256)), RangeError, 'at most 255 data bytes');
});

t.test('encoder: CRC-16 frames put the CRC in the source and check slots', async (t) => {
  t.same(bytes(encodeFrame(40, 1, 254, [], 'crc16')), [40, 0, 182, 254, 33], 'TX [40][0][182][254][33]');
  t.same(bytes(encodeReply(40, 0, [], 'crc16')), [1, 0, 48, 0, 55], 'RX [1][0][48][0][55]');
});

t.test('parser: frames, split chunks and several frames in one chunk', async (t) => {
  const parser = new HostFrameParser();
  t.same(parser.push(Uint8Array.of(0x03, 0x04, 0x01, 0xa7)), [], 'half a frame waits');
  t.ok(parser.pending);
  const [dispense] = parser.push(Uint8Array.of(0xdf, 0xd7, 0x0a, 0x01, 0x90));
  t.same({ ...dispense, data: bytes(dispense!.data) }, { dest: 3, source: 1, header: 167, data: [0xdf, 0xd7, 0x0a, 1] });
  t.notOk(parser.pending);

  const frames = parser.push(Uint8Array.of(0x02, 0x00, 0x01, 0xfe, 0xff, 0x03, 0x00, 0x01, 0xa6, 0x56));
  t.same(frames.map((f) => [f.dest, f.header]), [[2, 254], [3, 166]], 'two frames from one chunk');
  t.equal(parser.badChecks, 0);
  t.equal(parser.skippedBytes, 0);
});

t.test('parser: a bad checksum is counted and ignored, the next frame is found', async (t) => {
  const parser = new HostFrameParser();
  const frames = parser.push(Uint8Array.of(0x02, 0x00, 0x01, 0xfe, 0x00, 0x02, 0x00, 0x01, 0xfe, 0xff));
  t.same(frames.map((f) => [f.dest, f.header]), [[2, 254]], 'only the good frame');
  t.equal(parser.badChecks, 1);
  t.notOk(parser.pending, 'nothing left waiting');
});

t.test('parser: noise before a frame is skipped, a stale partial frame can be discarded', async (t) => {
  const parser = new HostFrameParser();
  const frames = parser.push(Uint8Array.of(0xaa, 0xbb, 0x55, 0x02, 0x00, 0x01, 0xe5, 0x18));
  t.same(frames.map((f) => f.header), [229], 'resynchronised on the frame');
  t.equal(parser.skippedBytes, 3);

  t.same(parser.push(Uint8Array.of(0x07, 0xf0, 0x01)), [], 'a frame that claims 240 data bytes waits');
  t.ok(parser.pending);
  parser.discardPartial();
  t.notOk(parser.pending);
  t.same(parser.push(Uint8Array.of(0x02, 0x00, 0x01, 0xfe, 0xff)).map((f) => f.header), [254], 'next frame parses');
});

t.test('parser: CRC-16 mode', async (t) => {
  const parser = new HostFrameParser('crc16');
  const [poll] = parser.push(Uint8Array.of(40, 0, 182, 254, 33));
  t.equal(poll?.dest, 40);
  t.equal(poll?.header, 254);
  t.equal(poll?.source, undefined, 'the source slot holds the CRC');
  t.same(parser.push(Uint8Array.of(40, 0, 182, 254, 34)), [], 'one bit off in the CRC');
  t.equal(parser.badChecks, 1);
});
