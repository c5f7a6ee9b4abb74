/**
 * ZVT (ECR interface of payment terminals, Verband der Terminalhersteller, PA00P015) facts used by the
 * driver: control fields, bitmaps (BMPs) and their lengths, result codes and intermediate statuses.
 */

/** Control field (class, instruction) of each APDU the driver sends or understands. */
export const Ctrl = {
  registration: [0x06, 0x00],
  authorisation: [0x06, 0x01],
  completion: [0x06, 0x0f],
  abortFromPt: [0x06, 0x1e],
  reversal: [0x06, 0x30],
  endOfDay: [0x06, 0x50],
  abortFromEcr: [0x06, 0xb0],
  printLine: [0x06, 0xd1],
  printTextBlock: [0x06, 0xd3],
  statusInformation: [0x04, 0x0f],
  intermediateStatus: [0x04, 0xff],
  statusEnquiry: [0x05, 0x01],
} as const;

/** Class byte of a positive (80 00 00) and a negative (84 <code> 00) acknowledgement. */
export const ACK_CLASS = 0x80;
export const NACK_CLASS = 0x84;

/** Registration config byte bits. */
export const Config = {
  /** The ECR prints the receipts of payments (the terminal sends them with 06 D1 / 06 D3). */
  ecrPrintsPaymentReceipts: 0x02,
  /** The ECR prints administration receipts (end of day). */
  ecrPrintsAdminReceipts: 0x04,
  /** The terminal sends intermediate statuses (04 FF) during a command. */
  intermediateStatus: 0x08,
  /** The amount cannot be typed on the terminal. */
  noAmountInputOnPt: 0x10,
  /** Administration functions cannot be started on the terminal. */
  noAdminOnPt: 0x20,
  /** The terminal sends receipts as text blocks (06 D3) instead of single lines (06 D1). */
  textBlocks: 0x80,
} as const;

/** What the driver registers with: every receipt to the kiosk, intermediate statuses, no input on the terminal. */
export const DEFAULT_CONFIG =
  Config.ecrPrintsPaymentReceipts |
  Config.ecrPrintsAdminReceipts |
  Config.intermediateStatus |
  Config.noAmountInputOnPt |
  Config.noAdminOnPt |
  Config.textBlocks;

/** The BMPs the driver writes or reads. */
export const Bmp = {
  amount: 0x04,
  tlv: 0x06,
  trace: 0x0b,
  resultCode: 0x27,
  terminalId: 0x29,
  currency: 0x49,
  receiptNo: 0x87,
  cardName: 0x8b,
} as const;

/** How a BMP's value is delimited: a fixed byte count, an LL/LLL length prefix (F0..F9 digits), or a TLV container. */
export type BmpFormat = { fixed: number } | { var: 2 | 3 } | 'tlv';

export const BMP_FORMATS: ReadonlyMap<number, BmpFormat> = new Map<number, BmpFormat>([
  [0x01, { fixed: 1 }], // time-out
  [0x02, { fixed: 1 }], // max. status infos
  [0x03, { fixed: 1 }], // service byte
  [0x04, { fixed: 6 }], // amount, BCD
  [0x05, { fixed: 1 }], // pump number
  [0x06, 'tlv'],
  [0x0b, { fixed: 3 }], // trace number, BCD
  [0x0c, { fixed: 3 }], // time HHMMSS, BCD
  [0x0d, { fixed: 2 }], // date MMDD, BCD
  [0x0e, { fixed: 2 }], // expiry YYMM, BCD
  [0x17, { fixed: 2 }], // card sequence number
  [0x19, { fixed: 1 }], // payment type / status byte
  [0x22, { var: 2 }], // PAN / EF_ID (masked digits as E)
  [0x23, { var: 2 }], // track 2
  [0x24, { var: 3 }], // track 3
  [0x27, { fixed: 1 }], // result code
  [0x29, { fixed: 4 }], // terminal id, BCD
  [0x2a, { fixed: 15 }], // VU number, ASCII
  [0x2d, { var: 2 }], // track 1
  [0x2e, { var: 3 }], // synchronous chip data
  [0x37, { fixed: 3 }], // trace of the original transaction
  [0x3a, { fixed: 2 }], // CVV/CVC
  [0x3b, { fixed: 8 }], // AID / authorisation attribute
  [0x3c, { var: 3 }], // additional data
  [0x3d, { fixed: 3 }], // password
  [0x49, { fixed: 2 }], // currency code, BCD
  [0x60, { var: 3 }], // individual totals
  [0x87, { fixed: 2 }], // receipt number, BCD
  [0x88, { fixed: 3 }], // turnover record number, BCD
  [0x8a, { fixed: 1 }], // card type
  [0x8b, { var: 2 }], // card name
  [0x8c, { fixed: 1 }], // card type id of the network operator
  [0x92, { var: 3 }], // additional data ec-Cash offline
  [0x9a, { var: 3 }], // Geldkarte records
  [0xa0, { fixed: 1 }], // result code AS
  [0xa7, { var: 2 }], // chip data, EF_ID
  [0xaa, { fixed: 3 }], // date YYMMDD
  [0xaf, { var: 3 }], // EF_Info
  [0xba, { fixed: 5 }], // AID parameter
  [0xd0, { fixed: 1 }], // algorithm key
  [0xd1, { var: 2 }], // card offset / PIN data
  [0xd2, { fixed: 1 }], // direction
  [0xd3, { fixed: 1 }], // key position
  [0xe0, { fixed: 1 }], // min. input length
  ...[0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8].map((b): [number, BmpFormat] => [b, { var: 2 }]), // text2 lines
  [0xe9, { fixed: 1 }], // max. input length
  [0xea, { fixed: 1 }], // echo input
  [0xeb, { fixed: 8 }], // MAC
  [0xf0, { fixed: 1 }], // display duration
  ...[0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8].map((b): [number, BmpFormat] => [b, { var: 2 }]), // text1 lines
  [0xf9, { fixed: 1 }], // beeps
  [0xfa, { fixed: 1 }], // status
  [0xfb, { fixed: 1 }], // OK required
  [0xfc, { fixed: 1 }], // dialog control
]);

