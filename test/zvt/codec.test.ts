/**
 * The ZVT codec and message reading against byte vectors: APDUs sent by a cash register and captured
 * from terminals (published with the open ZVT implementations), and the layouts of PA00P015.
 */
import t from 'tap';
import {
  ApduSplitter,
  ZvtCodecError,
  bcdDigits,
  decodeApdu,
  decodeBcd,
  encodeApdu,
  encodeBcd,
  encodeBmp,
  encodeTlv,
  findTlv,
  parseBmps,
  parseTlv,
  tlvLength,
} from '../../drivers/zvt/codec.js';
import { resultText } from '../../drivers/zvt/constants.js';
import {
  POSITIVE_ACK,
  abortCommand,
  authorisation,
  classify,
  endOfDay,
  printable,
  readPrintLine,
  readStatusInformation,
  readTextBlock,
  registration,
  reversal,
  statusEnquiry,
} from '../../drivers/zvt/messages.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const show = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The error `run` throws, for checking its class. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('commands the kiosk sends match the published bytes', async (t) => {
  t.equal(show(registration('123456', 0xba, 978)), show(hex('06 00 06 12 34 56 BA 09 78')), 'registration: password, config byte, currency');
  t.equal(show(authorisation(11000, 978)), show(hex('06 01 0A 04 00 00 00 01 10 00 49 09 78')), 'authorisation of 110.00 EUR');
  t.equal(show(statusEnquiry('123456')), show(hex('05 01 03 12 34 56')), 'status enquiry');
  t.equal(show(POSITIVE_ACK), '800000', 'positive acknowledgement');
  t.equal(show(abortCommand()), '06b000', 'abort from the register');
  t.equal(show(endOfDay('000000')), '065003000000', 'end of day with the password');
  t.equal(show(reversal('000000', 42)), '0630060000008700' + '42', 'reversal of receipt 0042');
  t.equal(show(authorisation(5000, 156)), '06010a' + '04000000005000' + '490156', 'the kiosk pays in fen, CNY 156');
  t.ok(thrown(() => registration('12345', 0, 978)) instanceof ZvtCodecError, 'the password is six digits');
  t.ok(thrown(() => authorisation(1e13, 156)) instanceof ZvtCodecError, 'an amount over 12 digits does not fit');
});

t.test('APDU length: one byte below 255, FF and two bytes little-endian from 255', async (t) => {
  const data254 = Buffer.alloc(254, 1);
  t.equal(show(encodeApdu(0x06, 0xd3, data254).subarray(0, 3)), '06d3fe');
  const data255 = Buffer.alloc(255, 2);
  t.equal(show(encodeApdu(0x06, 0xd3, data255).subarray(0, 5)), '06d3ffff00', '255 needs the long form');
  const data300 = Buffer.alloc(300, 3);
  const long = encodeApdu(0x06, 0xd3, data300);
  t.equal(show(long.subarray(0, 5)), '06d3ff2c01', '300 = 0x012C, low byte first');
  t.same(decodeApdu(long).data, data300);
  t.ok(thrown(() => encodeApdu(6, 1, Buffer.alloc(65536))) instanceof ZvtCodecError, 'over 65535 bytes of data');
  t.throws(() => decodeApdu(hex('06 01')), /header incomplete/);
  t.throws(() => decodeApdu(hex('06 01 02 04')), /says 5 bytes, got 4/);
  t.throws(() => decodeApdu(hex('80 00 00 00')), /says 3 bytes, got 4/);
});

t.test('the TCP splitter cuts a stream at the length fields, whatever the chunks', async (t) => {
  const stream = Buffer.concat([hex('80 00 00'), hex('04 FF 01 0A'), encodeApdu(6, 0xd3, Buffer.alloc(400, 7)), hex('06 0F 00')]);
  for (const cut of [1, 2, 3, 4, 5, 7, 100, stream.length]) {
    const s = new ApduSplitter();
    const got = [];
    for (let at = 0; at < stream.length; at += cut) got.push(...s.push(stream.subarray(at, at + cut)));
    t.same(
      got.map((a) => [a.cls, a.instr, a.data.length]),
      [
        [0x80, 0, 0],
        [4, 0xff, 1],
        [6, 0xd3, 400],
        [6, 0x0f, 0],
      ],
      `chunks of ${cut}`,
    );
    t.equal(s.pending, 0);
  }
});

