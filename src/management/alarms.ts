import { v7 as uuidv7 } from 'uuid';
import type { DeviceStatus } from '../../drivers/types.js';
import type { AlarmMessage, ManagementStore } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { Alarm, AlarmSeverity, AlarmSink } from '../alarms/sink.js';

export type { AlarmMessage };

export interface ActiveAlarm extends Alarm {
  raisedAt: string;
}

const SEVERITIES: readonly AlarmSeverity[] = ['warning', 'critical'];
/** Long enough for any one-line detail; a runaway string is cut rather than stored whole. */
const MAX_DETAIL = 500;

/**
 * The runtime's AlarmSink. A raise or clear is journalled (a row of its own, the message the
 * management server will get, and a chained event, in one SQLite transaction), logged once, and
 * waits in the journal until the management link has delivered it, across restarts. A raise of an
 * alarm already active with the same severity only updates its detail: nothing is logged or sent
 * again, so a condition reported on every poll does not flood the log or the server.
 */
export class AlarmBook implements AlarmSink {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly journal: { readonly management: ManagementStore },
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  raise(alarm: Alarm): void {
    const message = this.journal.management.raiseAlarm(cleanAlarm(alarm), () => this.stamp());
    if (!message) return;
    const level = message.severity === 'critical' ? 'error' : 'warn';
    this.log[level]({ alarm: message.kind, source: message.source, severity: message.severity, id: message.id }, `alarm raised: ${message.kind} (${message.source}): ${message.detail}`);
    this.queued();
  }

  clear(kind: string, source: string): void {
    const message = this.journal.management.clearAlarm(kind, source, () => this.stamp());
    if (!message) return;
    this.log.info({ alarm: kind, source, id: message.id }, `alarm cleared: ${kind} (${source})`);
    this.queued();
  }

  active(): ActiveAlarm[] {
    return this.journal.management.activeAlarms();
  }

  /** Messages the management server has not acknowledged yet, oldest first. */
  undelivered(limit: number): AlarmMessage[] {
    return this.journal.management.undeliveredAlarms(limit);
  }

  /** The server holds these; an id that is unknown or already delivered changes nothing. */
  delivered(ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.journal.management.alarmsDelivered(ids, this.now().toISOString());
  }

  /** `fn` runs after each new message, so the link can deliver it without waiting for its next tick. */
  onQueued(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private stamp(): { id: string; at: string } {
    return { id: uuidv7(), at: this.now().toISOString() };
  }

  private queued(): void {
    for (const fn of this.listeners) fn();
  }
}

/**
 * Alarms that follow a device's health: the cash box taken out of the validator, and any fitted
 * device at fault or offline. A healthy (or merely degraded) status clears them. Without the
 * validator no cash is taken, so its alarms are critical; the others narrow what is offered.
 * A device the kiosk closed itself (a stop) is not a fault, and leaves its alarms as they were.
 */
export function deviceAlarms(sink: AlarmSink, device: string, s: DeviceStatus): void {
  if (s.code === 'closed') return;
  const severity: AlarmSeverity = device === 'validator' ? 'critical' : 'warning';
  const down = s.health === 'fault' || s.health === 'offline';
  if (s.code === 'stacker-open') sink.raise({ kind: 'stacker-removed', source: device, severity: 'critical', detail: s.detail });
  else sink.clear('stacker-removed', device);
  if (down && s.code !== 'stacker-open') sink.raise({ kind: 'device-fault', source: device, severity, detail: `${s.health}: ${s.code}: ${s.detail}` });
  else sink.clear('device-fault', device);
}

function cleanAlarm(a: Alarm): Alarm {
  const text = (what: string, v: unknown): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new Error(`alarm ${what} must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  if (!SEVERITIES.includes(a.severity)) throw new Error(`alarm severity must be ${SEVERITIES.join(' or ')}, got ${JSON.stringify(a.severity)}`);
  const detail = typeof a.detail === 'string' ? a.detail.replace(/\s+/g, ' ').trim().slice(0, MAX_DETAIL) : '';
  return { kind: text('kind', a.kind), source: text('source', a.source), severity: a.severity, detail };
}
