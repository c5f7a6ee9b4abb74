/**
 * ZVT's serial transport: frames against published byte vectors (CRC, DLE doubling), the frame reader
 * on split, noisy and damaged input, and the two links over the in-memory pair.
 */
import t from 'tap';
import { memoryPair, type MemoryTransport } from '../../drivers/transport/memory.js';
import { crc16Kermit as crcCcitt } from '../../drivers/checksum/crc16.js';
import { FrameReader, encodeFrame, type SerialEvent } from '../../drivers/zvt/framing.js';
import { LinkError, SerialApduLink, TcpApduLink } from '../../drivers/zvt/link.js';
import type { Apdu } from '../../drivers/zvt/codec.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Serial frames a cash register sent and a terminal answered, as published with an open ZVT client. */
const VECTORS: [string, string, string][] = [
  ['registration', '06 00 06 12 34 56 BA 09 78', '10 02 06 00 06 12 34 56 BA 09 78 10 03 24 C3'],
  ['authorisation 110.00 (a 10 doubled)', '06 01 0A 04 00 00 00 01 10 00 49 09 78', '10 02 06 01 0A 04 00 00 00 01 10 10 00 49 09 78 10 03 F2 FF'],
  ['positive acknowledgement', '80 00 00', '10 02 80 00 00 10 03 F5 1F'],
  ['negative acknowledgement 9C', '84 9C 00', '10 02 84 9C 00 10 03 C3 41'],
  ['diagnosis', '06 70 00', '10 02 06 70 00 10 03 D9 F9'],
  ['status enquiry', '05 01 03 12 34 56', '10 02 05 01 03 12 34 56 10 03 E0 43'],
  ['completion with a version', '06 0F 0B F0 F0 F7 32 2E 31 34 2E 31 35 00', '10 02 06 0F 0B F0 F0 F7 32 2E 31 34 2E 31 35 00 10 03 B1 11'],
  [
    'print line',
    '06 D1 19 00 47 65 73 61 6D 74 20 20 20 20 20 20 30 20 20 20 20 20 20 20 30 2C 30 30',
    '10 02 06 D1 19 00 47 65 73 61 6D 74 20 20 20 20 20 20 30 20 20 20 20 20 20 20 30 2C 30 30 10 03 B5 AB',
  ],
];

t.test('CRC-CCITT as ZVT computes it', async (t) => {
  t.equal(crcCcitt(Buffer.from('123456789')), 0x2189, 'the check value of the reflected 0x1021, initial 0');
  t.equal(crcCcitt(Buffer.alloc(0)), 0);
});

t.test('encodeFrame produces the published frames; the reader reads them back', async (t) => {
  for (const [what, apdu, frame] of VECTORS) {
    t.equal(encodeFrame(hex(apdu)).toString('hex'), hex(frame).toString('hex'), `${what}: encoded`);
    t.same(new FrameReader().push(hex(frame)), [{ kind: 'frame', apdu: hex(apdu) }], `${what}: read`);
  }
});

t.test('the reader: chunks of any size, ACK/NAK between frames, noise, and damage', async (t) => {
  const stream = Buffer.concat(VECTORS.map(([, , f]) => hex(f)));
  for (const size of [1, 2, 3, 5, 13]) {
    const r = new FrameReader();
    const events: SerialEvent[] = [];
    for (let at = 0; at < stream.length; at += size) events.push(...r.push(stream.subarray(at, at + size)));
    t.same(
      events.map((e) => (e.kind === 'frame' ? e.apdu.toString('hex') : e.kind)),
      VECTORS.map(([, a]) => hex(a).toString('hex')),
      `chunks of ${size}`,
    );
    t.equal(r.pending, 0);
  }
  const r = new FrameReader();
  t.same(r.push(hex('06 15 06')), [{ kind: 'ack' }, { kind: 'nak' }, { kind: 'ack' }], 'single ACK and NAK bytes');
  t.same(r.push(hex('41 42 10 41 10 10 02 80 00 00 10 03 F5 1F')), [{ kind: 'frame', apdu: hex('80 00 00') }], 'noise, and a DLE that starts nothing');
  t.equal(r.stats.noise, 5);
  const badCrc = hex('10 02 80 00 00 10 03 F5 1E');
  t.same(r.push(badCrc), [{ kind: 'bad-frame', reason: 'crc' }], 'a wrong CRC');
  t.same(r.push(hex('10 02 80 00 10 41')), [{ kind: 'bad-frame', reason: 'dle' }], 'DLE followed by a byte it cannot escape');
  t.same(r.push(hex('10 02 80 00 10 02 80 00 00 10 03 F5 1F')), [{ kind: 'bad-frame', reason: 'dle' }, { kind: 'frame', apdu: hex('80 00 00') }], 'a new frame inside a cut one');
  t.equal(r.stats.badFrames, 3);
  r.push(hex('10 02 01 02'));
  t.equal(r.pending, 2, 'an unfinished frame is held');
  r.reset();
  t.equal(r.pending, 0);
  const huge = new FrameReader();
  const events = huge.push(Buffer.concat([hex('10 02'), Buffer.alloc(70_000, 0x41)]));
  t.same(events, [{ kind: 'bad-frame', reason: 'too-long' }], 'a frame never grows past the longest APDU');
});