/** TLV tags the driver reads. */
export const Tag = {
  textLines: 0x07,
  printTexts: 0x25,
  receiptType: 0x1f07,
} as const;

/** Result codes (BMP 27, 06 1E, 84 xx); 0x01..0x63 come from the authorisation system. */
export const RESULT_TEXTS: ReadonlyMap<number, string> = new Map([
  [0x00, 'successful'],
  [0x64, 'card not readable'],
  [0x65, 'card data not present'],
  [0x66, 'processing error'],
  [0x67, 'function not permitted for ec and Maestro cards'],
  [0x68, 'function not permitted for credit and tank cards'],
  [0x6a, 'turnover file full'],
  [0x6b, 'function deactivated (terminal not registered)'],
  [0x6c, 'abort via time-out or abort key'],
  [0x6e, 'card in blocked list'],
  [0x6f, 'wrong currency'],
  [0x71, 'credit not sufficient'],
  [0x72, 'chip error'],
  [0x73, 'card data incorrect'],
  [0x77, 'end-of-day batch not possible'],
  [0x78, 'card expired'],
  [0x79, 'card not yet valid'],
  [0x7a, 'card unknown'],
  [0x7d, 'communication error'],
  [0x83, 'function not possible'],
  [0x85, 'key missing'],
  [0x89, 'PIN pad defective'],
  [0x9a, 'ZVT protocol error'],
  [0x9b, 'error from dial-up or communication'],
  [0x9c, 'please wait'],
  [0xa0, 'receiver not ready'],
  [0xa1, 'remote station does not respond'],
  [0xa3, 'no connection'],
  [0xb1, 'memory full'],
  [0xb2, 'merchant journal full'],
  [0xb4, 'already reversed'],
  [0xb5, 'reversal not possible'],
  [0xc2, 'diagnosis required'],
  [0xc3, 'maximum amount exceeded'],
  [0xcc, 'printer not ready'],
  [0xdc, 'card inserted'],
  [0xe2, 'card reader defective'],
  [0xe3, 'shutter closed'],
  [0xf0, 'open end-of-day batch present'],
  [0xfc, 'device not present'],
  [0xfe, 'register unknown'],
  [0xff, 'system error'],
]);

export const RESULT_ALREADY_REVERSED = 0xb4;

export function resultText(code: number): string {
  if (code >= 0x01 && code <= 0x63) return `declined by the authorisation system (${code})`;
  return RESULT_TEXTS.get(code) ?? `result code 0x${code.toString(16).padStart(2, '0')}`;
}

export type ProgressStage = 'insert-card' | 'pin' | 'waiting-host' | 'remove-card' | 'please-wait' | 'declined' | 'other';

/** Intermediate status codes (04 FF): text and what the customer is asked to do. */
export const INTERMEDIATE: ReadonlyMap<number, [ProgressStage, string]> = new Map<number, [ProgressStage, string]>([
  [0x00, ['other', 'waiting for amount confirmation']],
  [0x01, ['pin', 'please watch PIN pad']],
  [0x02, ['pin', 'please watch PIN pad']],
  [0x03, ['declined', 'not accepted']],
  [0x04, ['waiting-host', 'waiting for the authorisation host']],
  [0x05, ['please-wait', 'sending auto-reversal']],
  [0x06, ['please-wait', 'sending post-bookings']],
  [0x07, ['declined', 'card not admitted']],
  [0x08, ['declined', 'card unknown']],
  [0x09, ['declined', 'card expired']],
  [0x0a, ['insert-card', 'insert card']],
  [0x0b, ['remove-card', 'please remove card']],
  [0x0c, ['declined', 'card not readable']],
  [0x0d, ['declined', 'processing error']],
  [0x0e, ['please-wait', 'please wait']],
  [0x0f, ['please-wait', 'automatic end-of-day batch']],
  [0x10, ['declined', 'invalid card']],
  [0x14, ['declined', 'credit not sufficient']],
  [0x15, ['pin', 'incorrect PIN']],
  [0x17, ['please-wait', 'please wait']],
  [0x18, ['declined', 'PIN try limit exceeded']],
  [0x1c, ['remove-card', 'approved, please take goods']],
  [0x1d, ['declined', 'declined']],
]);

/** The currency code (BMP 49) of Chinese yuan, the kiosk's currency. */
export const CURRENCY_CNY = 156;
/** The default TCP port of ZVT terminals. */
export const DEFAULT_TCP_PORT = 20007;
