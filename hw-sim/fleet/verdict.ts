/**
 * The fleet's loss and duplicate checks: every alarm id a kiosk raised must be stored once by the
 * central side and every command sent must have its acknowledgement stored, compared id by id,
 * not as totals. Heartbeats and counters carry no id: they are reports (docs/management-mqtt.md),
 * QoS 1 with the broker's PUBACK as their only delivery check, a lost one replaced by the next.
 * Their losses and double counts are measured and reported per terminal, but the verdict is on
 * what has an id.
 */
import type { SimKiosk } from './sim-kiosk.js';
import type { Stored } from './stored.js';

export interface Expected {
  /** `terminal/alarm id` of every alarm raised. */
  alarms: string[];
  /** Command ids the run sent, with when it asked for each. */
  commands: Map<string, number>;
  heartbeats: Map<string, number>;
  counters: Map<string, number>;
}

export function expectation(kiosks: readonly SimKiosk[], commands: Map<string, number>): Expected {
  return {
    alarms: kiosks.flatMap((k) => k.alarmIds.map((id) => `${k.terminalId}/${id}`)),
    commands,
    heartbeats: new Map(kiosks.map((k) => [k.terminalId, k.heartbeatsSent])),
    counters: new Map(kiosks.map((k) => [k.terminalId, k.countersSent])),
  };
}

export interface Verdict {
  lost: { alarms: number; commandAcks: number; examples: string[] };
  duplicated: { alarmRows: number };
  /** Reports (no id): missing from the central side's counts, or counted more often than sent (QoS 1 redelivery). */
  reports: { lost: { heartbeats: number; counters: number }; twice: { heartbeats: number; counters: number }; examples: string[] };
  /** Resends recognised by id and counted, not stored: the mechanism at work, not a defect. */
  absorbed: { alarmResends: number; commandAcksAgain: number; commandSends: number };
  /** Command round trips in ms: asked to send → acknowledgement stored. */
  roundTrips: number[];
}

export function verdict(expected: Expected, stored: Stored): Verdict {
  const examples: string[] = [];
  const note = (s: string) => examples.length < 10 && examples.push(s);
  const reportExamples: string[] = [];
  let alarmsLost = 0;
  let alarmRows = 0;
  let alarmResends = 0;
  for (const key of expected.alarms) {
    const s = stored.alarms.get(key);
    if (!s) {
      alarmsLost += 1;
      note(`alarm ${key} not stored`);
    } else {
      if (s.rows > 1) alarmRows += s.rows - 1;
      alarmResends += s.duplicates;
    }
  }
  let acksLost = 0;
  let acksAgain = 0;
  let sends = 0;
  const roundTrips: number[] = [];
  for (const [id, askedAt] of expected.commands) {
    const s = stored.commands.get(id);
    if (!s || s.ackedAtMs === null) {
      acksLost += 1;
      note(`command ${id} ${s ? `to ${s.terminalId} not acknowledged (sent ${s.sent}×)` : 'not in the store'}`);
      continue;
    }
    acksAgain += Math.max(0, s.acks - 1);
    sends += s.sent;
    roundTrips.push(Math.max(0, s.ackedAtMs - askedAt));
  }
  const reports = (what: string, sent: Map<string, number>, got: Map<string, number>) => {
    let lost = 0;
    let extra = 0;
    for (const [terminal, n] of sent) {
      const m = got.get(terminal) ?? 0;
      if (m < n) {
        lost += n - m;
        if (reportExamples.length < 5) reportExamples.push(`${what} of ${terminal}: ${n} sent, ${m} counted`);
      } else extra += m - n;
    }
    return { lost, extra };
  };
  const hb = reports('heartbeats', expected.heartbeats, stored.heartbeats);
  const ct = reports('counters', expected.counters, stored.counters);
  return {
    lost: { alarms: alarmsLost, commandAcks: acksLost, examples },
    duplicated: { alarmRows },
    reports: { lost: { heartbeats: hb.lost, counters: ct.lost }, twice: { heartbeats: hb.extra, counters: ct.extra }, examples: reportExamples },
    absorbed: { alarmResends, commandAcksAgain: acksAgain, commandSends: sends },
    roundTrips,
  };
}

/** True when nothing with an id was lost or stored twice. */
export function clean(v: Verdict): boolean {
  return v.lost.alarms + v.lost.commandAcks + v.duplicated.alarmRows === 0;
}

/** True when every report sent was counted at least once. */
export function reportsComplete(v: Verdict): boolean {
  return v.reports.lost.heartbeats + v.reports.lost.counters === 0;
}
