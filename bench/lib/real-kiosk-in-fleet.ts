/**
 * One real kiosk in the fleet: the runtime (dist/hw-sim/runtime-entry.js) on the simulated stack,
 * its management link on MQTT to the fleet's broker, with the terminal id of the fleet PKI's own
 * kiosk certificate. Remote commands go to it one at a time from the fleet's consumers; the round
 * trip is from asking a consumer to send it to the acknowledgement stored in their database.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { FleetEnvironment } from '../../hw-sim/fleet/fleet.js';
import { quantile } from '../../hw-sim/fleet/metrics.js';
import { startInService } from '../../hw-sim/soak/customer.js';
import { SimStack } from '../../hw-sim/stack.js';

/** The common name `runFleet` gives the kiosk certificate of its PKI (createDevPki's terminal id). */
export const REAL_KIOSK_ID = 'FLEET-DEV';

export interface RealKioskFigures {
  sent: number;
  acked: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Size of the real kiosk's last heartbeat as stored (the JSON body), for the scaling page's arithmetic. */
  heartbeatBytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `dir` must be the folder whose pki/ the fleet used (the stack's PKI is `<dir>/pki`), so the
 * business link and the broker trust the same CA.
 */
export async function realKioskInFleet(env: FleetEnvironment, o: { dir: string; commands: number; progress: (l: string) => void }): Promise<RealKioskFigures> {
  if (env.pkiDir !== join(o.dir, 'pki')) throw new Error(`the real kiosk needs the fleet's PKI: run the fleet with pkiDir ${join(o.dir, 'pki')}`);
  const stack = new SimStack({
    dir: o.dir,
    config: {
      terminalId: REAL_KIOSK_ID,
      management: { transport: 'mqtt', host: '127.0.0.1', serverName: 'localhost', port: env.broker.port, heartbeatMs: 5000, countersMs: 60_000, timeoutMs: 5000 },
    },
  });
  const db = new Database(env.central.dbPath, { readonly: true });
  db.pragma('busy_timeout = 5000');
  const ackedAt = db.prepare('SELECT acked_at FROM mgmt_commands WHERE id = ?').pluck();
  const rtts: number[] = [];
  let sent = 0;
  let heartbeatBytes = 0;
  try {
    await stack.start();
    await startInService(stack);
    const heartbeat = db.prepare('SELECT count FROM mgmt_heartbeats WHERE terminal_id = ?').pluck();
    for (const until = Date.now() + 60_000; !heartbeat.get(REAL_KIOSK_ID) && Date.now() < until; ) await sleep(200);
    o.progress('fleet: the real kiosk is in service and heard through the broker');
    for (let i = 0; i < o.commands; i++) {
      const askedAt = Date.now();
      const id = await env.central.sendCommand(REAL_KIOSK_ID);
      sent += 1;
      let at: string | null | undefined;
      for (const until = askedAt + 30_000; !(at = ackedAt.get(id) as string | null | undefined) && Date.now() < until; ) await sleep(20);
      if (at) rtts.push(Date.parse(at) - askedAt);
      else o.progress(`fleet: the real kiosk's command ${id} was not acknowledged within 30 s`);
      await sleep(1000);
    }
    heartbeatBytes = Number(db.prepare('SELECT length(body) FROM mgmt_heartbeats WHERE terminal_id = ?').pluck().get(REAL_KIOSK_ID) ?? 0);
  } finally {
    db.close();
    await stack.stop();
  }
  return { sent, acked: rtts.length, lost: sent - rtts.length, p50Ms: quantile(rtts, 0.5), p99Ms: quantile(rtts, 0.99), maxMs: rtts.length ? Math.max(...rtts) : Number.NaN, heartbeatBytes };
}
