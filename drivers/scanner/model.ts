import { z } from 'zod';
import { noOptions, type DeviceDescriptor } from '../descriptor.js';
import type { CodeScanner } from './contract.js';
import type { ScannerOptions } from './index.js';

/** The scanners' code, loaded when one is built. */
const impl = () => import('./index.js');

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
  create: async (o: ScannerOptions) => (await impl()).createHidKeyboardScanner(o),
  diag: { kind: 'scanner-hid', forPort: async (device: string) => (await impl()).createHidKeyboardScanner({ device }) },
} as const satisfies DeviceDescriptor<CodeScanner, ScannerOptions>;

export const serialScannerModel = {
  model: 'serial',
  kind: 'code-scanner',
  options: serialScannerOptions,
  create: async (o: ScannerOptions) => (await impl()).createSerialScanner(o),
  // On a bare port diag asks for answers: a scanner that gives none fails the enable/disable step, with the reason.
  diag: { kind: 'scanner-serial', forPort: async (device: string) => (await impl()).createSerialScanner({ device, ack: true }) },
} as const satisfies DeviceDescriptor<CodeScanner, ScannerOptions>;
