/**
 * Watches what store-and-forward depends on: how old the oldest unsent message is (a backlog that
 * keeps ageing means the link is gone for good, or the server refuses something) and how much
 * room the journal's file system has left (a full disk stops the kiosk from taking money).
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { AlarmSink } from '../alarms/sink.js';

export interface MonitorPort {
  /** When the oldest unacknowledged message (of `kind`, if given) was written (ISO 8601), or null for none. */
  outboxOldestPendingAt(kind?: string): string | null;
}

export interface OutboxMonitorOptions {
  outbox: MonitorPort;
  /** The journal file; its file system is the one watched. */
  journalPath: string;
  alarms?: AlarmSink;
  backlogAgeMs: number;
  /**
   * A reversal unsent for longer than this is its own critical alarm: until the server has it, a
   * customer may be charged for a payment that did not happen. Absent: no such alarm.
   */
  reversalAgeMs?: number;
  diskFreeBytes: number;
  intervalMs: number;
  now?: () => number;
  /** Free bytes available to the kiosk on the file system holding `path`. */
  freeBytes?: (path: string) => Promise<number>;
  /** For what cannot be read; the alarms themselves are the sink's to report. */
  log?: Pick<Logger, 'error'>;
}

export interface MonitorReading {
  /** Age of the oldest pending message, null when the outbox is empty. */
  backlogAgeMs: number | null;
  /** Age of the oldest pending reversal, null when there is none (or no reversal limit is set). */
  reversalAgeMs: number | null;
  diskFreeBytes: number | null;
}

export const BACKLOG_ALARM = { kind: 'backlog-old', source: 'outbox' } as const;
export const DISK_ALARM = { kind: 'disk-low', source: 'journal-disk' } as const;
export const REVERSAL_ALARM = { kind: 'reversal-undelivered', source: 'outbox' } as const;

async function statfsFree(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

export class OutboxMonitor {
  private readonly o: OutboxMonitorOptions;
  private timer: NodeJS.Timeout | undefined;
  private backlogRaised = false;
  private reversalRaised = false;
  private diskRaised = false;
  private checking: Promise<MonitorReading> | undefined;

  constructor(opts: OutboxMonitorOptions) {
    this.o = opts;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
    void this.check();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** One look at both limits; raises or clears an alarm when a limit is crossed either way. */
  check(): Promise<MonitorReading> {
    this.checking ??= this.look().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async look(): Promise<MonitorReading> {
    const now = (this.o.now ?? Date.now)();
    let backlogAgeMs: number | null = null;
    try {
      const oldest = this.o.outbox.outboxOldestPendingAt();
      backlogAgeMs = oldest === null ? null : Math.max(0, now - Date.parse(oldest));
    } catch (err) {
      this.o.log?.error({ err }, 'cannot read the outbox for the backlog check');
    }
    const old = backlogAgeMs !== null && backlogAgeMs > this.o.backlogAgeMs;
    if (old !== this.backlogRaised) {
      this.backlogRaised = old;
      if (old) {
        const detail = `oldest unsent message is ${Math.round(backlogAgeMs! / 1000)} s old (limit ${Math.round(this.o.backlogAgeMs / 1000)} s)`;
        this.o.alarms?.raise({ ...BACKLOG_ALARM, severity: 'warning', detail });
      } else {
        this.o.alarms?.clear(BACKLOG_ALARM.kind, BACKLOG_ALARM.source);
      }
    }

    const reversalAgeMs = this.lookAtReversals(now);

    let diskFreeBytes: number | null = null;
    try {
      diskFreeBytes = await (this.o.freeBytes ?? statfsFree)(dirname(this.o.journalPath));
    } catch (err) {
      this.o.log?.error({ err }, 'cannot read the free space of the journal disk');
    }
    const low = diskFreeBytes !== null && diskFreeBytes < this.o.diskFreeBytes;
    if (diskFreeBytes !== null && low !== this.diskRaised) {
      this.diskRaised = low;
      if (low) {
        const detail = `${mib(diskFreeBytes)} free on the journal's disk (limit ${mib(this.o.diskFreeBytes)})`;
        this.o.alarms?.raise({ ...DISK_ALARM, severity: 'critical', detail });
      } else {
        this.o.alarms?.clear(DISK_ALARM.kind, DISK_ALARM.source);
      }
    }
    return { backlogAgeMs, reversalAgeMs, diskFreeBytes };
  }

  private lookAtReversals(now: number): number | null {
    const limit = this.o.reversalAgeMs;
    if (limit === undefined) return null;
    let age: number | null = null;
    try {
      const oldest = this.o.outbox.outboxOldestPendingAt('reversal');
      age = oldest === null ? null : Math.max(0, now - Date.parse(oldest));
    } catch (err) {
      this.o.log?.error({ err }, 'cannot read the outbox for the reversal check');
      return null;
    }
    const late = age !== null && age > limit;
    if (late !== this.reversalRaised) {
      this.reversalRaised = late;
      if (late) {
        const detail = `a card reversal has not reached the server for ${Math.round(age! / 1000)} s (limit ${Math.round(limit / 1000)} s): a customer may be charged until it does`;
        this.o.alarms?.raise({ ...REVERSAL_ALARM, severity: 'critical', detail });
      } else {
        this.o.alarms?.clear(REVERSAL_ALARM.kind, REVERSAL_ALARM.source);
      }
    }
    return age;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
