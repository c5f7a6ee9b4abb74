/**
 * The emulated validator's bill table (CNY) and identity, in the form GET BILL TABLE and
 * IDENTIFICATION carry them. Bill table entry: [digits][country, 3 ASCII][power of ten], face value
 * = digits × 10^power yuan; 24 entries, unused ones all zero. The country is 'CHN' (ISO 3166
 * alpha-3, as CashCode tables name countries): our documented assumption for a Chinese firmware.
 */

export const COUNTRY = 'CHN';
export const BILL_TYPE_COUNT = 24;

export interface BillRecord {
  /** Position in the table: the bill type of the escrow and stacked states, and its mask bit. */
  billType: number;
  digits: number;
  power: number;
  /** Face value in fen. */
  value: number;
}

function record(billType: number, digits: number, power: number): BillRecord {
  return { billType, digits, power, value: digits * 10 ** power * 100 };
}

export const CNY_BILLS: readonly BillRecord[] = [
  record(0, 1, 0),
  record(1, 5, 0),
  record(2, 1, 1),
  record(3, 2, 1),
  record(4, 5, 1),
  record(5, 1, 2),
];

/** The 120 data bytes of the GET BILL TABLE answer. */
export function billTable(): Uint8Array {
  const out = new Uint8Array(BILL_TYPE_COUNT * 5);
  for (const bill of CNY_BILLS) {
    const at = bill.billType * 5;
    out[at] = bill.digits;
    out.set(Buffer.from(COUNTRY, 'ascii'), at + 1);
    out[at + 4] = bill.power;
  }
  return out;
}

export const PART_NUMBER = 'SM-CN1301';
export const SERIAL_NUMBER = '41K000123456';

/** The 34 data bytes of the IDENTIFICATION answer: part number (15), serial number (12), asset number (7). */
export function identification(): Uint8Array {
  const out = new Uint8Array(34).fill(0x20, 0, 27);
  out.set(Buffer.from(PART_NUMBER, 'ascii'), 0);
  out.set(Buffer.from(SERIAL_NUMBER, 'ascii'), 15);
  out.set([0, 0, 0, 0, 0, 0x30, 0x39], 27);
  return out;
}

export function billByValue(fen: number): BillRecord | undefined {
  return CNY_BILLS.find((b) => b.value === fen);
}

/** The bill types a 3-byte mask of ENABLE BILL TYPES sets (most significant byte first). */
export function typesInMask(mask: Uint8Array): Set<number> {
  const bits = (mask[0]! << 16) | (mask[1]! << 8) | mask[2]!;
  const types = new Set<number>();
  for (let t = 0; t < BILL_TYPE_COUNT; t++) if (bits & (1 << t)) types.add(t);
  return types;
}
