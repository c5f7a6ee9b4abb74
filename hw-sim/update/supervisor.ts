/**
 * A small stand-in for systemd where there is none (tests, the simulator): it runs the kiosk from
 * `<root>/current` the way systemd/kiosk.service does. Before every start it runs the product's
 * `kiosk update rollback-check --start` (ExecStartPre); it restarts the service whenever it exits
 * (Restart=always, RestartSec); more than `burst` starts within `intervalMs` is the start limit,
 * after which it runs `rollback-check --failed` (kiosk-rollback.service, the OnFailure= unit) and
 * starts again; every `checkMs` it runs `rollback-check` alone (kiosk-update-check.timer) and
 * restarts the service when that rolled back. It decides nothing itself: the rollback is the
 * product's code, run from the release that is known to work (previous, else current).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';

export interface SupervisorOptions {
  root: string;
  /** The service's script inside a release, e.g. 'dist/src/cli.js' (+ args ['run', …]) or the simulator's entry. */
  entry: string;
  args: readonly string[];
  env?: Record<string, string>;
  /** Environment for the first start only (e.g. a crash seam that must not fire again after the restart). */
  firstEnv?: Record<string, string>;
  restartMs?: number;
  burst?: number;
  intervalMs?: number;
  checkMs?: number;
}

export interface CheckRun {
  mode: 'start' | 'failed' | 'timer';
  action: string;
  detail: string;
}

/** Events: 'start' (version), 'exit' ({code, signal, version}), 'check' (CheckRun), 'log' (a JSON line of the service, parsed). */
export class Supervisor extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopped = false;
  private starts: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** The versions started, in order. */
  readonly started: string[] = [];
  readonly checks: CheckRun[] = [];
  /** Environment for the next start only (e.g. a crash seam that must not fire again after it). */
  nextEnv: Record<string, string> | undefined;

  constructor(private readonly o: SupervisorOptions) {
    super();
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopped = false;
    this.launch();
    this.timer = setInterval(() => {
      if (this.check('timer').action === 'rolled-back') this.child?.kill('SIGTERM');
    }, this.o.checkMs ?? 1000);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** SIGKILLs the service (a crash from outside); the supervisor restarts it as systemd would. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Runs the product's rollback check from the release known to work. */
  check(mode: CheckRun['mode']): CheckRun {
    const from = ['previous', 'current'].map((l) => join(this.o.root, l, 'dist/src/cli.js')).find((p) => existsSync(p));
    if (!from) throw new Error(`no release under ${this.o.root} has dist/src/cli.js`);
    const flags = mode === 'start' ? ['--start'] : mode === 'failed' ? ['--failed'] : [];
    const r = spawnSync(process.execPath, [from, 'update', 'rollback-check', '--root', this.o.root, ...flags], { encoding: 'utf8' });
    let out: { action: string; detail: string } = { action: 'error', detail: r.stderr.trim() };
    try {
      out = JSON.parse(r.stdout) as typeof out;
    } catch {
      // Kept as 'error' with stderr: the check itself failed.
    }
    const run = { mode, action: out.action, detail: out.detail };
    this.checks.push(run);
    this.emit('check', run);
    return run;
  }

  private launch(): void {
    if (this.stopped) return;
    const now = Date.now();
    this.starts = this.starts.filter((t) => now - t < (this.o.intervalMs ?? 300_000));
    if (this.starts.length >= (this.o.burst ?? 10)) {
      // The start limit: systemd marks the unit failed and runs OnFailure=, which rolls back and starts it again.
      this.check('failed');
      this.starts = [];
    }
    this.starts.push(now);
    this.check('start');
    const script = join(this.o.root, 'current', this.o.entry);
    const version = currentVersion(this.o.root);
    const first = this.started.length === 0 ? this.o.firstEnv : this.nextEnv;
    this.nextEnv = undefined;
    const child = spawn(process.execPath, [script, ...this.o.args], { env: { ...process.env, ...this.o.env, ...first }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.started.push(version);
    this.emit('start', version);
    const onLine = (line: string): void => {
      try {
        this.emit('log', { ...(JSON.parse(line) as Record<string, unknown>), release: version });
      } catch {
        this.emit('log', { msg: line, release: version, level: 50 });
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code, signal) => {
      this.child = undefined;
      this.emit('exit', { code, signal, version });
      if (!this.stopped) this.restartTimer = setTimeout(() => this.launch(), this.o.restartMs ?? 500);
    });
  }

  /** Resolves with the first event of `name` that matches. */
  waitFor<T>(name: string, match: (v: T) => boolean, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(name, on);
        reject(new Error(`no matching '${name}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (v: T): void => {
        if (!match(v)) return;
        clearTimeout(timer);
        this.off(name, on);
        resolve(v);
      };
      this.on(name, on);
    });
  }
}

export function currentVersion(root: string): string {
  return basename(readlinkSync(join(root, 'current')));
}
