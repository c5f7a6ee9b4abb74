import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { EventType, Journal } from '../journal/index.js';

/** The parts of the runtime's status a heartbeat reports; the rest of it is not the server's business. */
const statusView = z.object({
  terminal: z.object({
    state: z.string(),
    reason: z.string().nullable().optional(),
    services: z.array(z.string()).optional(),
  }),
  devices: z.record(z.string(), z.object({ health: z.string(), code: z.string().optional(), detail: z.string().optional() })),
  outbox: z.object({ pending: z.number(), oldestPendingAt: z.string().nullable().optional() }).optional(),
  /** The software update's view (src/update/): running release, trial, a download under way. */
  update: z.record(z.string(), z.unknown()).optional(),
});

export interface Heartbeat {
  at: string;
  terminalId: string;
  version: string;
  uptimeS: number;
  state: string;
  reason: string | null;
  services: string[];
  devices: Record<string, { health: string; code: string | null; detail: string | null }>;
  outbox: { pending: number; oldestPendingAt: string | null } | null;
  activeAlarms: number;
  /** Present on a kiosk with updates: the running release, its trial, the progress of an update. */
  update?: Record<string, unknown>;
}

export function heartbeat(status: Record<string, unknown>, extra: { terminalId: string; version: string; uptimeS: number; activeAlarms: number; at: Date }): Heartbeat {
  const s = statusView.parse(status);
  return {
    at: extra.at.toISOString(),
    terminalId: extra.terminalId,
    version: extra.version,
    uptimeS: extra.uptimeS,
    state: s.terminal.state,
    reason: s.terminal.reason ?? null,
    services: s.terminal.services ?? [],
    devices: Object.fromEntries(Object.entries(s.devices).map(([name, d]) => [name, { health: d.health, code: d.code ?? null, detail: d.detail ?? null }])),
    outbox: s.outbox ? { pending: s.outbox.pending, oldestPendingAt: s.outbox.oldestPendingAt ?? null } : null,
    activeAlarms: extra.activeAlarms,
    ...(s.update ? { update: s.update } : {}),
  };
}

export interface Counters {
  at: string;
  /** Notes in the cash box since the last collection, by currency and face value (fen). */
  cashbox: { currency: string; value: number; count: number }[];
  coinbox: { currency: string; value: number; count: number }[];
  /** Estimated coins in each hopper. */
  hoppers: { name: string; coinValue: number; level: number }[];
  lastCollection: { at: string; by: string; ok: boolean; expectedTotal: number; countedTotal: number } | null;
}

/** Events after which the counters go out at once rather than at the next countersMs. */
const COUNTER_EVENTS = ['cashbox.collected', 'hopper.level', 'hopper.refill'] as const satisfies readonly EventType[];

export function counters(journal: Journal, at: Date): Counters {
  const last = journal.lastEventOfType('cashbox.collected');
  const lastCollection: Counters['lastCollection'] = last
    ? { at: last.at, by: last.data.by, ok: last.data.ok, expectedTotal: last.data.expectedTotal, countedTotal: last.data.countedTotal }
    : null;
  return {
    at: at.toISOString(),
    cashbox: journal.cashbox().filter((c) => c.count > 0),
    coinbox: journal.coinbox().filter((c) => c.count > 0),
    hoppers: journal.hopperLevels(),
    lastCollection,
  };
}

/** The newest event that changes what a technician counted or filled; 0 when there is none. */
export function countersMark(journal: Journal): number {
  const marks = COUNTER_EVENTS.map((type) => journal.lastEventOfType(type)?.seq ?? 0);
  return Math.max(...marks);
}

let cachedVersion: string | undefined;

/** This program's version from its package.json, found from here whether run from source or dist/. */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kiosk' && pkg.version) return (cachedVersion = pkg.version);
    }
    const up = dirname(dir);
    if (up === dir) return (cachedVersion = 'unknown');
    dir = up;
  }
}
