import type { Config } from '../config/schema.js';
import type { ControlResponse } from '../control/protocol.js';
import type { Journal } from '../journal/index.js';
import { Lockout } from '../console/lockout.js';

/**
 * The service's copy of the console lock-out: the one that counts. Each change is a
 * `console.lockout` event, and the last one is read back at start, so neither restarting the
 * console nor restarting the service opens a lock or resets its escalation.
 */
export class ConsoleLockoutBook {
  private readonly lockout: Lockout;

  constructor(
    private readonly journal: Journal,
    settings: Config['console'],
    private readonly now: () => number = Date.now,
  ) {
    this.lockout = new Lockout(settings.maxFailures, settings.lockoutMs);
    const last = journal.lastEventOfType('console.lockout')?.data;
    if (last) {
      const until = last.lockedUntil ? Date.parse(last.lockedUntil) : 0;
      this.lockout.restore({ failures: last.failures, locks: last.locks, lockedUntil: Number.isNaN(until) ? 0 : until });
    }
  }

  handle(op: 'check' | 'failed' | 'success'): ControlResponse {
    let lockMs: number | null = null;
    if (op === 'failed') {
      lockMs = this.lockout.failed(this.now());
      this.record(lockMs);
    } else if (op === 'success') {
      const s = this.lockout.state;
      this.lockout.succeeded();
      if (s.failures > 0 || s.locks > 0) this.record(null);
    }
    const s = this.lockout.state;
    return { ok: true, lockedUntil: s.lockedUntil > this.now() ? s.lockedUntil : 0, lockMs, failures: s.failures, locks: s.locks };
  }

  private record(lockMs: number | null): void {
    const s = this.lockout.state;
    this.journal.append(null, 'console.lockout', {
      failures: s.failures,
      locks: s.locks,
      lockedUntil: s.lockedUntil > 0 ? new Date(s.lockedUntil).toISOString() : null,
      ...(lockMs !== null ? { lockMs } : {}),
    });
  }
}