t.test('BCD', async (t) => {
  t.equal(show(encodeBcd(11000, 6)), '000000011000');
  t.equal(decodeBcd(hex('00 00 00 01 10 00')), 11000);
  t.equal(bcdDigits(hex('52 00 12 33')), '52001233', 'terminal id keeps its digits');
  t.equal(bcdDigits(hex('00 12')), '0012', 'and its leading zeros');
  t.throws(() => decodeBcd(hex('1A')), /not BCD/);
  t.throws(() => bcdDigits(hex('F1')), /not BCD/);
  t.throws(() => encodeBcd(1000, 1), /does not fit/);
  t.throws(() => encodeBcd(-1, 2), /not a BCD number/);
  t.throws(() => encodeBcd(1.5, 2), /not a BCD number/);
});

t.test('status information captured from a terminal: the fields the kiosk uses', async (t) => {
  // 40.00 EUR, girocard, masked PAN in BMP 22 (not read), receipt 0175.
  const status = decodeApdu(
    hex('04 0F 37 27 00 04 00 00 00 00 40 00 49 09 78 0C 09 38 48 0D 04 25 22 F1 F1 59 66 66 66 66 D2 00 21 22 01 00 17 00 01 87 01 75 0B 61 39 95 19 40 29 60 09 99 14 0E 05 12 8A 02'),
  );
  const m = classify(status);
  t.equal(m.kind, 'status');
  if (m.kind !== 'status') return;
  t.same(m.info, { resultCode: 0, amount: 4000, receiptNo: 175, trace: 613995, terminalId: '60099914' });
  const fields = parseBmps(status.data).fields;
  t.same(
    fields.map((f) => f.id),
    [0x27, 0x04, 0x49, 0x0c, 0x0d, 0x22, 0x17, 0x87, 0x0b, 0x19, 0x29, 0x0e, 0x8a],
    'every BMP delimited',
  );
  t.equal(fields.find((f) => f.id === 0x22)!.value.length, 11, 'LLVAR F1 F1 = 11 bytes');
});

t.test('a long status information with additional data (LLLVAR) and a TLV container', async (t) => {
  const status = decodeApdu(
    hex(
      '040FCE2700040000000010004909780C1230050D062922F0F8474843EEEEEE77438700023B38383931353000000B000733196029420030360E18018A0A8C038BF0F556495341002A3435353630303030303539392020203CF0F7F341532D544944203D2031334630303031330D41532D50726F632D436F6465203D203230203930332030300D436170742E2D5265662E3D20303030300D41494435393A20383039323538062B4102000A4902000315024445600F4204564953414307A00000000310102F0C1F1001001F1101011F120102',
    ),
  );
  const info = readStatusInformation(status.data);
  t.same(info, { resultCode: 0, amount: 1000, receiptNo: 2, trace: 733, terminalId: '42003036', cardName: 'VISA' });
  const tlv = parseBmps(status.data).fields.find((f) => f.id === 0x06)!;
  const objects = parseTlv(tlv.value);
  t.same(
    objects.map((o) => o.tag),
    [0x41, 0x49, 0x15, 0x60, 0x2f],
  );
  t.same(findTlv(objects, 0x42)[0]!.value.toString('latin1'), 'VISA', 'inside the constructed 60');
  t.same(
    findTlv(objects, 0x2f)[0]!.children!.map((c) => c.tag),
    [0x1f10, 0x1f11, 0x1f12],
    'two-byte tags',
  );
});

t.test('intermediate status, print line, completion and abort captured from terminals', async (t) => {
  const inter = classify(decodeApdu(hex('04 FF 1E 0A 01 06 1A 24 18 07 16 42 69 74 74 65 20 4B 61 72 74 65 20 65 69 6E 73 74 65 63 6B 65 6E')));
  t.same(inter, { kind: 'intermediate', code: 0x0a, stage: 'insert-card', text: 'insert card' });
  // Status byte, a time-out byte, then the display text in a TLV container.
  const rest = parseBmps(decodeApdu(hex('04 FF 1E 0A 01 06 1A 24 18 07 16 42 69 74 74 65 20 4B 61 72 74 65 20 65 69 6E 73 74 65 63 6B 65 6E')).data.subarray(2));
  const display = findTlv(parseTlv(rest.fields[0]!.value), 0x07)[0]!;
  t.equal(printable(display.value), 'Bitte Karte einstecken', 'the display text in the TLV container');

  const line = classify(decodeApdu(hex('06 D1 17 00 20 20 20 20 20 20 20 20 20 4B 61 73 73 65 6E 73 63 68 6E 69 74 74')));
  t.same(line, { kind: 'print-line', line: { text: '         Kassenschnitt', last: false, feed: 0 } });
  t.same(readPrintLine(hex('81 45 6E 64 65')), { text: 'Ende', last: true, feed: 0 }, 'bit 7 marks the last line');
  t.same(readPrintLine(hex('80 41')), { text: 'A', last: false, feed: 0 }, '80 alone is not the last line');
  t.same(readPrintLine(hex('FF 03')), { text: '', last: false, feed: 3 }, 'FF feeds lines');

  const completion = classify(decodeApdu(hex('06 0F 11 19 00 29 52 00 12 33 49 09 78 06 05 27 03 14 01 FF')));
  t.same(completion, { kind: 'completion', info: { terminalId: '52001233' } });

  const abort = decodeApdu(
    hex('061e2e6c062b1f1605ff000014411f1720416262727563682064757263682065787465726e6573204b6f6d6d616e646f21'),
  );
  t.same(classify(abort), { kind: 'abort', code: 0x6c });
  const ext = parseTlv(parseBmps(abort.data.subarray(1)).fields[0]!.value);
  t.same(
    ext.map((o) => o.tag),
    [0x1f16, 0x1f17],
  );
  t.equal(ext[1]!.value.toString('latin1'), 'Abbruch durch externes Kommando!');
  t.same(classify(decodeApdu(hex('84 9C 00'))), { kind: 'nack', code: 0x9c });
  t.same(classify(decodeApdu(hex('06 93 00'))), { kind: 'other', cls: 6, instr: 0x93 });
});

