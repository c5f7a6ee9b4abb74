/**
 * The 2D code scanner's device-class contract (issue 17): a USB scanner in HID keyboard mode or a
 * serial (CDC-ACM) scanner, reading the payment code a wallet shows. A payment code is a single-use
 * bearer token: the driver hands it over in a holder that wipes itself, as the card reader does with
 * card data, and never logs or keeps it.
 */
import type { Device, DeviceEvents } from '../types.js';

/** The code's characters as ASCII in a buffer that wipe() zero-fills. */
export interface SensitiveCode {
  readonly wiped: boolean;
  /** Runs `use` with the code's bytes, then wipes them whether `use` succeeded or not. Throws when already wiped. */
  consume<T>(use: (code: Buffer) => Promise<T> | T): Promise<T>;
  /** Zero-fills the buffer. Idempotent. */
  wipe(): void;
}

/** One decoded code while enabled. */
export interface CodeRead {
  /** What the kiosk may keep: the first 2 and the last 4 characters at most, the rest masked. */
  masked: string;
  /** The number of characters read. */
  length: number;
  /** The listener owns it and must consume() or wipe() it. */
  sensitive: SensitiveCode;
}

/** Why a scan gave no code: the scanner never says more than this and a short detail without the code. */
export type BadScanReason = 'partial' | 'bad-character' | 'too-long' | 'device-error';

export interface CodeScannerCapabilities {
  /** The scanner takes enable/disable commands (serial mode); a keyboard-mode scanner is gated by the driver only. */
  commands: boolean;
}

export type CodeScannerEvents = DeviceEvents & {
  code: [CodeRead];
  'bad-scan': [{ reason: BadScanReason; detail: string }];
};

export interface CodeScanner extends Device<CodeScannerEvents> {
  readonly kind: 'code-scanner';
  readonly capabilities: CodeScannerCapabilities;
  /** Codes are reported only while enabled; a code shown while disabled is dropped and its bytes zeroed. */
  enable(): Promise<void>;
  disable(): Promise<void>;
}
