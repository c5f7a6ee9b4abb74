/**
 * Pure: the APDUs the kiosk sends, and what the terminal's APDUs say. The terminal's messages are
 * read leniently (a BMP of a newer revision ends the reading, the fields before it count), since the
 * ECR must acknowledge whatever arrives and decide from what it understood.
 */
import type { TerminalReceipt } from '../types.js';
import { Bmp, Ctrl, INTERMEDIATE, Tag, type ProgressStage } from './constants.js';
import {
  ZvtCodecError,
  bcdDigits,
  decodeBcd,
  encodeApdu,
  encodeBcd,
  encodeBmp,
  findTlv,
  parseBmps,
  parseTlv,
  type Apdu,
  type BmpField,
  type TlvObject,
} from './codec.js';

// ------------------------------------------------------------------------------ kiosk → terminal

/** The terminal's password: six digits, three BCD bytes. */
export function passwordBytes(password: string): Buffer {
  if (!/^\d{6}$/.test(password)) throw new ZvtCodecError('the ZVT password is six digits');
  return Buffer.from(password, 'hex');
}

export function registration(password: string, config: number, currency: number): Buffer {
  return encodeApdu(Ctrl.registration[0], Ctrl.registration[1], Buffer.concat([passwordBytes(password), Buffer.from([config]), encodeBcd(currency, 2)]));
}

export function authorisation(amount: number, currency: number): Buffer {
  return encodeApdu(
    Ctrl.authorisation[0],
    Ctrl.authorisation[1],
    Buffer.concat([encodeBmp(Bmp.amount, encodeBcd(amount, 6)), encodeBmp(Bmp.currency, encodeBcd(currency, 2))]),
  );
}

export function reversal(password: string, receiptNo: number): Buffer {
  return encodeApdu(Ctrl.reversal[0], Ctrl.reversal[1], Buffer.concat([passwordBytes(password), encodeBmp(Bmp.receiptNo, encodeBcd(receiptNo, 2))]));
}

export function endOfDay(password: string): Buffer {
  return encodeApdu(Ctrl.endOfDay[0], Ctrl.endOfDay[1], passwordBytes(password));
}

export function statusEnquiry(password: string): Buffer {
  return encodeApdu(Ctrl.statusEnquiry[0], Ctrl.statusEnquiry[1], passwordBytes(password));
}

export function abortCommand(): Buffer {
  return encodeApdu(Ctrl.abortFromEcr[0], Ctrl.abortFromEcr[1]);
}

export const POSITIVE_ACK = encodeApdu(0x80, 0x00);

// ------------------------------------------------------------------------------ terminal → kiosk

export type Incoming =
  | { kind: 'ack' }
  | { kind: 'nack'; code: number }
  | { kind: 'intermediate'; code: number; stage: ProgressStage; text: string }
  | { kind: 'status'; info: StatusInformation }
  | { kind: 'print-line'; line: PrintLine }
  | { kind: 'text-block'; block: TextBlock }
  | { kind: 'completion'; info: StatusInformation }
  | { kind: 'abort'; code: number | undefined }
  | { kind: 'other'; cls: number; instr: number };

const is = (a: Apdu, ctrl: readonly [number, number]): boolean => a.cls === ctrl[0] && a.instr === ctrl[1];

export function classify(apdu: Apdu): Incoming {
  if (apdu.cls === 0x80 && apdu.instr === 0x00) return { kind: 'ack' };
  if (apdu.cls === 0x84) return { kind: 'nack', code: apdu.instr };
  if (is(apdu, Ctrl.intermediateStatus)) {
    const code = apdu.data[0] ?? 0xff;
    const [stage, text] = INTERMEDIATE.get(code) ?? ['other', `terminal status 0x${code.toString(16).padStart(2, '0')}`];
    return { kind: 'intermediate', code, stage, text };
  }
  if (is(apdu, Ctrl.statusInformation)) return { kind: 'status', info: readStatusInformation(apdu.data) };
  if (is(apdu, Ctrl.printLine)) return { kind: 'print-line', line: readPrintLine(apdu.data) };
  if (is(apdu, Ctrl.printTextBlock)) return { kind: 'text-block', block: readTextBlock(apdu.data) };
  if (is(apdu, Ctrl.completion)) return { kind: 'completion', info: readStatusInformation(apdu.data) };
  if (is(apdu, Ctrl.abortFromPt)) return { kind: 'abort', code: apdu.data[0] };
  return { kind: 'other', cls: apdu.cls, instr: apdu.instr };
}

