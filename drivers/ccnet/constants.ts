/** Wire constants of CashCode CCNET, bill validator side (facts: /work/shared/protocols.md section 4). */

export const SYNC = 0x02;
/** Peripheral address of a bill validator on the CCNET bus. */
export const VALIDATOR_ADDRESS = 0x03;
/** SYNC, ADR, LNG, one data byte and the two CRC bytes: the shortest legal frame. */
export const MIN_FRAME_LENGTH = 6;
/** LNG is one byte and counts the whole frame (LNG 0 announces a long frame, which a validator never sends). */
export const MAX_FRAME_LENGTH = 0xff;

/** Host → validator command codes. ACK and NAK travel in the same one-byte frame as a command. */
export const Cmd = {
  ack: 0x00,
  nak: 0xff,
  reset: 0x30,
  getStatus: 0x31,
  setSecurity: 0x32,
  poll: 0x33,
  enableBillTypes: 0x34,
  stack: 0x35,
  return: 0x36,
  identification: 0x37,
  hold: 0x38,
  getBillTable: 0x41,
} as const;

/** Validator → host: the first data byte of a POLL reply. */
export const State = {
  powerUp: 0x10,
  powerUpBillInValidator: 0x11,
  powerUpBillInStacker: 0x12,
  initialize: 0x13,
  idling: 0x14,
  accepting: 0x15,
  stacking: 0x17,
  returning: 0x18,
  disabled: 0x19,
  holding: 0x1a,
  busy: 0x1b,
  rejecting: 0x1c,
  illegalCommand: 0x30,
  dropCassetteFull: 0x41,
  cassetteOutOfPosition: 0x42,
  validatorJammed: 0x43,
  cassetteJammed: 0x44,
  cheated: 0x45,
  pause: 0x46,
  failure: 0x47,
  escrow: 0x80,
  billStacked: 0x81,
  billReturned: 0x82,
} as const;

/** The validator's one-byte answers: ACK (to a command without data in its answer) and NAK (bad CRC). */
export const ACK = 0x00;
export const NAK = 0xff;

/** Second byte of a REJECTING (0x1C) state. */
export const REJECT_REASONS: Readonly<Record<number, string>> = {
  0x60: 'insertion error',
  0x61: 'magnetic error',
  0x62: 'a bill remains in the head',
  0x63: 'multiplying (compensation) error',
  0x64: 'conveying error',
  0x65: 'identification error',
  0x66: 'verification error',
  0x67: 'optic error',
  0x68: 'bill type inhibited',
  0x69: 'capacitance error',
  0x6a: 'operation error',
  0x6c: 'length error',
  0x6d: 'UV optic error',
  0x92: 'unrecognised barcode',
  0x93: 'wrong number of barcode characters',
  0x94: 'unknown barcode start sequence',
  0x95: 'unknown barcode stop sequence',
};

/** Second byte of a FAILURE (0x47) state. */
export const FAILURE_CODES: Readonly<Record<number, string>> = {
  0x50: 'stack motor failure',
  0x51: 'transport motor speed failure',
  0x52: 'transport motor failure',
  0x53: 'aligning motor failure',
  0x54: 'initial cassette status failure',
  0x55: 'optic canal failure',
  0x56: 'magnetic canal failure',
  0x5f: 'capacitance canal failure',
};

/** The bill table has 24 entries of 5 bytes; bill type n is entry n. */
export const BILL_TYPES = 24;
export const BILL_TABLE_ENTRY = 5;

/** IDENTIFICATION reply: part number (15 ASCII), serial number (12 ASCII), asset number (7 bytes). */
export const PART_NUMBER_LENGTH = 15;
export const SERIAL_NUMBER_LENGTH = 12;
export const ASSET_NUMBER_LENGTH = 7;

export interface CountryCurrency {
  currency: string;
  /** Decimal places of the minor unit (2 for fen, cents and kopecks). */
  minorDigits: number;
}

/**
 * The bill table names a country with three letters. CashCode firmwares use ISO 3166 alpha-3
 * country codes ('RUS', 'USA'); some carry the ISO 4217 currency instead. 'CHN' is what our
 * emulator reports for China; 'CNY' is accepted too. A code missing here gives notes that are
 * returned, never guessed.
 */
export const COUNTRIES: Readonly<Record<string, CountryCurrency>> = {
  CHN: { currency: 'CNY', minorDigits: 2 },
  CNY: { currency: 'CNY', minorDigits: 2 },
  USA: { currency: 'USD', minorDigits: 2 },
  USD: { currency: 'USD', minorDigits: 2 },
  RUS: { currency: 'RUB', minorDigits: 2 },
  RUB: { currency: 'RUB', minorDigits: 2 },
};
