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
import { execFile, spawn, type ChildProcess } from 'node:child_process';
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
  /**
   * The checks, one after another. They run as child processes without blocking this process: the
   * tests' device emulators live here, and a validator left unanswered for the second a check
   * takes to start on a loaded machine goes offline in the kiosk.
   */
  private checking: Promise<unknown> = Promise.resolve();
  private checksQueued = 0;
  /** The versions started, in order. */
  readonly started: string[] = [];
  readonly checks: CheckRun[] = [];
  /** The kiosk's last log lines, so a wait that times out can say what the kiosk was doing. */
  private readonly recent: string[] = [];
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
    void this.launch();
    this.timer = setInterval(() => {
      if (this.checksQueued > 0) return;
      void this.check('timer').then((r) => {
        if (r.action === 'rolled-back') this.child?.kill('SIGTERM');
      });
    }, this.o.checkMs ?? 1000);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    await this.checking;
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

  /** Runs the product's rollback check from the release known to work, after any check under way. */
  check(mode: CheckRun['mode']): Promise<CheckRun> {
    this.checksQueued++;
    const run = this.checking.then(() => this.runCheck(mode)).finally(() => this.checksQueued--);
    this.checking = run.catch(() => undefined);
    return run;
  }

  private async runCheck(mode: CheckRun['mode']): Promise<CheckRun> {
    const from = ['previous', 'current'].map((l) => join(this.o.root, l, 'dist/src/cli.js')).find((p) => existsSync(p));
    if (!from) throw new Error(`no release under ${this.o.root} has dist/src/cli.js`);
    const flags = mode === 'start' ? ['--start'] : mode === 'failed' ? ['--failed'] : [];
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [from, 'update', 'rollback-check', '--root', this.o.root, ...flags], { encoding: 'utf8' }, (_err, stdout, stderr) => resolve({ stdout, stderr }));
    });
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

  private async launch(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    this.starts = this.starts.filter((t) => now - t < (this.o.intervalMs ?? 300_000));
    if (this.starts.length >= (this.o.burst ?? 10)) {
      // The start limit: systemd marks the unit failed and runs OnFailure=, which rolls back and starts it again.
      await this.check('failed');
      this.starts = [];
    }
    this.starts.push(now);
    await this.check('start');
    if (this.stopped) return;
    const script = join(this.o.root, 'current', this.o.entry);
    const version = currentVersion(this.o.root);
    const first = this.started.length === 0 ? this.o.firstEnv : this.nextEnv;
    this.nextEnv = undefined;
    const child = spawn(process.execPath, [script, ...this.o.args], { env: { ...process.env, ...this.o.env, ...first }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.started.push(version);
    this.emit('start', version);
    const onLine = (line: string): void => {
      let entry: Record<string, unknown>;
      try {
        entry = { ...(JSON.parse(line) as Record<string, unknown>), release: version };
      } catch {
        entry = { msg: line, release: version, level: 50 };
      }
      this.remember(entry);
      this.emit('log', entry);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code, signal) => {
      this.child = undefined;
      this.emit('exit', { code, signal, version });
      if (!this.stopped) this.restartTimer = setTimeout(() => void this.launch(), this.o.restartMs ?? 500);
    });
  }

  private remember(e: Record<string, unknown>): void {
    const at = typeof e.time === 'string' ? e.time.slice(11, 23) : '';
    const text = `[${String(e.release)}] ${String(e.msg)}${e.err ? `: ${String(e.err)}` : ''}${e.error ? `: ${String(e.error)}` : ''}`;
    // A device's repeated complaints would push out the lines that tell what happened.
    if (this.recent.slice(-6).some((l) => l.endsWith(text))) return;
    this.recent.push(`${at} ${text}`);
    if (this.recent.length > 40) this.recent.shift();
  }

  /** Resolves with the first event of `name` that matches. */
  waitFor<T>(name: string, match: (v: T) => boolean, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(name, on);
        reject(new Error(`no matching '${name}' within ${timeoutMs} ms; the kiosk's last lines:\n${this.recent.join('\n')}`));
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
