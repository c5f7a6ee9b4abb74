import { SerialTransport } from '../transport/serial.js';
import type { BillValidator } from '../types.js';
import { Id003Validator, type Id003Log } from './driver.js';

export { crc16Kermit } from '../checksum/crc16.js';
export * from './constants.js';
export {
  FrameSplitter,
  decodeStatus,
  denominationMask,
  encodeCommand,
  failureText,
  isStatusReply,
  parseCurrencyTable,
  parseFrame,
  rejectReasonText,
  type CurrencyRecord,
  type DeviceStatusReply,
  type Frame,
  type PlainStatusKind,
  type Reply,
  type ReplyKind,
  type SplitterStats,
} from './codec.js';
export { Id003Validator, type Id003Log, type Id003Options } from './driver.js';

/** An ID-003 validator on a serial port (ID-003 runs at 9600 baud, 8 data bits, even parity, 1 stop bit). */
export function createId003(opts: { port: string; pollIntervalMs?: number; log?: Id003Log }): BillValidator {
  const transport = new SerialTransport({ path: opts.port, baudRate: 9600, dataBits: 8, parity: 'even', stopBits: 1 });
  return new Id003Validator({
    transport,
    ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

