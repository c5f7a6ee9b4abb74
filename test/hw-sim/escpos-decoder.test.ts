import ReceiptPrinterEncoder from '@point-of-sale/receipt-printer-encoder';
import iconv from 'iconv-lite';
import t from 'tap';
import { EscposDecoder, type EscposEvent } from '../../hw-sim/devices/escpos/decoder.js';
import { CUT_LINE, ReceiptLayout, renderJob, textColumns } from '../../hw-sim/devices/escpos/render.js';

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const DLE = 0x10;

const ascii = (s: string): number[] => Array.from(Buffer.from(s, 'latin1'));

function decode(bytes: number[] | Uint8Array, options = {}): EscposEvent[] {
  const decoder = new EscposDecoder(options);
  return [...decoder.push(Uint8Array.from(bytes)), ...decoder.flush()];
}

function decodeByteByByte(bytes: number[] | Uint8Array): EscposEvent[] {
  const decoder = new EscposDecoder();
  const events: EscposEvent[] = [];
  for (const b of bytes) events.push(...decoder.push(Uint8Array.of(b)));
  return [...events, ...decoder.flush()];
}

function qrStore(content: string): number[] {
  const data = Buffer.from(content, 'utf8');
  const length = data.length + 3;
  return [GS, 0x28, 0x6b, length & 0xff, length >> 8, 0x31, 0x50, 0x30, ...data];
}

const QR_PRINT = [GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30];

