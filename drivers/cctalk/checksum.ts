/**
 * ccTalk's frame checksum in 16-bit mode. The source slot is skipped because it carries the CRC's
 * low byte; the high byte takes the checksum slot at the end. The algorithms live in
 * drivers/checksum/crc16.ts.
 */
import { crc16Xmodem } from '../checksum/crc16.js';

/**
 * The CRC of a whole ccTalk frame `[dest][len][crc lsb][header][data…][crc msb]`: the bytes it
 * covers are every byte except the source slot (index 2) and the last one.
 */
export function frameCrc16(frame: Uint8Array): number {
  const crc = crc16Xmodem(frame, 0, 2);
  return crc16Xmodem(frame, 3, frame.length - 1, crc);
}
