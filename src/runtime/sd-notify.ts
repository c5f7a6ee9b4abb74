import { execFile } from 'node:child_process';

/**
 * systemd's readiness and watchdog notifications. Node cannot send unix datagrams itself, so this
 * runs `systemd-notify` (the unit sets NotifyAccess=all so messages from the child are accepted).
 * Outside systemd (no NOTIFY_SOCKET) every call does nothing.
 */
export class SystemdNotifier {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  get enabled(): boolean {
    return Boolean(this.env.NOTIFY_SOCKET);
  }

  ready(status: string): void {
    this.send(['--ready', `--status=${status}`]);
  }

  status(status: string): void {
    this.send([`--status=${status}`]);
  }

  /** Pings the watchdog at half the interval systemd asked for, while `healthy()` says so. */
  startWatchdog(healthy: () => boolean): void {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0) return;
    const every = Math.max(1000, Math.floor(usec / 2000));
    this.timer = setInterval(() => {
      if (healthy()) this.send(['WATCHDOG=1']);
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    // systemd-notify 252 (Debian 12) has no --stopping option; the variable works everywhere.
    this.send(['STOPPING=1']);
  }

  private send(args: string[]): void {
    if (!this.enabled) return;
    execFile('systemd-notify', [`--pid=${process.pid}`, ...args], { env: this.env }, () => undefined);
  }
}
