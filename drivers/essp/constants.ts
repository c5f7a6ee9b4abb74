/** Wire constants of ITL SSP / eSSP (facts: /work/shared/protocols.md section 2). */

export const STX = 0x7f;
/** First byte of DATA when the rest of it is an encrypted block. */
export const STEX = 0x7e;
/** Bit 7 of the SEQ/ID byte; bits 6..0 are the slave address. */
export const SEQ_FLAG = 0x80;
export const MAX_ADDRESS = 0x7d;
/** LENGTH is one byte and counts DATA only. */
export const MAX_DATA_LENGTH = 0xff;

/** Host → slave command codes used by a pay-in validator host. */
export const Cmd = {
  reset: 0x01,
  setInhibits: 0x02,
  setupRequest: 0x05,
  hostProtocolVersion: 0x06,
  poll: 0x07,
  reject: 0x08,
  disable: 0x09,
  enable: 0x0a,
  serialNumber: 0x0c,
  sync: 0x11,
  lastRejectCode: 0x17,
  hold: 0x18,
  firmwareVersion: 0x20,
  setGenerator: 0x4a,
  setModulus: 0x4b,
  requestKeyExchange: 0x4c,
  pollWithAck: 0x56,
  eventAck: 0x57,
} as const;

/** The first byte of every reply. */
export const Generic = {
  ok: 0xf0,
  unknownCommand: 0xf2,
  wrongParameters: 0xf3,
  outOfRange: 0xf4,
  cannotProcess: 0xf5,
  softwareError: 0xf6,
  fail: 0xf8,
  keyNotSet: 0xfa,
} as const;

export const GENERIC_NAMES: Readonly<Record<number, string>> = {
  0xf0: 'OK',
  0xf2: 'command not known',
  0xf3: 'wrong number of parameters',
  0xf4: 'parameter out of range',
  0xf5: 'command cannot be processed',
  0xf6: 'software error',
  0xf8: 'FAIL',
  0xfa: 'key not set',
};

/** Poll event codes. */
export const Ev = {
  slaveReset: 0xf1,
  read: 0xef,
  credit: 0xee,
  rejecting: 0xed,
  rejected: 0xec,
  stacking: 0xcc,
  stacked: 0xeb,
  safeJam: 0xea,
  unsafeJam: 0xe9,
  disabled: 0xe8,
  fraudAttempt: 0xe6,
  stackerFull: 0xe7,
  clearedFromFront: 0xe1,
  clearedIntoCashbox: 0xe2,
  pathOpen: 0xe0,
  cashboxRemoved: 0xe3,
  cashboxReplaced: 0xe4,
  channelDisable: 0xb5,
  initialising: 0xb6,
} as const;

/**
 * Events that POLL WITH ACK repeats until EVENT ACK: the ones that move money (a credit, and a note
 * found in the path at power-up). [U] The list is ITL's for validators as far as public sources
 * show it; a device that repeats others is still handled, since any repeated batch is acknowledged.
 */
export const ACK_EVENTS: ReadonlySet<number> = new Set([Ev.credit, Ev.clearedFromFront, Ev.clearedIntoCashbox]);

/** Reasons of LAST REJECT CODE (0x17). */
export const REJECT_REASONS: Readonly<Record<number, string>> = {
  0x00: 'note accepted',
  0x01: 'note length incorrect',
  0x02: 'validation failed',
  0x03: 'validation failed',
  0x04: 'validation failed',
  0x05: 'validation failed',
  0x06: 'channel inhibited',
  0x07: 'second note inserted',
  0x08: 'rejected by the host',
  0x09: 'note recognised in more than one channel',
  0x0a: 'rear sensor error',
  0x0b: 'note too long',
  0x0c: 'disabled by the host',
  0x0d: 'mechanism too slow',
  0x0e: 'strimming attempt',
  0x10: 'no notes enabled',
  0x13: 'escrow time-out',
  0x1c: 'double note',
  0x1d: 'unable to stack',
};

/** Unit type byte of SETUP REQUEST. */
export const UNIT_TYPES: Readonly<Record<number, string>> = {
  0x00: 'banknote validator',
  0x03: 'SMART Hopper',
  0x06: 'SMART Payout',
  0x07: 'NV11',
};

/** The fixed half of the AES key as ITL ships it, unless the operator changed it (0x60). */
export const DEFAULT_FIXED_KEY = 0x0123456701234567n;

/** The host protocol version this driver asks for first; lower ones are tried when it is refused. */
export const PROTOCOL_VERSIONS = [8, 7, 6] as const;
