/**
 * Where any part of the runtime reports a condition the operator's management side must hear
 * about. The management link implements it (journal, log, deliver when the link is up); parts that
 * raise alarms depend only on this interface, so they can be tested with a recording sink.
 */
export type AlarmSeverity = 'warning' | 'critical';

export interface Alarm {
  /** What kind of condition, e.g. 'device-fault', 'stacker-removed', 'backlog-old', 'disk-low', 'server-certificate'. */
  kind: string;
  /** Which part it concerns, e.g. 'validator', 'hopper:h100', 'outbox', 'business-link'. */
  source: string;
  severity: AlarmSeverity;
  /** One line for the operator; never secrets, card data or certificate keys. */
  detail: string;
}

export interface AlarmSink {
  /** Raising an alarm that is already active for the same kind and source only updates its detail. */
  raise(alarm: Alarm): void;
  /** The condition is over; a no-op when no such alarm is active. */
  clear(kind: string, source: string): void;
}
