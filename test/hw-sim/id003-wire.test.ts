import t from 'tap';
import { CommandParser, crc16Kermit, frame } from '../../hw-sim/devices/id003/wire.js';
import { CNY_NOTES, currencyTable, noteByValue } from '../../hw-sim/devices/id003/notes.js';

const bytes = (hex: string): number[] => hex.split(' ').map((b) => parseInt(b, 16));

t.test('CRC-16/KERMIT check value', async (t) => {
  t.equal(crc16Kermit(Buffer.from('123456789', 'ascii')), 0x2189);
  t.equal(crc16Kermit(new Uint8Array(0)), 0);
});

t.test('host commands from protocols.md are parsed with their data', async (t) => {
  const vectors: [string, number, number[]][] = [
    ['FC 05 11 27 56', 0x11, []],
    ['FC 05 40 2B 15', 0x40, []],
    ['FC 05 50 AA 05', 0x50, []],
    ['FC 05 41 A2 04', 0x41, []],
    ['FC 05 42 39 36', 0x42, []],
    ['FC 05 43 B0 27', 0x43, []],
    ['FC 05 44 0F 53', 0x44, []],
    ['FC 06 C3 00 04 D6', 0xc3, [0x00]],
    ['FC 06 C3 01 8D C7', 0xc3, [0x01]],
    ['FC 07 C0 00 00 2D B5', 0xc0, [0x00, 0x00]],
    ['FC 05 88 6F 5F', 0x88, []],
    ['FC 05 8A 7D 7C', 0x8a, []],
    ['FC 06 C2 01 55 DE', 0xc2, [0x01]],
  ];
  for (const [hex, cmd, data] of vectors) {
    const parser = new CommandParser();
    const frames = parser.push(Uint8Array.from(bytes(hex)));
    t.same(frames.map((f) => ({ cmd: f.cmd, data: [...f.data] })), [{ cmd, data }], hex);
    t.equal(parser.badFrames + parser.garbageBytes, 0, `${hex}: nothing discarded`);
  }
});

t.test('device frames match bytes worked out by hand', async (t) => {
  const vectors: [number, number[], string][] = [
    [0x50, [], 'FC 05 50 AA 05'], // ACK, quoted in protocols.md
    [0x11, [], 'FC 05 11 27 56'], // idling: same bytes as the status request
    [0x40, [], 'FC 05 40 2B 15'], // power up
    [0x1a, [], 'FC 05 1A F4 E8'],
    [0x1b, [], 'FC 05 1B 7D F9'],
    [0x15, [], 'FC 05 15 03 10'],
    [0x16, [], 'FC 05 16 98 22'],
    [0x4b, [], 'FC 05 4B F8 AB'],
    [0x13, [0x65], 'FC 06 13 65 94 BD'],
    [0x13, [0x61], 'FC 06 13 61 B0 FB'],
    [0x17, [0x79], 'FC 06 17 79 19 00'],
    [0x49, [0xa2], 'FC 06 49 A2 A0 21'],
    [0xc3, [0x00], 'FC 06 C3 00 04 D6'], // echo of inhibit off
  ];
  for (const [cmd, data, hex] of vectors) {
    t.same([...frame(cmd, data)], bytes(hex), hex);
  }
});

t.test('the currency table reply has one 4-byte record per CNY note', async (t) => {
  t.same(
    [...frame(0x8a, currencyTable())],
    bytes('FC 1D 8A 61 9C 01 00 62 9C 05 00 63 9C 01 01 64 9C 02 01 65 9C 05 01 66 9C 01 02 8D 56'),
  );
  t.same(
    CNY_NOTES.map((n) => [n.code, n.value]),
    [
      [0x61, 100],
      [0x62, 500],
      [0x63, 1000],
      [0x64, 2000],
      [0x65, 5000],
      [0x66, 10000],
    ],
  );
  t.equal(noteByValue(5000)?.code, 0x65);
  t.equal(noteByValue(300), undefined);
});

t.test('the parser resyncs on SYNC and drops garbage and bad CRCs', async (t) => {
  const parser = new CommandParser();
  const stream = [
    ...bytes('00 13 37'), // noise
    ...bytes('FC 05 11 27 57'), // status request with a broken CRC
    ...bytes('FC 02'), // SYNC with an impossible length
    ...bytes('FC 05 40 2B 15'), // reset
  ];
  const frames = parser.push(Uint8Array.from(stream));
  t.same(frames.map((f) => f.cmd), [0x40]);
  t.equal(parser.badFrames, 1);
  t.ok(parser.garbageBytes >= 3 + 2, 'noise and the bad length were counted');
  t.equal(parser.pending, false);
});

t.test('a frame split across chunks is joined, and a stalled start is abandoned', async (t) => {
  const parser = new CommandParser();
  t.same(parser.push(Uint8Array.from(bytes('FC 06 C3'))), []);
  t.equal(parser.pending, true);
  const joined = parser.push(Uint8Array.from(bytes('00 04 D6')));
  t.same(joined.map((f) => [f.cmd, ...f.data]), [[0xc3, 0x00]]);

  // A lone SYNC announcing 32 bytes swallows a real frame until it is given up.
  t.same(parser.push(Uint8Array.from(bytes('FC 20 FC 05 11 27 56'))), []);
  const found = parser.abandonPartial();
  t.same(found.map((f) => f.cmd), [0x11]);
  t.equal(parser.pending, false);
});
