/**
 * The checksum of ZVT's serial frames: CRC-16/CCITT as the specification computes it, reflected
 * (polynomial 0x8408), initial value 0, no final xor; known as CRC-16/KERMIT, check value 0x2189.
 * It covers the APDU bytes as sent before DLE doubling, plus the ETX; the low byte goes first.
 */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

export function crcCcitt(bytes: Uint8Array, initial = 0): number {
  let crc = initial;
  for (const b of bytes) crc = (crc >>> 8) ^ TABLE[(crc ^ b) & 0xff]!;
  return crc;
}
