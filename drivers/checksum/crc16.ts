/**
 * The checksums of every device line the drivers speak, in one place. Each CRC is table-driven and
 * takes a byte range, and where a protocol chains two ranges (ZVT, ccTalk) the running value.
 *
 * - CRC-16/KERMIT (reflected CCITT 0x8408, init 0): JCM ID-003 and CashCode CCNET over SYNC through
 *   the last data byte; ZVT serial frames over the APDU as sent before DLE doubling, plus the ETX.
 *   Check value 0x2189. Low byte first on all three lines.
 * - CRC-16/CMS (0x8005 unreflected, seed 0xFFFF): eSSP over SEQ/ID, LENGTH and DATA, before byte
 *   stuffing. A different polynomial from KERMIT, so it has its own table.
 * - CRC-16/XMODEM (0x1021 unreflected, init 0): ccTalk's 16-bit checksum mode.
 * - The 8-bit sum: ccTalk's simple checksum.
 */
function reflectedTable(poly: number): Uint16Array {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[n] = c;
  }
  return table;
}

function msbFirstTable(poly: number): Uint16Array {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n << 8;
    for (let bit = 0; bit < 8; bit++) c = c & 0x8000 ? ((c << 1) ^ poly) & 0xffff : (c << 1) & 0xffff;
    table[n] = c;
  }
  return table;
}

const KERMIT = reflectedTable(0x8408);
const CMS = msbFirstTable(0x8005);
const XMODEM = msbFirstTable(0x1021);

function reflected(table: Uint16Array, bytes: Uint8Array, start: number, end: number, initial: number): number {
  let crc = initial;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ table[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

function msbFirst(table: Uint16Array, bytes: Uint8Array, start: number, end: number, initial: number): number {
  let crc = initial;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ table[((crc >>> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** CRC-16/KERMIT of `bytes[start..end)`, continuing from `initial` (0 for a fresh one). */
export function crc16Kermit(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  return reflected(KERMIT, bytes, start, end, initial);
}

/** CRC-16/CMS of `bytes[start..end)`, as SSP computes it (seed 0xFFFF). */
export function crc16Cms(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return msbFirst(CMS, bytes, start, end, 0xffff);
}

/** CRC-16/XMODEM of `bytes[start..end)`, continuing from `initial` (0 for a fresh one). */
export function crc16Xmodem(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  return msbFirst(XMODEM, bytes, start, end, initial);
}

/** The byte that makes `bytes[start..end)` plus itself sum to 0 mod 256. */
export function simpleChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i]!;
  return (256 - (sum & 0xff)) & 0xff;
}
