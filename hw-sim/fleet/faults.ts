/**
 * The fleet's faults, spread over the steady phase so each one's effect has settled before the
 * next: the broker stopped and started again (its persistence keeps the sessions), one of the two
 * consumers killed (SIGKILL) and started again later, and 10 % of the kiosks losing their network
 * for a while (cut without DISCONNECT, so the broker publishes their last will) and coming back.
 */
import type { Mosquitto } from '../broker/mosquitto.js';
import type { CentralSide } from './central.js';
import type { SimKiosk } from './sim-kiosk.js';

export const FLEET_FAULTS = ['broker-restart', 'consumer-kill', 'kiosk-drop'] as const;
export type FleetFault = (typeof FLEET_FAULTS)[number];

export interface FleetFaultRecord {
  fault: FleetFault;
  atS: number;
  detail: string;
}

export function parseFaults(text: string | undefined): FleetFault[] {
  if (text === undefined || text === '' || text === 'none') return [];
  if (text === 'all') return [...FLEET_FAULTS];
  const asked = text.split(',').map((s) => s.trim());
  const bad = asked.filter((f) => !(FLEET_FAULTS as readonly string[]).includes(f));
  if (bad.length > 0) throw new Error(`unknown fault ${bad.join(', ')} (there are: ${FLEET_FAULTS.join(', ')}, or all)`);
  return asked as FleetFault[];
}

/** Seconds into the steady phase for each fault: evenly spaced, none in the first or last stretch. */
export function faultPlan(faults: readonly FleetFault[], durationS: number): { fault: FleetFault; atS: number }[] {
  return faults.map((fault, i) => ({ fault, atS: (durationS * (i + 1)) / (faults.length + 1.5) }));
}

/** How long a consumer or a dropped kiosk stays away: a tenth of the run, between 2 and 15 s. */
export function downSeconds(durationS: number): number {
  return Math.min(15, Math.max(2, durationS / 10));
}

export interface FaultTargets {
  broker: Mosquitto;
  central: CentralSide;
  kiosks: readonly SimKiosk[];
  durationS: number;
}

/**
 * Injects one fault. What comes back later (the killed consumer) is started in the background;
 * its promise goes into `pending`, which the run awaits before it checks anything.
 */
export async function inject(fault: FleetFault, t: FaultTargets, pending: Promise<unknown>[]): Promise<string> {
  const downS = downSeconds(t.durationS);
  switch (fault) {
    case 'broker-restart': {
      const began = Date.now();
      await t.broker.restart({ downMs: 2000 });
      return `broker stopped (SIGTERM, persistence saved), down 2 s, back after ${Date.now() - began} ms`;
    }
    case 'consumer-kill': {
      await t.central.kill(0);
      pending.push(new Promise((r) => setTimeout(r, downS * 1000)).then(() => t.central.restart(0)));
      return `consumer 1 of 2 killed (SIGKILL), started again after ${downS} s`;
    }
    case 'kiosk-drop': {
      const count = Math.max(1, Math.round(t.kiosks.length / 10));
      const chosen = [...t.kiosks].sort(() => Math.random() - 0.5).slice(0, count);
      for (const k of chosen) k.dropFor(downS * 1000);
      return `${count} kiosks cut off (no DISCONNECT) for ${downS} s, reconnecting with their sessions`;
    }
  }
}
