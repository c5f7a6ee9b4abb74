/**
 * One entry of secret characters (a card's tracks typed by a keyboard-mode reader, a wallet payment
 * code from a scanner), kept in one fixed buffer that is zero-filled whenever the entry is handed out
 * or dropped. Shared by the decoders of the devices that hand over secrets.
 */

/**
 * A zero-filled buffer whose bytes stay where they are: V8 keeps typed arrays of up to 64 bytes
 * inside its heap and its garbage collector moves them, leaving the old copy (with whatever secret
 * it held at that moment) in freed memory that fill(0) never reaches. An ArrayBuffer's own backing
 * store is never moved.
 */
export function offHeap(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(size));
}

export type SecretEntryEvent =
  /** The characters before the terminator. A copy the caller owns and must zero. */
  | { kind: 'entry'; bytes: Buffer }
  /** More characters than the buffer holds came before the terminator; they were dropped. */
  | { kind: 'overflow'; length: number };

export class SecretEntry {
  private readonly buffer: Buffer;
  private length = 0;
  private overflowed = 0;

  constructor(maxLength: number) {
    this.buffer = offHeap(maxLength);
  }

  /** Characters received since the entry began, dropped ones included. */
  get pending(): number {
    return this.length + this.overflowed;
  }

  append(char: number): void {
    if (this.length < this.buffer.length) this.buffer[this.length++] = char;
    else this.overflowed++;
  }

  /** Hands the entry out (or says it overflowed) and starts a new one. */
  take(): SecretEntryEvent {
    const event: SecretEntryEvent =
      this.overflowed > 0
        ? { kind: 'overflow', length: this.length + this.overflowed }
        : { kind: 'entry', bytes: Buffer.from(this.buffer.subarray(0, this.length)) };
    this.clear();
    return event;
  }

  /** Drops the entry. */
  clear(): void {
    this.buffer.fill(0, 0, this.length);
    this.length = 0;
    this.overflowed = 0;
  }
}