function linked(): { link: SerialApduLink; host: MemoryTransport; device: MemoryTransport; received: Buffer[]; apdus: Apdu[] } {
  const [host, device] = memoryPair('zvt');
  const link = new SerialApduLink(host, { ackTimeoutMs: 100 });
  const received: Buffer[] = [];
  const apdus: Apdu[] = [];
  device.on('data', (b) => received.push(b));
  link.on('apdu', (a) => apdus.push(a));
  return { link, host, device, received, apdus };
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

t.test('serial link: a frame is sent again after NAK or silence, and three tries is the end', async (t) => {
  const { link, device, received } = linked();
  await device.open();
  await link.open();
  const sent = link.send(hex('06 70 00'));
  await until(() => received.length === 1, 'the first try');
  await device.write(hex('15'));
  await until(() => received.length === 2, 'the resend after NAK');
  t.equal(received[1]!.toString('hex'), encodeFrame(hex('06 70 00')).toString('hex'), 'the same frame again');
  await device.write(hex('06'));
  await sent;
  t.pass('resolved on ACK');

  const lost = await link.send(hex('80 00 00')).catch((e: unknown) => e);
  t.ok(lost instanceof LinkError && lost.written, 'a LinkError: the frame went out');
  t.match((lost as Error).message, /no ACK after 3 tries/);
  t.equal(received.length, 5, 'three tries in all');
  await link.close();
  const closed = await link.send(hex('80 00 00')).catch((e: unknown) => e);
  t.ok(closed instanceof LinkError && !closed.written, 'nothing written on a closed line');
  await t.rejects(link.send(hex('80 00')), /header incomplete/, 'a malformed APDU is refused before the line');
});

t.test('serial link: good frames are ACKed and delivered, bad ones NAKed', async (t) => {
  const { link, device, received, apdus } = linked();
  await device.open();
  await link.open();
  await device.write(Buffer.concat([hex('10 02 04 FF 01 0A 10 03'), Buffer.from([0, 0])]));
  await until(() => received.length === 1, 'the NAK');
  t.equal(received[0]!.toString('hex'), '15', 'NAK for the bad CRC');
  await device.write(encodeFrame(hex('04 FF 01 0A')));
  await until(() => apdus.length === 1, 'the APDU');
  t.same(apdus[0], { cls: 4, instr: 0xff, data: hex('0A') });
  await until(() => received.length === 2, 'the ACK');
  t.equal(received[1]!.toString('hex'), '06');
  await device.write(encodeFrame(hex('04 FF 05 0A')));
  await until(() => received.length === 3, 'the ACK of a malformed APDU');
  t.equal(apdus.length, 1, 'an APDU whose length field lies is dropped above the line');
  await link.close();
});

t.test('serial link: the line closing ends the wait for ACK', async (t) => {
  const { link, host, device } = linked();
  await device.open();
  await link.open();
  const sent = link.send(hex('06 70 00'));
  await new Promise((r) => setTimeout(r, 10));
  await host.close();
  await t.rejects(sent, /closed while waiting/);
});

t.test('TCP link: bare APDUs both ways', async (t) => {
  const [host, device] = memoryPair('zvt-tcp');
  const link = new TcpApduLink(host);
  const apdus: Apdu[] = [];
  link.on('apdu', (a) => apdus.push(a));
  const received: Buffer[] = [];
  device.on('data', (b) => received.push(b));
  let closed = 0;
  link.on('close', () => closed++);
  await device.open();
  await link.open();
  t.equal(link.description, 'zvt-tcp:a');
  t.ok(link.isOpen);
  await link.send(hex('06 01 0A 04 00 00 00 01 10 00 49 09 78'));
  await until(() => received.length === 1, 'the APDU');
  t.equal(received[0]!.toString('hex'), '06010a04000000011000490978');
  await device.write(hex('80 00 00 04'));
  await device.write(hex('FF 01 0A'));
  await until(() => apdus.length === 2, 'two APDUs across writes');
  t.same(apdus[1], { cls: 4, instr: 0xff, data: hex('0A') });
  await link.close();
  t.equal(closed, 1);
  const refused = await link.send(hex('80 00 00')).catch((e: unknown) => e);
  t.ok(refused instanceof LinkError && !refused.written);
});
