/**
 * The payment code as it leaves the driver: a holder that shows nothing when printed, logged or
 * serialised, hands the bytes to one consumer and zero-fills them afterwards.
 */
import { inspect } from 'node:util';
import { maskCode } from './codec.js';
import type { CodeRead, SensitiveCode } from './contract.js';

const REDACTED = '[SensitiveCode: redacted]';

class SealedCode implements SensitiveCode {
  #bytes: Buffer | undefined;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  get wiped(): boolean {
    return this.#bytes === undefined;
  }

  async consume<T>(use: (code: Buffer) => Promise<T> | T): Promise<T> {
    const bytes = this.#bytes;
    if (!bytes) throw new Error('the code was already wiped');
    try {
      return await use(bytes);
    } finally {
      this.wipe();
    }
  }

  wipe(): void {
    this.#bytes?.fill(0);
    this.#bytes = undefined;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Takes ownership of `bytes`: they end up inside the SensitiveCode and are zeroed with it. */
export function sealCode(bytes: Buffer): CodeRead {
  return { masked: maskCode(bytes), length: bytes.length, sensitive: new SealedCode(bytes) };
}
