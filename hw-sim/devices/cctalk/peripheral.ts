/** Header numbers and the identity answers every emulated ccTalk peripheral shares. */
import { HEADER_ACK, HEADER_NAK } from './wire.js';
import type { DeviceReply } from './bus.js';

export const H = {
  reset: 1,
  emergencyStop: 172,
  requestCipherKey: 160,
  testHopper: 163,
  enableHopper: 164,
  hopperStatus: 166,
  dispense: 167,
  coinId: 184,
  requestMasterInhibit: 227,
  modifyMasterInhibit: 228,
  readBufferedCredit: 229,
  requestInhibits: 230,
  modifyInhibits: 231,
  performSelfCheck: 232,
  softwareRevision: 241,
  serialNumber: 242,
  productCode: 244,
  category: 245,
  manufacturer: 246,
  simplePoll: 254,
} as const;

export const MANUFACTURER = 'Kiosk-Sim';

export interface Identity {
  category: string;
  productCode: string;
  softwareRevision: string;
  /** 24-bit serial number. */
  serial: number;
}

export const ack = (data: Uint8Array | readonly number[] = []): DeviceReply => ({ header: HEADER_ACK, data });
export const NAK: DeviceReply = { header: HEADER_NAK };

export const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'ascii'));

/** The 3 serial-number bytes, least significant first, as header 242 sends them. */
export function serialBytes(serial: number): number[] {
  return [serial & 0xff, (serial >>> 8) & 0xff, (serial >>> 16) & 0xff];
}

export function checkSerial(serial: number): number {
  if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffff) {
    throw new RangeError(`a ccTalk serial number is 3 bytes (0..16777215), got ${serial}`);
  }
  return serial;
}

/** Event counters run 1..255 and wrap to 1: 0 means "just powered up or reset". */
export function nextEvent(counter: number): number {
  return counter >= 255 ? 1 : counter + 1;
}

/**
 * The answers to the identification headers, or undefined when `header` is not one of them.
 * Simple poll is here too: every peripheral answers it with a bare ACK.
 */
export function identify(identity: Identity, header: number, data: Uint8Array): DeviceReply | undefined {
  let reply: Uint8Array | number[];
  switch (header) {
    case H.simplePoll:
      reply = [];
      break;
    case H.category:
      reply = ascii(identity.category);
      break;
    case H.manufacturer:
      reply = ascii(MANUFACTURER);
      break;
    case H.productCode:
      reply = ascii(identity.productCode);
      break;
    case H.softwareRevision:
      reply = ascii(identity.softwareRevision);
      break;
    case H.serialNumber:
      reply = serialBytes(identity.serial);
      break;
    default:
      return undefined;
  }
  return data.length === 0 ? ack(reply) : NAK;
}

export const hexBytes = (bytes: Uint8Array | readonly number[]): string =>
  Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
