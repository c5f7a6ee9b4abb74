/**
 * ESC/POS real-time status (`DLE EOT n`, n = 1..4). Every reply is one byte whose bits 1 and 4 are
 * always set and bits 0 and 7 always clear, so a byte outside that pattern is not a status reply
 * (line noise, or the tail of some other answer) and is refused rather than misread.
 */
import type { DeviceStatus } from '../types.js';

export type StatusKind = 1 | 2 | 3 | 4;
export const STATUS_KINDS: readonly StatusKind[] = [1, 2, 3, 4];

const DLE = 0x10;
const EOT = 0x04;
const FIXED_MASK = 0x93;
const FIXED_VALUE = 0x12;

/** n = 1, printer status. */
export interface PrinterFlags {
  offline: boolean;
  /** Level of the drawer-kick connector pin 3; kiosks have no drawer, kept for a technician. */
  drawerPin3: boolean;
}

/** n = 2, why the printer is offline. */
export interface OfflineCauseFlags {
  coverOpen: boolean;
  feedButton: boolean;
  paperEndStop: boolean;
  error: boolean;
}

/** n = 3, which error. */
export interface ErrorCauseFlags {
  cutterError: boolean;
  unrecoverable: boolean;
  autoRecoverable: boolean;
}

/** n = 4, paper roll sensors. */
export interface PaperFlags {
  paperNearEnd: boolean;
  paperEnd: boolean;
}

export type StatusFlags = PrinterFlags & OfflineCauseFlags & ErrorCauseFlags & PaperFlags;

export class StatusByteError extends Error {
  override readonly name = 'StatusByteError';

  constructor(
    readonly kind: StatusKind,
    readonly byte: number,
  ) {
    super(`not a DLE EOT ${kind} status byte: 0x${byte.toString(16).padStart(2, '0')}`);
  }
}

/** The 3-byte real-time request for status `n`. */
export function statusRequest(n: StatusKind): Uint8Array {
  return Uint8Array.of(DLE, EOT, n);
}

/** True when `byte` has the fixed bits of a real-time status reply. */
export function isStatusByte(byte: number): boolean {
  return Number.isInteger(byte) && byte >= 0 && byte <= 0xff && (byte & FIXED_MASK) === FIXED_VALUE;
}

function check(kind: StatusKind, byte: number): void {
  if (!isStatusByte(byte)) throw new StatusByteError(kind, byte);
}

const bit = (byte: number, n: number): boolean => (byte & (1 << n)) !== 0;

export function decodePrinterStatus(byte: number): PrinterFlags {
  check(1, byte);
  return { offline: bit(byte, 3), drawerPin3: bit(byte, 2) };
}

export function decodeOfflineCause(byte: number): OfflineCauseFlags {
  check(2, byte);
  return { coverOpen: bit(byte, 2), feedButton: bit(byte, 3), paperEndStop: bit(byte, 5), error: bit(byte, 6) };
}

export function decodeErrorCause(byte: number): ErrorCauseFlags {
  check(3, byte);
  return { cutterError: bit(byte, 3), unrecoverable: bit(byte, 5), autoRecoverable: bit(byte, 6) };
}

/**
 * The sensor is reported on two bits each (0x0C near end, 0x60 end). Printers with a single sensor
 * of a kind set only one of the pair on some models, so either bit counts.
 */
export function decodePaperSensor(byte: number): PaperFlags {
  check(4, byte);
  return { paperNearEnd: (byte & 0x0c) !== 0, paperEnd: (byte & 0x60) !== 0 };
}

/** Decodes the four replies, in order n = 1, 2, 3, 4. Throws StatusByteError on a garbage byte. */
export function decodeStatus(replies: readonly [number, number, number, number]): StatusFlags {
  return {
    ...decodePrinterStatus(replies[0]),
    ...decodeOfflineCause(replies[1]),
    ...decodeErrorCause(replies[2]),
    ...decodePaperSensor(replies[3]),
  };
}

/**
 * What the terminal needs to know. Paper and cover come first: they are what a technician can fix
 * on site, and a paper end also raises the generic error and offline bits on most printers.
 */
export function summarize(flags: StatusFlags): DeviceStatus {
  if (flags.paperEnd || flags.paperEndStop) {
    return { health: 'fault', code: 'paper-out', detail: 'paper roll empty' };
  }
  if (flags.coverOpen) return { health: 'fault', code: 'cover-open', detail: 'printer cover open' };
  if (flags.cutterError) return { health: 'fault', code: 'cutter-error', detail: 'auto-cutter error' };
  if (flags.unrecoverable) return { health: 'fault', code: 'unrecoverable-error', detail: 'unrecoverable printer error' };
  if (flags.autoRecoverable) {
    return { health: 'fault', code: 'auto-recoverable-error', detail: 'recoverable printer error (e.g. head too hot)' };
  }
  if (flags.error) return { health: 'fault', code: 'error', detail: 'printer reports an error' };
  if (flags.offline) {
    const why = flags.feedButton ? 'feed button held' : 'no cause given';
    return { health: 'fault', code: 'offline', detail: `printer offline (${why})` };
  }
  if (flags.paperNearEnd) return { health: 'degraded', code: 'paper-near-end', detail: 'paper roll nearly empty' };
  return { health: 'ok', code: 'ok', detail: 'ready' };
}

/** The PrinterError code for a status that stops printing, or undefined when printing may go on. */
export function blockingCode(status: DeviceStatus): 'paper-out' | 'cover-open' | 'offline' | 'error' | undefined {
  if (status.health === 'ok' || status.health === 'degraded') return undefined;
  if (status.health === 'offline') return 'offline';
  if (status.code === 'paper-out' || status.code === 'cover-open' || status.code === 'offline') return status.code;
  return 'error';
}