export interface StatusInformation {
  resultCode?: number;
  amount?: number;
  trace?: number;
  receiptNo?: number;
  terminalId?: string;
  cardName?: string;
  /** Why the reading stopped early, when it did. */
  problem?: string;
}

/** Reads a field, keeping the status readable when one value is malformed. */
function readField<T>(info: StatusInformation, field: BmpField, read: (v: Buffer) => T): T | undefined {
  try {
    return read(field.value);
  } catch (err) {
    if (!(err instanceof ZvtCodecError)) throw err;
    info.problem ??= `BMP 0x${field.id.toString(16)}: ${err.message}`;
    return undefined;
  }
}

export function readStatusInformation(data: Uint8Array): StatusInformation {
  const { fields, error } = parseBmps(data, true);
  const info: StatusInformation = {};
  if (error) info.problem = error.message;
  // The card number (BMP 22) and track data are deliberately not read: the kiosk has no use for them.
  for (const f of fields) {
    switch (f.id) {
      case Bmp.resultCode:
        info.resultCode = f.value[0]!;
        break;
      case Bmp.amount:
        info.amount = readField(info, f, decodeBcd);
        break;
      case Bmp.trace:
        info.trace = readField(info, f, decodeBcd);
        break;
      case Bmp.receiptNo:
        info.receiptNo = readField(info, f, decodeBcd);
        break;
      case Bmp.terminalId:
        info.terminalId = readField(info, f, bcdDigits);
        break;
      case Bmp.cardName:
        info.cardName = printable(f.value).replace(/\0+$/, '').trim();
        break;
    }
  }
  return info;
}

export interface PrintLine {
  text: string;
  /** The last line of a receipt. */
  last: boolean;
  /** Empty lines to feed instead of text (attribute FF). */
  feed: number;
}

/**
 * 06 D1: one attribute byte, then the text. Attribute FF feeds lines (the count follows); any other
 * value with bit 7 set except 80 marks the last line of a receipt.
 */
export function readPrintLine(data: Uint8Array): PrintLine {
  const attribute = data[0] ?? 0;
  if (attribute === 0xff) return { text: '', last: false, feed: data[1] ?? 1 };
  return { text: printable(data.subarray(1)), last: (attribute & 0x80) !== 0 && attribute !== 0x80, feed: 0 };
}

export interface TextBlock {
  type: TerminalReceipt['type'];
  lines: string[];
  problem?: string;
}

const RECEIPT_TYPES: Record<number, TerminalReceipt['type']> = { 1: 'merchant', 2: 'customer', 3: 'administration' };

/** 06 D3: a TLV container (BMP 06) with the receipt type (1F07) and print texts (25) of text lines (07). */
export function readTextBlock(data: Uint8Array): TextBlock {
  const { fields, error } = parseBmps(data, true);
  const block: TextBlock = { type: 'unspecified', lines: [] };
  if (error) block.problem = error.message;
  for (const f of fields) {
    if (f.id !== Bmp.tlv) continue;
    let objects: TlvObject[];
    try {
      objects = parseTlv(f.value);
    } catch (err) {
      if (!(err instanceof ZvtCodecError)) throw err;
      block.problem ??= err.message;
      continue;
    }
    const type = findTlv(objects, Tag.receiptType)[0]?.value[0];
    if (type !== undefined) block.type = RECEIPT_TYPES[type] ?? 'unspecified';
    for (const texts of findTlv(objects, Tag.printTexts)) {
      for (const line of findTlv(texts.children ?? [], Tag.textLines)) block.lines.push(printable(line.value));
    }
  }
  return block;
}

/** Code page 437, the terminals' default character set: the upper half. */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/** Receipt and display text: code page 437, control characters dropped. */
export function printable(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) {
    if (b >= 0x20 && b < 0x7f) text += String.fromCharCode(b);
    else if (b >= 0x80) text += CP437_HIGH[b - 0x80];
  }
  return text;
}
