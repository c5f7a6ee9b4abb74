/**
 * Test doubles for the wallet flow: a payment code in a self-wiping holder, and an in-memory
 * CodeScanner that shows a code only while enabled, as the contract (drivers/scanner/contract.ts)
 * says. The real drivers and their emulator are the scanner branch's.
 */
import { EventEmitter } from 'node:events';
import type { CodeRead, CodeScanner, CodeScannerEvents, SensitiveCode } from '../../drivers/scanner/contract.js';
import type { DeviceIdentity, DeviceStatus } from '../../drivers/types.js';

export interface HeldCode extends SensitiveCode {
  /** The buffer the holder owns, kept to check it was zero-filled. */
  readonly bytes: Buffer;
}

export function heldCode(code: string): HeldCode {
  const bytes = Buffer.alloc(code.length);
  bytes.write(code, 'latin1');
  let wiped = false;
  return {
    bytes,
    get wiped() {
      return wiped;
    },
    async consume(use) {
      if (wiped) throw new Error('the code was already wiped');
      try {
        return await use(bytes);
      } finally {
        bytes.fill(0);
        wiped = true;
      }
    },
    wipe() {
      bytes.fill(0);
      wiped = true;
    },
  };
}

export function codeRead(code: string): CodeRead & { sensitive: HeldCode } {
  return { masked: code.slice(0, 2) + '*'.repeat(code.length - 6) + code.slice(-4), length: code.length, sensitive: heldCode(code) };
}

export class FakeScanner extends EventEmitter<CodeScannerEvents> implements CodeScanner {
  readonly kind = 'code-scanner' as const;
  readonly capabilities = { commands: true };
  enabled = false;
  /** Every enable() and disable(), in order. */
  readonly calls: string[] = [];
  /** Codes shown while disabled, and dropped. */
  dropped = 0;

  status(): DeviceStatus {
    return { health: 'ok', code: 'ok', detail: 'test double' };
  }
  identity(): DeviceIdentity {
    return { kind: 'code-scanner', model: 'test-double' };
  }

  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async enable(): Promise<void> {
    this.enabled = true;
    this.calls.push('enable');
  }
  async disable(): Promise<void> {
    this.enabled = false;
    this.calls.push('disable');
  }

  /** The customer holds a code under the scanner; returns the read handed over, or null when dropped. */
  show(code: string): (CodeRead & { sensitive: HeldCode }) | null {
    const read = codeRead(code);
    if (!this.enabled) {
      read.sensitive.wipe();
      this.dropped += 1;
      return null;
    }
    this.emit('code', read);
    return read;
  }
}