t.test('text blocks (06 D3): receipt type and lines from the TLV container', async (t) => {
  const container = encodeTlv([
    { tag: 0x1f07, value: Buffer.from([2]) },
    { tag: 0x25, value: encodeTlv([{ tag: 0x07, value: Buffer.from('LINE ONE') }, { tag: 0x07, value: Buffer.from('LINE TWO') }, { tag: 0x09, value: Buffer.from([1]) }]) },
  ]);
  const block = classify(decodeApdu(encodeApdu(0x06, 0xd3, encodeBmp(0x06, container))));
  t.same(block, { kind: 'text-block', block: { type: 'customer', lines: ['LINE ONE', 'LINE TWO'] } });
  const broken = readTextBlock(Buffer.concat([Buffer.from([0x06, 0x05]), Buffer.from([0x25, 0x09, 0x07, 0x01, 0x41])]));
  t.match(broken.problem, /announced/, 'a broken container is reported, not thrown');
  t.same(broken.lines, []);
});

t.test('BMP and TLV encoding, and their errors', async (t) => {
  t.equal(show(encodeBmp(0x8b, Buffer.from('VISA'))), '8bf0f4' + Buffer.from('VISA').toString('hex'), 'LLVAR prefix F0 F4');
  t.equal(show(encodeBmp(0x3c, Buffer.alloc(123))).slice(0, 8), '3cf1f2f3', 'LLLVAR prefix F1 F2 F3');
  t.equal(show(tlvLength(5)), '05');
  t.equal(show(tlvLength(200)), '81c8');
  t.equal(show(tlvLength(300)), '82012c');
  t.throws(() => encodeBmp(0x04, Buffer.alloc(5)), /takes 6 bytes/);
  t.throws(() => encodeBmp(0x8b, Buffer.alloc(100)), /do not fit/);
  t.throws(() => parseBmps(hex('04 00 00')), /announced/);
  t.throws(() => parseBmps(hex('8b f1')), /cut short/);
  t.throws(() => parseBmps(hex('8b 31 32')), /bad length prefix/);
  t.throws(() => parseBmps(hex('ee 00')), /unknown BMP 0xee/);
  const lenient = parseBmps(hex('27 00 87 00 01 ee 00'), true);
  t.same(
    lenient.fields.map((f) => f.id),
    [0x27, 0x87],
    'lenient: the fields before the unknown one',
  );
  t.match(lenient.error?.message, /unknown BMP/);
  t.throws(() => parseTlv(hex('1f')), /cut short/);
  t.throws(() => parseTlv(hex('1f 81 81 81 01 00')), /longer than 3 bytes/);
  t.throws(() => parseTlv(hex('07 83 00 00 00')), /bad TLV length/);
  let nested: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 10; i++) nested = encodeTlv([{ tag: 0x20, value: nested }]);
  t.throws(() => parseTlv(nested), /deeper than 8/, 'nesting has a limit');
  t.same(parseTlv(hex('07 81 02 41 42'))[0]!.value, Buffer.from('AB'), 'a non-minimal length is read');
});

t.test('texts: code page 437, control characters dropped; result code texts', async (t) => {
  t.equal(printable(hex('41 0d 0a 81 e1 42')), 'AüßB');
  t.equal(printable(Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i))).length, 128, 'the whole upper half maps');
  t.equal(resultText(0), 'successful');
  t.match(resultText(5), /authorisation system \(5\)/);
  t.equal(resultText(0xb4), 'already reversed');
  t.equal(resultText(0x70), 'result code 0x70');
});
