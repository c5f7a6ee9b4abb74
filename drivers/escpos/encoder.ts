/**
 * Receipt → ESC/POS bytes. The command structure (initialize, emphasis, size, QR, cut) comes from
 * @point-of-sale/receipt-printer-encoder. Its text path knows only single-byte code pages (Chinese
 * comes out as '?') and it pads lines for alignment by counting characters, so the text itself is
 * laid out here and handed over as raw GB18030 bytes after `FS &` (Chinese character mode).
 */
import ReceiptPrinterEncoder, { type QRCodeOptions } from '@point-of-sale/receipt-printer-encoder';
import iconv from 'iconv-lite';
import type { Receipt, ReceiptLine } from '../types.js';

export type PaperWidth = 32 | 42 | 48;

export interface EncodeOptions {
  /** Characters per line in normal size: 32 on 58 mm paper, 42 or 48 on 80 mm paper. */
  width: PaperWidth;
}

/** `FS &`: the library's initialize() ends in `FS .`, which leaves Chinese mode. */
export const CHINESE_MODE = Uint8Array.of(0x1c, 0x26);

/** Blank lines between the QR code and the cut, so the code clears the cutter blade. */
const FEED_BEFORE_CUT = 4;
const QR: QRCodeOptions = { model: 2, size: 6, errorlevel: 'm' };

const YEN_HALF_WIDTH = '\u00a5';
const YEN_FULL_WIDTH = '\uffe5';

interface Glyph {
  bytes: Buffer;
  /** Columns on paper at normal size: 1 for a single-byte character, 2 for a GB double-byte one. */
  columns: number;
}

/**
 * One character to printer bytes. GB18030 printers print the 1- and 2-byte regions only; a
 * character that needs 4 bytes would come out as two garbage glyphs, so it becomes '?'. The
 * half-width yen sign is one of those; its full-width form prints and means the same.
 */
function glyph(char: string): Glyph {
  const c = char === YEN_HALF_WIDTH ? YEN_FULL_WIDTH : char;
  const code = c.codePointAt(0) ?? 0x3f;
  if (code < 0x20 || code === 0x7f) return { bytes: Buffer.from(' '), columns: 1 };
  const bytes = iconv.encode(c, 'gb18030');
  if (bytes.length === 1) return { bytes, columns: 1 };
  if (bytes.length === 2) return { bytes, columns: 2 };
  return { bytes: Buffer.from('?'), columns: 1 };
}

/** Text → GB18030 bytes as the printer prints them (see glyph()). */
export function encodeText(text: string): Buffer {
  return Buffer.concat(Array.from(text, (c) => glyph(c).bytes));
}

/** Width of `text` in normal-size columns. */
export function textColumns(text: string): number {
  let n = 0;
  for (const c of text) n += glyph(c).columns;
  return n;
}

/**
 * Splits a line into pieces of at most `columns`, at a space where one falls in the second half of
 * the piece, else between characters (Chinese has no spaces to break at).
 */
export function wrap(text: string, columns: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split(/\r?\n/)) {
    let rest = Array.from(paragraph.trimEnd());
    if (rest.length === 0) out.push('');
    while (rest.length > 0) {
      let used = 0;
      let end = 0;
      while (end < rest.length && used + glyph(rest[end]!).columns <= columns) {
        used += glyph(rest[end]!).columns;
        end++;
      }
      if (end === rest.length) {
        out.push(rest.join(''));
        break;
      }
      end = Math.max(end, 1);
      const space = rest.lastIndexOf(' ', end);
      const cut = space >= end / 2 ? space : end;
      out.push(rest.slice(0, cut).join('').trimEnd());
      rest = rest.slice(space === cut ? cut + 1 : cut);
      while (rest[0] === ' ') rest.shift();
    }
  }
  return out;
}

function pad(text: string, align: ReceiptLine['align'], columns: number): string {
  const free = Math.max(0, columns - textColumns(text));
  if (align === 'right') return ' '.repeat(free) + text;
  if (align === 'center') return ' '.repeat(free >> 1) + text;
  return text;
}

/** QR payload bytes go through the library's code page path: only printable ASCII survives it. */
function checkQrContent(content: string): void {
  if (!/^[\x20-\x7e]+$/.test(content)) {
    throw new RangeError(`QR content must be printable ASCII (a transaction id), got ${JSON.stringify(content)}`);
  }
}

export function encodeReceipt(receipt: Receipt, opts: EncodeOptions): Uint8Array {
  if (receipt.qr !== undefined) checkQrContent(receipt.qr);
  const enc = new ReceiptPrinterEncoder({ language: 'esc-pos', columns: opts.width, newline: '\n' });
  enc.initialize().raw(CHINESE_MODE);
  for (const line of receipt.lines) {
    const scale = line.large ? 2 : 1;
    const columns = Math.floor(opts.width / scale);
    enc.bold(line.emphasis ?? false).size(scale, scale);
    for (const piece of wrap(line.text, columns)) {
      enc.raw(encodeText(pad(piece, line.align, columns))).newline();
    }
  }
  enc.bold(false).size(1, 1);
  if (receipt.qr !== undefined) {
    enc.newline().align('center').qrcode(receipt.qr, QR).align('left');
  }
  enc.newline(FEED_BEFORE_CUT).cut('partial');
  return enc.encode();
}
