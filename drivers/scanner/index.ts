import { z } from 'zod';
import { noOptions, type DeviceDescriptor } from '../descriptor.js';
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

/**
 * Keys only the serial model has in the configuration's `scanner` section. Their defaults are the
 * factory's (9600, false), so that a keyboard-mode section that names them can be refused.
 */
export const serialScannerOptions = z.object({
  /** The line's speed (default 9600); a USB CDC-ACM scanner ignores it. */
  baudRate: z.number().int().positive().optional(),
  /** The scanner answers each command with ACK (06) or NAK (15); set it only when it does (default false). */
  ack: z.boolean().optional(),
});

export const hidKeyboardScannerModel = {
  model: 'hid-keyboard',
  kind: 'code-scanner',
  options: noOptions,
  create: createHidKeyboardScanner,
  diag: { kind: 'scanner-hid', forPort: (device: string) => createHidKeyboardScanner({ device }) },
} as const satisfies DeviceDescriptor<CodeScanner, ScannerOptions>;

export const serialScannerModel = {
  model: 'serial',
  kind: 'code-scanner',
  options: serialScannerOptions,
  create: createSerialScanner,
  // On a bare port diag asks for answers: a scanner that gives none fails the enable/disable step, with the reason.
  diag: { kind: 'scanner-serial', forPort: (device: string) => createSerialScanner({ device, ack: true }) },
} as const satisfies DeviceDescriptor<CodeScanner, ScannerOptions>;
