/**
 * The two ccTalk checksums. The 8-bit one makes the whole frame sum to 0 mod 256. The 16-bit one
 * is CRC-16/XMODEM over dest, length, header and data (the source slot is skipped because it
 * carries the CRC's low byte; the high byte takes the checksum slot at the end).
 */

/** The byte that makes `bytes[start..end)` plus itself sum to 0 mod 256. */
export function simpleChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i]!;
  return (256 - (sum & 0xff)) & 0xff;
}

const XMODEM_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n << 8;
    for (let bit = 0; bit < 8; bit++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    table[n] = c;
  }
  return table;
})();

/** CRC-16/XMODEM: polynomial 0x1021, initial value 0, not reflected, no final xor. */
export function crc16Xmodem(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let crc = initial;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ XMODEM_TABLE[((crc >>> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The CRC of a whole ccTalk frame `[dest][len][crc lsb][header][data…][crc msb]`: the bytes it
 * covers are every byte except the source slot (index 2) and the last one.
 */
export function frameCrc16(frame: Uint8Array): number {
  const crc = crc16Xmodem(frame, 0, 2);
  return crc16Xmodem(frame, 3, frame.length - 1, crc);
}
