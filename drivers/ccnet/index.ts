import { SerialTransport } from '../transport/serial.js';
import type { BillValidator, DriverLog } from '../types.js';
import { CcnetValidator } from './driver.js';

export { crc16Kermit } from '../checksum/crc16.js';
export * from './constants.js';
export {
  FrameSplitter,
  IDENTIFICATION_LENGTH,
  billTypeMask,
  decodeReply,
  enableBillTypesData,
  encodeCommand,
  encodeFrame,
  failureText,
  isPollState,
  parseBillTable,
  parseFrame,
  parseIdentification,
  rejectReasonText,
  type BillTableEntry,
  type Frame,
  type Identification,
  type PlainStateKind,
  type PollState,
  type Reply,
  type ReplyKind,
  type SplitterStats,
} from './codec.js';
export { CcnetValidator, type CcnetOptions } from './driver.js';

/** A CCNET bill validator on a serial port (CCNET runs at 9600 baud, 8 data bits, no parity, 1 stop bit). */
export function createCcnet(opts: { port: string; pollIntervalMs?: number; log?: DriverLog }): BillValidator {
  const transport = new SerialTransport({ path: opts.port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  return new CcnetValidator({
    transport,
    ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