/** A deterministic byte source, so a failing fuzz run can be repeated. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  };
}

t.test('simple commands decode from hand-written bytes', async (t) => {
  t.same(decode([ESC, 0x40]), [{ kind: 'initialize' }]);
  t.same(decode([0x0a]), [{ kind: 'line-feed' }]);
  t.same(decode([ESC, 0x61, 1, ESC, 0x61, 0x32, ESC, 0x61, 0]), [
    { kind: 'align', align: 'center' },
    { kind: 'align', align: 'right' },
    { kind: 'align', align: 'left' },
  ]);
  t.same(decode([ESC, 0x45, 1, ESC, 0x45, 0]), [
    { kind: 'bold', on: true },
    { kind: 'bold', on: false },
  ]);
  t.same(decode([ESC, 0x2d, 2, ESC, 0x2d, 0x30]), [
    { kind: 'underline', dots: 2 },
    { kind: 'underline', dots: 0 },
  ]);
  t.same(decode([GS, 0x21, 0x11, GS, 0x21, 0x01, GS, 0x21, 0x00]), [
    { kind: 'size', width: 2, height: 2 },
    { kind: 'size', width: 1, height: 2 },
    { kind: 'size', width: 1, height: 1 },
  ]);
  t.same(decode([ESC, 0x64, 3]), [{ kind: 'feed', lines: 3 }]);
  t.same(decode([ESC, 0x74, 16]), [{ kind: 'code-table', table: 16, encoding: 'cp1252' }]);
  t.same(decode([ESC, 0x74, 99]), [{ kind: 'code-table', table: 99 }]);
  t.same(decode([FS, 0x26, FS, 0x2e]), [
    { kind: 'chinese-mode', on: true },
    { kind: 'chinese-mode', on: false },
  ]);
  t.same(decode([DLE, 0x04, 4, DLE, 0x05, 2, GS, 0x61, 0xff]), [
    { kind: 'status-request', n: 4 },
    { kind: 'recover', n: 2 },
    { kind: 'auto-status', mask: 0xff },
  ]);
});

t.test('every form of GS V cut', async (t) => {
  t.same(decode([GS, 0x56, 0, GS, 0x56, 48, GS, 0x56, 1, GS, 0x56, 49]), [
    { kind: 'cut', mode: 'full', feed: 0 },
    { kind: 'cut', mode: 'full', feed: 0 },
    { kind: 'cut', mode: 'partial', feed: 0 },
    { kind: 'cut', mode: 'partial', feed: 0 },
  ]);
  t.same(decode([GS, 0x56, 65, 10, GS, 0x56, 66, 3]), [
    { kind: 'cut', mode: 'full', feed: 10 },
    { kind: 'cut', mode: 'partial', feed: 3 },
  ]);
  t.same(decode([ESC, 0x69, ESC, 0x6d]), [
    { kind: 'cut', mode: 'partial', feed: 0 },
    { kind: 'cut', mode: 'partial', feed: 0 },
  ], 'the legacy ESC i / ESC m cuts');
  const bad = decode([GS, 0x56, 7, ...ascii('A')]);
  t.equal(bad[0]!.kind, 'notice', 'an unknown cut mode is skipped with a notice');
  t.same(bad[1], { kind: 'text', text: 'A' }, 'and decoding goes on');
});

t.test('QR code: model, size, error correction, store (pL pH = k + 3) and print', async (t) => {
  const content = 'https://pay.example.cn/r?id=20240518-0042';
  const store = qrStore(content);
  t.equal(store[3]! + store[4]! * 256, Buffer.byteLength(content) + 3, 'pL/pH as the protocol says');
  const events = decode([
    ...[GS, 0x28, 0x6b, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00],
    ...[GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x43, 0x06],
    ...[GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x45, 0x31],
    ...store,
    ...QR_PRINT,
  ]);
  t.same(events, [
    { kind: 'qr-model', model: 2 },
    { kind: 'qr-module-size', size: 6 },
    { kind: 'qr-error-correction', level: 'M' },
    { kind: 'qr-store', content, bytes: content.length },
    { kind: 'qr-print', content, model: 2, size: 6, level: 'M' },
  ]);
  t.same(renderJob(events, { columns: 48 }), [`[QR: ${content}]`]);

  const chinese = decode([...qrStore('缴费 50元'), ...QR_PRINT]).at(-1);
  t.same(chinese, { kind: 'qr-print', content: '缴费 50元', model: 2, size: 3, level: 'L' }, 'UTF-8 QR content');
  const gb = iconv.encode('话费', 'gb18030');
  const gbStore = [GS, 0x28, 0x6b, gb.length + 3, 0, 0x31, 0x50, 0x30, ...gb];
  t.match(decode([...gbStore, ...QR_PRINT]).at(-1), { kind: 'qr-print', content: '话费' }, 'GB18030 QR content');
  t.match(decode(QR_PRINT), [{ kind: 'notice' }], 'printing with nothing stored is only a notice');
});

t.test('text: ASCII, GB18030 in FS & mode, code pages outside it', async (t) => {
  t.same(decode([...ascii('Total 50.00'), 0x0a]), [{ kind: 'text', text: 'Total 50.00' }, { kind: 'line-feed' }]);
  t.same(decode([FS, 0x26, 0xa3, 0xa4, ...ascii('50')]), [
    { kind: 'chinese-mode', on: true },
    { kind: 'text', text: '￥50' },
  ]);
  t.same(decode([FS, 0x26, 0xd6, 0xd0, 0xce, 0xc4]), [
    { kind: 'chinese-mode', on: true },
    { kind: 'text', text: '中文' },
  ]);
  t.same(decode([0xd6, 0xd0]), [{ kind: 'text', text: '中' }], 'Chinese mode is on at power-up by default');
  t.same(decode([FS, 0x2e, 0x82, 0x9c]).slice(1), [{ kind: 'text', text: 'é£' }], 'cp437 after FS .');
  t.same(decode([0x82], { chineseByDefault: false }), [{ kind: 'text', text: 'é' }], 'cp437 is table 0');
  t.same(decode([FS, 0x2e, ESC, 0x74, 16, 0x80]).slice(2), [{ kind: 'text', text: '€' }], 'WPC1252');
  t.same(decode([ESC, 0x40, 0xd6, 0xd0], { chineseByDefault: true }), [
    { kind: 'initialize' },
    { kind: 'text', text: '中' },
  ]);
  const broken = decode([0xd6, 0x0a, ...ascii('A')]);
  t.same(broken[0], { kind: 'text', text: '?' }, 'a lead byte with a bad trail prints ?');
  t.match(broken[1], { kind: 'notice' });
  t.same(broken.slice(2), [{ kind: 'line-feed' }, { kind: 'text', text: 'A' }], 'the trail byte is read again');
});

t.test('DLE EOT is recognised between any two commands and inside text', async (t) => {
  t.same(decode([...ascii('Hel'), DLE, 0x04, 1, ...ascii('lo'), 0xa3, DLE, 0x04, 2]), [
    { kind: 'text', text: 'Hel' },
    { kind: 'status-request', n: 1 },
    { kind: 'text', text: 'lo?' },
    { kind: 'notice', message: 'invalid GB18030 sequence starting 0xA3' },
    { kind: 'status-request', n: 2 },
  ]);
});

t.test('known layout commands are skipped whole; unknown ones with a notice', async (t) => {
  const events = decode([
    ...[ESC, 0x4d, 0x00], // font
    ...[GS, 0x42, 0x01], // reverse
    ...[ESC, 0x70, 0, 25, 250], // drawer pulse
    ...[GS, 0x76, 0x30, 0, 2, 0, 3, 0, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a], // 2×3 raster bytes, all LF
    ...[ESC, 0x2a, 0, 3, 0, 0x0a, 0x0a, 0x0a], // 3 columns of 8-dot image
    ...[GS, 0x6b, 0x02, ...ascii('123456789012'), 0x00],
    ...[GS, 0x6b, 73, 4, ...ascii('{BAB')],
    ...[ESC, 0x7a],
    ...ascii('ok'),
  ]);
  t.same(
    events.filter((e) => e.kind !== 'command'),
    [
      { kind: 'barcode', symbology: 2, data: '123456789012' },
      { kind: 'barcode', symbology: 73, data: '{BAB' },
      { kind: 'notice', message: 'unknown command ESC 0x7A skipped' },
      { kind: 'text', text: 'ok' },
    ],
    'image payloads are not read as line feeds',
  );
  t.equal(events.filter((e) => e.kind === 'command').length, 5);
});

t.test('a job split byte by byte decodes exactly as in one chunk', async (t) => {
  const job = [
    ESC, 0x40, FS, 0x26, ESC, 0x61, 1, ESC, 0x45, 1,
    ...iconv.encode('中国电信 话费缴费', 'gb18030'), 0x0a,
    ESC, 0x45, 0, GS, 0x21, 0x11, ...iconv.encode('￥50.00', 'gb18030'), 0x0a, GS, 0x21, 0,
    DLE, 0x04, 4,
    ...qrStore('https://example.cn/q?x=1'), ...QR_PRINT,
    GS, 0x76, 0x30, 0, 1, 0, 2, 0, 0x1d, 0x56, // the payload looks like a cut but is image data
    ESC, 0x64, 2, GS, 0x56, 66, 3,
  ];
  const whole = decode(job);
  t.same(decodeByteByByte(job), whole);
  const decoder = new EscposDecoder();
  const threes: EscposEvent[] = [];
  for (let i = 0; i < job.length; i += 3) threes.push(...decoder.push(Uint8Array.from(job.slice(i, i + 3))));
  t.same([...threes, ...decoder.flush()], whole, 'and in chunks of three');
  t.match(whole, [
    { kind: 'initialize' },
    { kind: 'chinese-mode', on: true },
    { kind: 'align', align: 'center' },
    { kind: 'bold', on: true },
    { kind: 'text', text: '中国电信 话费缴费' },
    { kind: 'line-feed' },
    { kind: 'bold', on: false },
    { kind: 'size', width: 2, height: 2 },
    { kind: 'text', text: '￥50.00' },
    { kind: 'line-feed' },
    { kind: 'size', width: 1, height: 1 },
    { kind: 'status-request', n: 4 },
    { kind: 'qr-store' },
    { kind: 'qr-print', content: 'https://example.cn/q?x=1' },
    { kind: 'command' },
    { kind: 'feed', lines: 2 },
    { kind: 'cut', mode: 'partial', feed: 3 },
  ]);
});

t.test('random bytes never throw, and split equivalence holds for them too', async (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const next = lcg(seed);
    const bytes = Array.from({ length: 3000 }, () => {
      const r = next();
      // Bias towards command introducers so that parameter paths get exercised.
      return r < 24 ? [ESC, GS, FS, DLE, 0x0a, 0x81][r % 6]! : next();
    });
    const whole = decode(bytes);
    t.same(decodeByteByByte(bytes), whole, `seed ${seed}`);
  }
  const decoder = new EscposDecoder();
  decoder.push(Uint8Array.from([GS, 0x38, 0x4c, 0xff, 0xff, 0xff, 0x7f]));
  t.ok(decoder.midCommand, 'a huge announced payload is being skipped');
  decoder.reset();
  t.same(decoder.push(Uint8Array.from([DLE, 0x04, 1])), [{ kind: 'status-request', n: 1 }], 'reset ends it');
});

t.test('render: alignment, bold, size, wide characters, wrap, feed and cut', async (t) => {
  const events = decode([
    ESC, 0x61, 1, ESC, 0x45, 1, ...iconv.encode('中国电信', 'gb18030'), ESC, 0x45, 0, 0x0a,
    ESC, 0x61, 2, ...ascii('right'), 0x0a,
    ESC, 0x61, 0, GS, 0x21, 0x11, ...ascii('BIG'), GS, 0x21, 0x00, ...ascii(' x'), 0x0a,
    ...ascii('abcdefghijklmnopqrstuvwxyz'), 0x0a,
    ESC, 0x64, 2,
    GS, 0x56, 1,
    ...ascii('next job'),
  ]);
  t.same(renderJob(events, { columns: 20 }), [
    '      **中国电信**',
    '               right',
    '[2x2:BIG] x',
    'abcdefghijklmnopqrst',
    'uvwxyz',
    '',
    '',
    CUT_LINE,
  ]);
  t.equal(textColumns('￥50 中文'), 9, 'full-width and CJK characters take two columns');
  const layout = new ReceiptLayout({ columns: 32 });
  for (const e of decode([ESC, 0x61, 1, ...ascii('kept'), 0x0a, GS, 0x56, 0])) layout.apply(e);
  layout.takeLines();
  for (const e of decode([...ascii('centre'), 0x0a])) layout.apply(e);
  t.same(layout.takeLines(), ['             centre'], 'modes carry over a cut, as on paper');
});

t.test('a job from @point-of-sale/receipt-printer-encoder prints legibly', async (t) => {
  const encoder = new ReceiptPrinterEncoder({ language: 'esc-pos', columns: 42 });
  const bytes = encoder
    .initialize()
    .align('center')
    .bold(true)
    .line('CHINA TELECOM')
    .bold(false)
    .align('left')
    .line('Paid: 50.00 CNY')
    .align('center')
    .qrcode('https://pay.example.cn/r/0042')
    .cut()
    .encode();
  const events = decode(bytes);
  t.notOk(events.some((e) => e.kind === 'notice'), 'nothing in it is unknown to the decoder');
  const lines = renderJob(events, { columns: 42 });
  t.same(lines, [
    '              **CHINA TELECOM**',
    'Paid: 50.00 CNY',
    '   [QR: https://pay.example.cn/r/0042]',
    '', // the encoder's line feed after the symbol
    CUT_LINE,
  ]);
  t.same(renderJob(decodeByteByByte(bytes), { columns: 42 }), lines, 'split byte by byte too');
});

t.test('GB18030 bytes from iconv-lite passed through the encoder raw() print as the same Chinese', async (t) => {
  const chinese = '缴费成功 金额：￥50.00 谢谢惠顾';
  const encoder = new ReceiptPrinterEncoder({ language: 'esc-pos', columns: 48 });
  const bytes = encoder
    .initialize()
    .raw([FS, 0x26, ...iconv.encode(chinese, 'gb18030')])
    .newline()
    .raw([FS, 0x2e])
    .line('Thank you')
    .cut('partial')
    .encode();
  const lines = renderJob(decode(bytes), { columns: 48 });
  t.same(lines, [chinese, 'Thank you', CUT_LINE]);
  t.equal(textColumns(chinese), 31);
});
