/**
 * The topics and payloads of a simulated kiosk: those of a real kiosk's MQTT management link
 * (docs/management-mqtt.md, topics from src/management/mqtt-topics.ts), with the heartbeat and
 * counters holding only what a kiosk without devices can say.
 */
import { topic } from '../../src/management/mqtt-topics.js';

export interface FleetTopics {
  state: string;
  heartbeat: string;
  counters: string;
  alarm: string;
  cmdAck: string;
  cmd: string;
  receipt: string;
}

export function fleetTopics(terminalId: string): FleetTopics {
  return {
    state: topic(terminalId, 'state'),
    heartbeat: topic(terminalId, 'heartbeat'),
    counters: topic(terminalId, 'counters'),
    alarm: topic(terminalId, 'alarm'),
    cmdAck: topic(terminalId, 'cmd-ack'),
    cmd: topic(terminalId, 'cmd'),
    receipt: topic(terminalId, 'receipt'),
  };
}

/** As a real kiosk asks by default (management.mqtt.sessionExpiryS). */
export const SESSION_EXPIRY_S = 7 * 86_400;
/** An alarm batch holds at most this many, as on a real kiosk. */
export const ALARMS_PER_MESSAGE = 50;

const now = (): string => new Date().toISOString();

export const statePayload = (online: boolean): string =>
  JSON.stringify(online ? { online: true, state: 'inService', version: 'fleet-sim', at: now() } : { online: false, state: 'offline' });

export const heartbeatPayload = (terminalId: string, uptimeS: number): string =>
  JSON.stringify({ at: now(), terminalId, version: 'fleet-sim', uptimeS, state: 'inService', reason: null, services: ['cash'], devices: {}, outbox: null, activeAlarms: 0 });

export const countersPayload = (): string => JSON.stringify({ at: now(), cashbox: [], coinbox: [], hoppers: [], lastCollection: null });

export interface FleetAlarm {
  id: string;
  action: 'raise';
  kind: string;
  source: string;
  severity: string;
  detail: string;
  at: string;
}

export const newAlarm = (id: string): FleetAlarm => ({ id, action: 'raise', kind: 'fleet-sim', source: 'simulator', severity: 'warning', detail: 'a random alarm of the fleet simulator', at: now() });

export const alarmPayload = (alarms: readonly FleetAlarm[]): string => JSON.stringify({ alarms });

export const ackPayload = (commandId: string): string => JSON.stringify({ id: commandId, ok: true, result: { ran: 'fleet-sim' } });

function json(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function parseCommand(payload: Buffer): { id: string } | undefined {
  const v = json(payload);
  return typeof v?.id === 'string' && v.id.length > 0 ? { id: v.id } : undefined;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

export function parseReceipt(payload: Buffer): { alarms: string[]; cmdAcks: string[] } {
  const v = json(payload);
  return { alarms: strings(v?.alarms), cmdAcks: strings(v?.cmdAcks) };
}
