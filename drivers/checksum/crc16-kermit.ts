/**
 * CRC-16/KERMIT: the CCITT polynomial in reflected form (0x8408), initial value 0, no final xor,
 * sent low byte first. JCM ID-003 and CashCode CCNET both use it over SYNC through the last data
 * byte, so their drivers share this one; each emulator keeps its own.
 */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

export function crc16Kermit(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}
