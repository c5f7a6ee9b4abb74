/** Wire constants of JCM ID-003 (facts: /work/shared/protocols.md section 1). */

export const SYNC = 0xfc;
/** SYNC, LNG, CMD and the two CRC bytes: the shortest legal frame. */
export const MIN_FRAME_LENGTH = 5;
/** LNG is one byte and counts the whole frame. */
export const MAX_FRAME_LENGTH = 0xff;

/** Host → acceptor command codes. */
export const Cmd = {
  statusRequest: 0x11,
  reset: 0x40,
  stack1: 0x41,
  stack2: 0x42,
  return: 0x43,
  hold: 0x44,
  ack: 0x50,
  versionRequest: 0x88,
  bootVersionRequest: 0x89,
  currencyRequest: 0x8a,
  setDenominations: 0xc0,
  setSecurity: 0xc1,
  setCommMode: 0xc2,
  setInhibit: 0xc3,
  setDirection: 0xc4,
  setOptionalFunction: 0xc5,
  setBarcodeFunction: 0xc6,
  setBarInhibit: 0xc7,
} as const;

/** Setting commands are answered by an echo of themselves rather than by ACK. */
export function isSettingCommand(cmd: number): boolean {
  return cmd >= 0xc0 && cmd <= 0xc7;
}

/** Acceptor → host status codes (the reply to a status request). */
export const Status = {
  idling: 0x11,
  accepting: 0x12,
  escrow: 0x13,
  stacking: 0x14,
  vendValid: 0x15,
  stacked: 0x16,
  rejecting: 0x17,
  returning: 0x18,
  holding: 0x19,
  disabled: 0x1a,
  initialize: 0x1b,
  powerUp: 0x40,
  powerUpBillInAcceptor: 0x41,
  powerUpBillInStacker: 0x42,
  stackerFull: 0x43,
  stackerOpen: 0x44,
  jamAcceptor: 0x45,
  jamStacker: 0x46,
  pause: 0x47,
  cheated: 0x48,
  failure: 0x49,
  communicationError: 0x4a,
  invalidCommand: 0x4b,
} as const;

/** The acceptor's ACK to Reset, Stack and Return has the same code as the host's ACK. */
export const ACK = 0x50;

/** Data byte of a REJECTING status. */
export const REJECT_REASONS: Readonly<Record<number, string>> = {
  0x71: 'insertion error',
  0x72: 'magnetic pattern error',
  0x73: 'bill remaining in the head',
  0x74: 'data amplitude or calibration error',
  0x75: 'conveying error',
  0x76: 'denomination assessment error',
  0x77: 'photo pattern error',
  0x78: 'photo level error',
  0x79: 'inhibited by DIP switch or command',
  0x7a: 'unspecified reason',
  0x7b: 'operation error',
  0x7c: 'bill in the transport at the wrong time',
  0x7d: 'length error',
  0x7e: 'colour pattern error',
  0x7f: 'true-bill check error',
};

/** Data byte of a FAILURE (0x49) status. */
export const FAILURE_CODES: Readonly<Record<number, string>> = {
  0xa2: 'stacker motor failure',
  0xa5: 'transport motor speed failure',
  0xa6: 'transport motor failure',
  0xa7: 'aligning motor failure',
  0xab: 'cash box not ready',
  0xac: 'optic sensor failure',
  0xad: 'magnetic sensor failure',
  0xaf: 'head removed',
  0xb0: 'boot ROM failure',
  0xb1: 'external ROM failure',
  0xb2: 'ROM failure',
  0xb3: 'external ROM write failure',
};

/** Escrow codes start here; bit i of the 0xC0 mask belongs to code FIRST_ESCROW_CODE + i. */
export const FIRST_ESCROW_CODE = 0x61;
export const DENOMINATION_MASK_BITS = 16;

export interface CountryCurrency {
  /** ISO 4217 alphabetic code. */
  currency: string;
  /** Decimal places of the minor unit (2 for fen and cents). */
  minorDigits: number;
}

/**
 * Country codes in the 0x8A table are vendor-specific. USD and CAD are as seen in public host
 * code; CNY = 0x9C is our assumption (ISO 3166 numeric 156 for China) and what our emulator
 * reports. Confirm it against the unit's own table before deploying a new firmware.
 */
export const COUNTRIES: Readonly<Record<number, CountryCurrency>> = {
  0x01: { currency: 'USD', minorDigits: 2 },
  0x08: { currency: 'CAD', minorDigits: 2 },
  0x9c: { currency: 'CNY', minorDigits: 2 },
};
