/**
 * The fleet's loss and duplicate checks: every alarm id a kiosk raised must be stored once by the
 * central side, every command sent must have its acknowledgement stored, every heartbeat and
 * counters report sent must be counted. Ids are compared one by one, not totals. Heartbeats and
 * counters carry no id (docs/management-mqtt.md: reports, QoS 1, at least once): one counted twice
 * after a fault is reported, not a failure; one missing is a loss.
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
  lost: { alarms: number; commandAcks: number; heartbeats: number; counters: number; examples: string[] };
  duplicated: { alarmRows: number };
  /** Reports (no id) counted more often than sent: QoS 1 redelivery after a fault. */
  reportsTwice: { heartbeats: number; counters: number };
  /** Resends recognised by id and counted, not stored: the mechanism at work, not a defect. */
  absorbed: { alarmResends: number; commandAcksAgain: number; commandSends: number };
  /** Command round trips in ms: asked to send → acknowledgement stored. */
  roundTrips: number[];
}

export function verdict(expected: Expected, stored: Stored): Verdict {
  const examples: string[] = [];
  const note = (s: string) => examples.length < 10 && examples.push(s);
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
        note(`${what} of ${terminal}: ${n} sent, ${m} stored`);
      } else extra += m - n;
    }
    return { lost, extra };
  };
  const hb = reports('heartbeats', expected.heartbeats, stored.heartbeats);
  const ct = reports('counters', expected.counters, stored.counters);
  return {
    lost: { alarms: alarmsLost, commandAcks: acksLost, heartbeats: hb.lost, counters: ct.lost, examples },
    duplicated: { alarmRows },
    reportsTwice: { heartbeats: hb.extra, counters: ct.extra },
    absorbed: { alarmResends, commandAcksAgain: acksAgain, commandSends: sends },
    roundTrips,
  };
}

/** True when nothing was lost and nothing with an id stored twice. */
export function clean(v: Verdict): boolean {
  const { lost, duplicated } = v;
  return lost.alarms + lost.commandAcks + lost.heartbeats + lost.counters + duplicated.alarmRows === 0;
}
