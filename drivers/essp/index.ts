import { SerialTransport } from '../transport/serial.js';
import type { BillValidator, DriverLog } from '../types.js';
import { DEFAULT_FIXED_KEY } from './constants.js';
import { EsspValidator } from './driver.js';

export { crc16Cms } from '../checksum/crc16.js';
export * from './constants.js';
export * from './codec.js';
export * from './crypto.js';
export { EsspValidator, type EsspOptions } from './driver.js';

export interface CreateEsspOptions {
  port: string;
  pollIntervalMs?: number;
  /** SSP address, 0 for a banknote validator unless it was changed. */
  address?: number;
  /** The fixed half of the AES key as 16 hex digits, most significant first (ITL: 0123456701234567). */
  fixedKey?: string;
  log?: DriverLog;
}

/** Reads a fixed key written as 16 hex digits, e.g. '0123456701234567'. */
export function parseFixedKey(text: string): bigint {
  if (!/^[0-9a-fA-F]{16}$/.test(text)) throw new Error(`eSSP fixed key must be 16 hex digits, got '${text}'`);
  return BigInt(`0x${text}`);
}

/** An eSSP validator on a serial port (SSP runs at 9600 baud, 8 data bits, no parity, 2 stop bits). */
export function createEssp(opts: CreateEsspOptions): BillValidator {
  const transport = new SerialTransport({ path: opts.port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 2 });
  return new EsspValidator({
    transport,
    fixedKey: opts.fixedKey !== undefined ? parseFixedKey(opts.fixedKey) : DEFAULT_FIXED_KEY,
    ...(opts.address !== undefined ? { address: opts.address } : {}),
    ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}
