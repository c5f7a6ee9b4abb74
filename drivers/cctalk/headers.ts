/** ccTalk header numbers this project sends or receives, and the texts of the device codes. */

export const Header = {
  reply: 0,
  reset: 1,
  nak: 5,
  busy: 6,
  requestCipherKey: 160,
  testHopper: 163,
  enableHopper: 164,
  requestHopperStatus: 166,
  dispenseHopperCoins: 167,
  emergencyStop: 172,
  requestCoinId: 184,
  modifyMasterInhibit: 228,
  readBufferedCredit: 229,
  modifyInhibitStatus: 231,
  performSelfCheck: 232,
  requestSerialNumber: 242,
  requestEquipmentCategory: 245,
  simplePoll: 254,
} as const;

export const Address = {
  broadcast: 0,
  host: 1,
  coinAcceptor: 2,
  hopper: 3,
} as const;

/** Data byte of header 164 that enables a hopper; any other value disables it. */
export const HOPPER_ENABLE_CODE = 0xa5;

/** Equipment category ids (header 245) the drivers expect. */
export const Category = {
  coinAcceptor: 'Coin Acceptor',
  payout: 'Payout',
} as const;

/**
 * Coin acceptor error codes (result B when result A is 0 in a 229 reply), after the ccTalk
 * generic specification's table.
 */
const COIN_ERRORS: Readonly<Record<number, string>> = {
  0: 'null event',
  1: 'reject coin',
  2: 'inhibited coin',
  3: 'multiple window',
  4: 'wake-up timeout',
  5: 'validation timeout',
  6: 'credit sensor timeout',
  7: 'sorter opto timeout',
  8: '2nd close coin error',
  9: 'accept gate not ready',
  10: 'credit sensor not ready',
  11: 'sorter not ready',
  12: 'reject coin not cleared',
  13: 'validation sensor not ready',
  14: 'credit sensor blocked',
  15: 'sorter opto blocked',
  16: 'credit sequence error',
  17: 'coin going backwards',
  18: 'coin too fast (over credit sensor)',
  19: 'coin too slow (over credit sensor)',
  20: 'coin-on-string mechanism activated',
  21: 'DCE opto timeout',
  22: 'DCE opto not seen',
  23: 'credit sensor reached too early',
  24: 'reject coin (repeated sequential trip)',
  25: 'reject slug',
  26: 'reject sensor blocked',
  27: 'games overload',
  28: 'max. coin meter pulses exceeded',
  29: 'accept gate open not closed',
  30: 'accept gate closed not open',
  31: 'manifold opto timeout',
  32: 'manifold opto blocked',
  33: 'manifold not ready',
  34: 'security status changed',
  35: 'motor exception',
  36: 'swallowed coin',
  37: 'coin too fast (over validation sensor)',
  38: 'coin too slow (over validation sensor)',
  39: 'coin incorrectly sorted',
  40: 'external light attack',
  253: 'data block request',
  254: 'coin return mechanism activated',
  255: 'unspecified alarm code',
};

const FIRST_INHIBITED_TYPE = 128;
const LAST_INHIBITED_TYPE = 159;

export function coinErrorText(code: number): string {
  if (code >= FIRST_INHIBITED_TYPE && code <= LAST_INHIBITED_TYPE) {
    return `inhibited coin (type ${code - FIRST_INHIBITED_TYPE + 1})`;
  }
  return COIN_ERRORS[code] ?? `unknown coin acceptor error ${code}`;
}

/**
 * Codes that say something is wrong with the mechanism or someone is tampering with it, as
 * opposed to an ordinary rejected coin. The driver reports them through the status event.
 */
const SERIOUS_COIN_ERRORS: ReadonlyMap<number, string> = new Map([
  [14, 'credit-sensor-blocked'],
  [15, 'sorter-blocked'],
  [16, 'fraud-suspected'],
  [17, 'fraud-suspected'],
  [20, 'coin-on-string'],
  [34, 'security-status-changed'],
  [35, 'motor-exception'],
  [36, 'coin-swallowed'],
  [40, 'light-attack'],
  [254, 'coin-return-activated'],
  [255, 'alarm'],
]);

/**
 * Header 232 (perform self-check) fault codes that a coin acceptor may report, after the ccTalk
 * generic specification's fault code table; 0 is no fault. Any other code is a fault that stops
 * the device from working until it is serviced.
 */
const SELF_CHECK_FAULTS: Readonly<Record<number, string>> = {
  1: 'EEPROM checksum corrupted',
  2: 'fault on inductive coils',
  3: 'fault on credit sensor',
  4: 'fault on piezo sensor',
  5: 'fault on reflective sensor',
  6: 'fault on diameter sensor',
  7: 'fault on wake-up sensor',
  8: 'fault on sorter exit sensors',
  9: 'NVRAM checksum corrupted',
  18: 'fault on reject sensor',
  19: 'fault on coin return mechanism',
  20: 'fault on C.O.S. mechanism',
  21: 'fault on rim sensor',
  22: 'fault on thermistor',
  30: 'ROM checksum mismatch',
  32: 'internal comms bad',
  33: 'supply voltage outside operating limits',
  34: 'temperature outside operating limits',
};

export function selfCheckFaultText(code: number): string {
  return SELF_CHECK_FAULTS[code] ?? `fault code ${code}`;
}

/** The status code for a serious coin acceptor error, or undefined for a routine one. */
export function seriousCoinError(code: number): string | undefined {
  return SERIOUS_COIN_ERRORS.get(code);
}

/**
 * Header 163 (test hopper) flags, bit by bit: register 1 then register 2. `fault` is false for
 * the bits that describe a mode rather than a problem.
 */
export interface HopperFlag {
  name: string;
  fault: boolean;
  /** The health code the flag maps to when it is a fault the hopper cannot pay through. */
  code?: 'hopper-jam' | 'hopper-empty' | 'hopper-sensor' | 'hopper-memory';
}

export const HOPPER_TEST_FLAGS: readonly (readonly HopperFlag[])[] = [
  [
    { name: 'max current exceeded', fault: true, code: 'hopper-jam' },
    { name: 'payout timeout', fault: true, code: 'hopper-empty' },
    { name: 'motor reversed to clear a jam', fault: true },
    { name: 'opto path blocked during idle', fault: true, code: 'hopper-jam' },
    { name: 'opto short-circuit during idle', fault: true, code: 'hopper-sensor' },
    { name: 'opto blocked permanently during payout', fault: true, code: 'hopper-jam' },
    { name: 'power-up detected', fault: true },
    { name: 'payout disabled', fault: true },
  ],
  [
    { name: 'opto short-circuit during payout', fault: true, code: 'hopper-sensor' },
    { name: 'single-coin mode', fault: false },
    { name: 'NV checksum A error', fault: true, code: 'hopper-memory' },
    { name: 'NV checksum B error', fault: true, code: 'hopper-memory' },
    { name: 'NV checksum C error', fault: true, code: 'hopper-memory' },
    { name: 'NV checksum D error', fault: true, code: 'hopper-memory' },
    { name: 'power fail during NV memory write', fault: true, code: 'hopper-memory' },
    { name: 'PIN mechanism enabled', fault: false },
  ],
];

/** The flags set in a 163 reply (one or two registers), in bit order. */
export function hopperTestFlags(registers: Uint8Array): HopperFlag[] {
  const set: HopperFlag[] = [];
  HOPPER_TEST_FLAGS.forEach((bits, register) => {
    const value = registers[register] ?? 0;
    bits.forEach((flag, bit) => {
      if (value & (1 << bit)) set.push(flag);
    });
  });
  return set;
}
