/**
 * The emulated acceptor's note table (CNY), in the form the 0x8A currency-assign reply carries:
 * [escrow code][country code][value base][power of ten], face value = base × 10^exp yuan.
 * Country code 0x9C is ISO 3166 numeric 156 (China): our documented assumption, since JCM's own
 * country numbering is not public.
 */

export const CNY_COUNTRY_CODE = 0x9c;

export interface NoteRecord {
  /** Escrow code reported with status 0x13, also the bit position (code - 0x61) in the C0 mask. */
  code: number;
  base: number;
  exponent: number;
  /** Face value in fen. */
  value: number;
}

function record(code: number, base: number, exponent: number): NoteRecord {
  return { code, base, exponent, value: base * 10 ** exponent * 100 };
}

export const CNY_NOTES: readonly NoteRecord[] = [
  record(0x61, 1, 0),
  record(0x62, 5, 0),
  record(0x63, 1, 1),
  record(0x64, 2, 1),
  record(0x65, 5, 1),
  record(0x66, 1, 2),
];

/** The data bytes of the 0x8A reply. */
export function currencyTable(): Uint8Array {
  return Uint8Array.from(CNY_NOTES.flatMap((n) => [n.code, CNY_COUNTRY_CODE, n.base, n.exponent]));
}

export function noteByValue(fen: number): NoteRecord | undefined {
  return CNY_NOTES.find((n) => n.value === fen);
}

/** Bit of this note in the C0 enable/disable mask (a set bit disables the note). */
export function maskBit(note: NoteRecord): number {
  return 1 << (note.code - 0x61);
}
