/**
 * Pure bytes of a 2D code scanner, both modes: what a decoded code may contain, its masked form,
 * the serial mode's line splitter (a code ends with CR, or CR LF) and its commands.
 *
 * Serial commands: the Honeywell-style serial trigger that many scanners also take (Chinese OEM
 * engines among them): SYN 'T' CR (16 54 0D) starts reading, SYN 'U' CR (16 55 0D) stops it. A
 * scanner in serial-trigger mode reads only between the two, so a code shown while the kiosk does
 * not want one is not even decoded; the driver still gates what arrives. Some scanners answer each
 * command with ACK (06) or NAK (15), others answer nothing: the driver is told which (`ack`).
 * ACK and NAK never occur inside a good code (codes are printable): they are answers between codes,
 * and also in the middle of a read cut short when the driver is waiting for an answer (the scanner
 * answers a command sent just after it stopped sending).
 */
import { offHeap } from '../keyboard/boot-keyboard.js';
import type { BadScanReason } from './contract.js';

export const SYN = 0x16;
export const CR = 0x0d;
export const LF = 0x0a;
export const ACK = 0x06;
export const NAK = 0x15;

/** SYN T CR: start reading (serial trigger on). */
export const TRIGGER_ON: readonly number[] = [SYN, 0x54, CR];
/** SYN U CR: stop reading (serial trigger off). */
export const TRIGGER_OFF: readonly number[] = [SYN, 0x55, CR];

/** A payment code is 18 digits; longer codes (URLs in QR codes) are not what the kiosk reads. */
export const DEFAULT_MAX_LENGTH = 64;

export interface CodeProblem {
  reason: BadScanReason;
  /** Never the code's content: only lengths and positions. */
  detail: string;
}

/** Printable ASCII only: a control byte or a byte over 0x7E is a misread or the wrong keyboard layout. */
export function checkCode(code: Uint8Array, maxLength = DEFAULT_MAX_LENGTH): CodeProblem | undefined {
  if (code.length > maxLength) return { reason: 'too-long', detail: `${code.length} characters, at most ${maxLength}` };
  for (let i = 0; i < code.length; i++) {
    const b = code[i]!;
    if (b < 0x20 || b > 0x7e) return { reason: 'bad-character', detail: `a non-printable byte at position ${i + 1} of ${code.length}` };
  }
  return undefined;
}

/**
 * The first 2 and the last 4 characters at most; a short code shows fewer, so that at least half of
 * it stays masked.
 */
export function maskCode(code: Uint8Array): string {
  const last = Math.min(4, Math.floor(code.length / 4));
  const first = Math.min(2, Math.floor(code.length / 4));
  const shown = (from: number, to: number): string => String.fromCharCode(...code.subarray(from, to));
  return shown(0, first) + '*'.repeat(code.length - first - last) + shown(code.length - last, code.length);
}

export type LineEvent =
  /** The bytes before the terminator. A copy the caller owns and must zero. */
  | { kind: 'entry'; bytes: Buffer }
  /** More bytes than the buffer holds came before the terminator; they were dropped. */
  | { kind: 'overflow'; length: number }
  /** An answer to a command, between codes. */
  | { kind: 'answer'; ack: boolean };

/**
 * Splits the serial stream into codes at CR (a LF straight after a CR is part of the terminator; a
 * LF alone also ends a code, as scanners set to LF send). Bytes are kept in one fixed buffer that is
 * zero-filled whenever a code is handed out or dropped.
 */
export class LineSplitter {
  private readonly buffer: Buffer;
  private length = 0;
  private overflowed = 0;
  private afterCr = false;

  /** `awaitingAnswer`: whether a command waits for its answer now (then ACK and NAK are answers anywhere). */
  constructor(
    maxLength = DEFAULT_MAX_LENGTH,
    private readonly awaitingAnswer: () => boolean = () => false,
  ) {
    this.buffer = offHeap(maxLength);
  }

  /** Bytes received since the last terminator. */
  get pending(): number {
    return this.length + this.overflowed;
  }

  push(chunk: Uint8Array): LineEvent[] {
    const events: LineEvent[] = [];
    for (const b of chunk) {
      const afterCr = this.afterCr;
      this.afterCr = b === CR;
      if (b === CR || b === LF) {
        if (b === LF && afterCr) continue;
        // An empty line is a lone terminator (a scanner's keep-alive or a CR LF split oddly): no code.
        if (this.pending > 0) events.push(this.finish());
        continue;
      }
      if ((b === ACK || b === NAK) && (this.pending === 0 || this.awaitingAnswer())) {
        events.push({ kind: 'answer', ack: b === ACK });
        continue;
      }
      if (this.length < this.buffer.length) this.buffer[this.length++] = b;
      else this.overflowed++;
    }
    return events;
  }

  /** Ends a code that never got its terminator: what came so far. */
  flush(): LineEvent | undefined {
    this.afterCr = false;
    return this.pending > 0 ? this.finish() : undefined;
  }

  /** Drops anything received so far. */
  reset(): void {
    this.buffer.fill(0, 0, this.length);
    this.length = 0;
    this.overflowed = 0;
    this.afterCr = false;
  }

  private finish(): LineEvent {
    const event: LineEvent =
      this.overflowed > 0
        ? { kind: 'overflow', length: this.length + this.overflowed }
        : { kind: 'entry', bytes: Buffer.from(this.buffer.subarray(0, this.length)) };
    this.buffer.fill(0, 0, this.length);
    this.length = 0;
    this.overflowed = 0;
    return event;
  }
}
