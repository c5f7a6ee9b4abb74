import t from 'tap';
import iconv from 'iconv-lite';
import { encodeReceipt, encodeText, textColumns, wrap } from '../../drivers/escpos/encoder.js';
import type { Receipt } from '../../drivers/types.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function indexOf(hay: Uint8Array, needle: number[]): number {
  return Buffer.from(hay).indexOf(Buffer.from(needle));
}

/**
 * Strips the commands this encoder emits and returns the printed text lines, decoded as GB18030.
 * Anything it does not recognise below 0x20 fails the test, so a stray command cannot hide.
 */
function textLines(job: Uint8Array): string[] {
  const b = Buffer.from(job);
  const text: number[] = [];
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c === 0x1b && b[i + 1] === 0x40) i += 2;
    else if (c === 0x1b && [0x45, 0x4d, 0x61].includes(b[i + 1]!)) i += 3;
    else if (c === 0x1c && (b[i + 1] === 0x26 || b[i + 1] === 0x2e)) i += 2;
    else if (c === 0x1d && b[i + 1] === 0x21) i += 3;
    else if (c === 0x1d && b[i + 1] === 0x56) i += 3;
    else if (c === 0x1d && b[i + 1] === 0x28 && b[i + 2] === 0x6b) i += 5 + b[i + 3]! + 256 * b[i + 4]!;
    else if (c === 0x0a || c >= 0x20) {
      text.push(c);
      i += 1;
    } else throw new Error(`unexpected byte 0x${c.toString(16)} at ${i}`);
  }
  return iconv.decode(Buffer.from(text), 'gb18030').split('\n');
}

const receipt: Receipt = {
  lines: [
    { text: '示例电信 自助缴费', align: 'center', emphasis: true },
    { text: '应缴 Amount due: ￥50.00' },
    { text: '￥50.00', align: 'right', large: true },
  ],
  qr: 'TXN-0001',
};

t.test('starts with initialize, then Chinese mode', async (t) => {
  const job = encodeReceipt(receipt, { width: 32 });
  t.equal(hex(job.subarray(0, 2)), '1b40', 'ESC @');
  const fs = indexOf(job, [0x1c, 0x26]);
  t.ok(fs > 0, 'FS & present');
  t.ok(fs > indexOf(job, [0x1c, 0x2e]), 'FS & comes after the library turned Chinese mode off');
  t.ok(fs < indexOf(job, [...encodeText('示例')]), 'and before any Chinese text');
});

t.test('QR code: model 2, size 6, EC level M, store with pL/pH = k + 3, print', async (t) => {
  const job = encodeReceipt(receipt, { width: 42 });
  const data = [...Buffer.from('TXN-0001')];
  const k = data.length + 3;
  const qr = [
    ...[0x1d, 0x28, 0x6b, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00],
    ...[0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x43, 0x06],
    ...[0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x45, 0x31],
    ...[0x1d, 0x28, 0x6b, k & 0xff, k >> 8, 0x31, 0x50, 0x30, ...data],
    ...[0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30],
  ];
  const at = indexOf(job, qr);
  t.ok(at > 0, 'exact QR sequence');
  t.same([...job.subarray(at - 3, at)], [0x1b, 0x61, 0x01], 'centred by ESC a 1');
  t.ok(at > indexOf(job, [...encodeText('￥50.00')]), 'under the lines');
});

t.test('a long QR payload takes pH', async (t) => {
  const id = 'X'.repeat(300);
  const job = encodeReceipt({ lines: [], qr: id }, { width: 32 });
  const k = 303;
  t.ok(indexOf(job, [0x1d, 0x28, 0x6b, k & 0xff, k >> 8, 0x31, 0x50, 0x30, 0x58]) > 0);
});

t.test('QR content outside printable ASCII is refused', async (t) => {
  t.throws(() => encodeReceipt({ lines: [], qr: '交易1' }, { width: 32 }), RangeError);
});

t.test('ends with a feed and a partial cut', async (t) => {
  const job = encodeReceipt(receipt, { width: 48 });
  const cut = indexOf(job, [0x1d, 0x56, 0x01]);
  t.ok(cut > 0, 'GS V 1');
  t.same([...job.subarray(cut - 4, cut)], [0x0a, 0x0a, 0x0a, 0x0a], 'paper fed before the cut');
  t.ok(job.length - cut <= 4, 'cut at the end');
  t.equal(encodeReceipt({ lines: [] }, { width: 32 }).filter((b) => b === 0x1d).length, 1, 'no QR without qr');
});

t.test('full-width yen is 2 GB18030 bytes; the half-width one is printed as full width', async (t) => {
  t.equal(hex(encodeText('￥')), 'a3a4');
  t.equal(hex(encodeText('\u00a5')), 'a3a4');
  const job = encodeReceipt(receipt, { width: 32 });
  t.ok(indexOf(job, [0xa3, 0xa4, 0x35, 0x30, 0x2e, 0x30, 0x30]) > 0, '￥50.00');
  t.equal(indexOf(job, [0x81, 0x30, 0x84, 0x36]), -1, 'no 4-byte yen');
});

t.test('characters outside the 2-byte GB region become ?', async (t) => {
  t.equal(encodeText('😀€').toString('latin1'), '?\u00a2\u00e3', 'emoji is 4 bytes: ?; € is 2 bytes: kept');
  t.equal(encodeText('a\tb').toString('latin1'), 'a b', 'control characters become spaces');
});

t.test('text round-trips through GB18030, with emphasis, size and alignment', async (t) => {
  const job = encodeReceipt(receipt, { width: 32 });
  const lines = textLines(job);
  t.equal(lines[0], ' '.repeat(7) + '示例电信 自助缴费', 'centred: (32 - 18) / 2 spaces');
  t.equal(lines[1], '应缴 Amount due: ￥50.00');
  t.equal(lines[2], ' '.repeat(16 - 7) + '￥50.00', 'large right-aligned in 16 columns');
  const title = indexOf(job, [...encodeText('示例电信')]);
  t.same([...job.subarray(title - 7 - 3, title - 7)], [0x1b, 0x45, 0x01], 'bold before the first line');
  const big = indexOf(job, [...encodeText(' '.repeat(9) + '￥50.00')]);
  t.same([...job.subarray(big - 3, big)], [0x1d, 0x21, 0x11], 'double width and height for the large line');
});

t.test('wrapping by display columns', async (t) => {
  t.equal(textColumns('中文ab'), 6);
  t.same(wrap('一二三四五六七八九十', 8), ['一二三四', '五六七八', '九十']);
  t.same(wrap('Show this code and receipt', 12), ['Show this', 'code and', 'receipt']);
  t.same(wrap('a\nb', 10), ['a', 'b']);
  const job = encodeReceipt({ lines: [{ text: '请凭领取码及本凭条领取找零 Show this code and receipt to collect your change' }] }, { width: 32 });
  const lines = textLines(job).filter((l) => l.length > 0);
  t.same(lines, ['请凭领取码及本凭条领取找零 Show', 'this code and receipt to collect', 'your change']);
  for (const l of lines) t.ok(textColumns(l) <= 32);
});
