import type { FleetEnvironment } from '../../hw-sim/fleet/fleet.js';
export interface RealKioskFigures { sent: number; acked: number; lost: number; p50Ms: number; p99Ms: number }
export async function realKioskInFleet(_env: FleetEnvironment, _o: { dir: string; commands: number; progress: (l: string) => void }): Promise<RealKioskFigures | undefined> {
  return undefined;
}
