import type { SimStack } from '../stack.js';

/** A wait cut short because the runtime died under it: the session restarts it and goes on. */
export class Interrupted extends Error {
  constructor() {
    super('the runtime died');
  }
}

export interface KillRecord {
  /** 'crash-after': the runtime's own crash seam fired; 'timed': SIGKILL from outside; 'final': the run's fallback kill. */
  kind: 'crash-after' | 'timed' | 'final';
  detail: string;
  /** The session step under way (the last one begun). */
  step: number;
}

/** Longest wait for the terminal to settle after a start (recovery, device boot, first link attempt). */
const SETTLE_MS = 60_000;
const SETTLED = /^terminal (in service|degraded|out of service)$/;
/** A runtime that dies this often in a row without settling is a finding, not chaos. */
const MAX_STARTS = 8;
/** Longer than any run; below setTimeout's 2^31 ms limit. */
const FOREVER_MS = 86_400_000;

/**
 * The runtime process across its lives: started armed with the next crash point, watched for its
 * death, killed on purpose, started again. Every wait of the session goes through guard(), so a
 * death ends the wait at once instead of at its time-out.
 */
export class Lives {
  readonly kills: KillRecord[] = [];
  readonly problems: string[] = [];
  step = 0;
  private alive = false;
  private death: Promise<never> = new Promise<never>(() => undefined);
  private killing: KillRecord | null = null;
  private armed: string | null = null;
  private stopping = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly stack: SimStack,
    /** Crash points still to arm, in order; each arms the lives until it fires. */
    private readonly crashPoints: string[],
  ) {}

  get running(): boolean {
    return this.alive;
  }

  /** Starts the runtime (again) and waits until the terminal settled; a death on the way starts it once more. */
  async boot(): Promise<void> {
    for (let attempt = 1; attempt <= MAX_STARTS; attempt++) {
      this.armed = this.crashPoints[0] ?? null;
      const settled = quiet(this.stack.waitForLog((e) => SETTLED.test(String(e.msg)), SETTLE_MS));
      try {
        await this.stack.startRuntime(this.armed ? { KIOSK_CRASH_AFTER: this.armed } : {});
      } catch (e) {
        // Died while starting: its crash seam, or a timed kill that came during the start.
        let code: number | null | undefined = null;
        if (this.stack.runtimeRunning) code = await this.stack.runtimeExited(5_000).catch(() => undefined);
        else if (!this.killing) throw e;
        if (code === undefined) throw e;
        this.exited(code);
        continue;
      }
      this.watch();
      try {
        await this.guard(settled);
        return;
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
      }
    }
    throw new Error(`the runtime died ${MAX_STARTS} times in a row before its terminal settled`);
  }

  /** Races a wait against the runtime's death. */
  guard<T>(wait: Promise<T>): Promise<T> {
    quiet(wait);
    return Promise.race([wait, this.death]);
  }

  /** SIGKILL `delayMs` from now, whatever the kiosk is doing then (booting included). */
  killLater(delayMs: number, detail: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.killNow('timed', detail);
    }, delayMs);
    this.timers.add(timer);
  }

  async killNow(kind: KillRecord['kind'], detail: string): Promise<void> {
    if (!this.stack.runtimeRunning || this.killing) return;
    this.killing = { kind, detail, step: this.step };
    this.kills.push(this.killing);
    await this.stack.killRuntime('SIGKILL').catch((e: Error) => this.problems.push(`could not kill the runtime: ${e.message}`));
  }

  /** Timed kills not yet due never come; the runtime is stopped gracefully. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.stopping = true;
    await this.stack.killRuntime('SIGTERM');
  }

  private watch(): void {
    this.alive = true;
    let died!: (e: Error) => void;
    this.death = new Promise<never>((_, reject) => (died = reject));
    quiet(this.death);
    void this.stack.runtimeExited(FOREVER_MS).then(
      (code) => {
        this.exited(code);
        died(new Interrupted());
      },
      () => undefined,
    );
  }

  private exited(code: number | null): void {
    this.alive = false;
    if (this.stopping) return;
    if (this.killing) {
      this.killing = null;
    } else if (code === null && this.armed) {
      // Killed by a signal nobody here sent: the crash seam it was armed with.
      this.kills.push({ kind: 'crash-after', detail: this.armed, step: this.step });
      this.crashPoints.shift();
    } else {
      this.problems.push(`the runtime exited by itself (${code === null ? 'signal' : `code ${code}`}) during step ${this.step + 1}`);
    }
  }
}

/** A wait that may be abandoned: its later rejection is not an unhandled one. */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
