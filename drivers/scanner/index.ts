import { hidSourceFor } from '../transport/hid-device.js';
import { SerialTransport } from '../transport/serial.js';
import type { DriverLog } from '../types.js';
import type { CodeScanner } from './contract.js';
import { HidKeyboardScanner } from './hid-keyboard.js';
import { SerialScanner } from './serial.js';

export type { CodeRead, CodeScanner, SensitiveCode } from './contract.js';
export { HidKeyboardScanner } from './hid-keyboard.js';
export { SerialScanner } from './serial.js';
export { LineSplitter, TRIGGER_OFF, TRIGGER_ON, checkCode, maskCode } from './codec.js';

/** What the runtime hands a scanner factory: the configuration section plus the log. */
export interface ScannerOptions {
  /**
   * Keyboard mode: a hidraw path (best a udev symlink), `usb:VVVV:PPPP`, or `socket:PATH` for the
   * emulator. Serial mode: the serial device, e.g. /dev/ttyACM0 (best a udev symlink).
   */
  device: string;
  /** Serial mode: the line's speed (a CDC-ACM scanner ignores it). Default 9600. */
  baudRate?: number;
  /** Serial mode: the scanner answers each command with ACK/NAK. Default false. */
  ack?: boolean;
  maxLength?: number;
  partialTimeoutMs?: number;
  log?: DriverLog;
}

function common(opts: ScannerOptions) {
  return {
    ...(opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
    ...(opts.partialTimeoutMs !== undefined ? { partialTimeoutMs: opts.partialTimeoutMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  };
}

export function createHidKeyboardScanner(opts: ScannerOptions): CodeScanner {
  return new HidKeyboardScanner({ model: 'hid-keyboard', source: hidSourceFor(opts.device), ...common(opts) });
}

export function createSerialScanner(opts: ScannerOptions): CodeScanner {
  return new SerialScanner({
    model: 'serial',
    transport: new SerialTransport({ path: opts.device, baudRate: opts.baudRate ?? 9600 }),
    ack: opts.ack ?? false,
    ...common(opts),
  });
}
