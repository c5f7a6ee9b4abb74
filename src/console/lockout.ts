/**
 * The console's lock-out rule, shared by the console (its own copy, for when the service cannot be
 * reached) and the service (the copy that counts, kept in the journal so that restarting the
 * console or the service does not open the lock).
 */

/** The longest lock: however many locks in a row, an engineer can try again the next day. */
export const MAX_LOCK_MS = 24 * 60 * 60 * 1000;

/** The n-th lock in a row lasts lockoutMs × 2^(n-1), at most a day. */
export function lockDuration(lockoutMs: number, locks: number): number {
  return Math.min(lockoutMs * 2 ** Math.min(Math.max(locks - 1, 0), 30), MAX_LOCK_MS);
}

export interface LockoutState {
  /** Failed logins since the last lock or success. */
  failures: number;
  /** Locks since the last successful login: each one is longer. */
  locks: number;
  /** Epoch milliseconds; 0 when not locked. */
  lockedUntil: number;
}

export class Lockout {
  private s: LockoutState = { failures: 0, locks: 0, lockedUntil: 0 };

  constructor(
    private readonly maxFailures: number,
    private readonly lockoutMs: number,
  ) {}

  get state(): LockoutState {
    return { ...this.s };
  }

  restore(state: LockoutState): void {
    this.s = { ...state };
  }

  remaining(now: number): number {
    return Math.max(0, this.s.lockedUntil - now);
  }

  /** One more failed login; the length of the lock it started, or null. */
  failed(now: number): number | null {
    this.s.failures++;
    if (this.s.failures < this.maxFailures) return null;
    this.s.locks++;
    this.s.failures = 0;
    const ms = lockDuration(this.lockoutMs, this.s.locks);
    this.s.lockedUntil = now + ms;
    return ms;
  }

  succeeded(): void {
    this.s = { failures: 0, locks: 0, lockedUntil: 0 };
  }
}

/**
 * Refused input is journalled at most once per window: a burst of typing at a locked console
 * becomes one event saying how many lines were not recorded one by one, not one event per line.
 */
export class RefusalAudit {
  private windowStart = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(private readonly windowMs = 60_000) {}

  /** The action to journal for this refusal, or null when it is only counted. */
  refused(now: number, action: string): string | null {
    if (now - this.windowStart < this.windowMs) {
      this.suppressed++;
      return null;
    }
    this.windowStart = now;
    const before = this.flush();
    return before ? `${action}; ${before}` : action;
  }

  /** What was counted and not yet journalled, as words, or null. */
  flush(): string | null {
    const n = this.suppressed;
    this.suppressed = 0;
    return n > 0 ? `${n} more refused line${n === 1 ? '' : 's'} not recorded one by one` : null;
  }
}
