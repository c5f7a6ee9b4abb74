/**
 * The emulated validator's dataset: CNY notes on channels 1–6 (1, 5, 10, 20, 50 and 100 yuan) and
 * the SETUP REQUEST reply that describes them. Channel values are in yuan; the real value
 * multiplier (100) turns them into fen, as GA138 describes it for the minor unit [U].
 */

export interface Channel {
  channel: number;
  /** Face value in yuan, as the channel value bytes carry it. */
  yuan: number;
  /** Face value in fen. */
  value: number;
}

export const CHANNELS: readonly Channel[] = [1, 5, 10, 20, 50, 100].map((yuan, i) => ({ channel: i + 1, yuan, value: yuan * 100 }));

export const COUNTRY = 'CNY';
export const FIRMWARE = '0420';
const UNIT_TYPE_VALIDATOR = 0x00;
const VALUE_MULTIPLIER = 1;
const REAL_VALUE_MULTIPLIER = 100;
/** Security level of every channel (2 = standard). */
const SECURITY = 2;

export function channelByValue(fen: number): Channel | undefined {
  return CHANNELS.find((c) => c.value === fen);
}

const ascii = (text: string): number[] => [...Buffer.from(text, 'ascii')];
const be24 = (n: number): number[] => [(n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** SETUP REQUEST data after the OK byte; the per-channel currency and 4-byte values only from protocol 6 on. */
export function setupReply(protocolVersion: number): number[] {
  const out = [
    UNIT_TYPE_VALIDATOR,
    ...ascii(FIRMWARE),
    ...ascii(COUNTRY),
    ...be24(VALUE_MULTIPLIER),
    CHANNELS.length,
    ...CHANNELS.map((c) => c.yuan),
    ...CHANNELS.map(() => SECURITY),
    ...be24(REAL_VALUE_MULTIPLIER),
    protocolVersion,
  ];
  if (protocolVersion >= 6) {
    out.push(...CHANNELS.flatMap(() => ascii(COUNTRY)), ...CHANNELS.flatMap((c) => le32(c.yuan)));
  }
  return out;
}
