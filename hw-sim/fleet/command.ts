/**
 * `kiosk-sim fleet`: runs a fleet (fleet.ts) in a fresh folder and prints its report; exit 1 when
 * anything was lost or stored twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFaults } from './faults.js';
import { runFleet, type FleetOptions, type FleetReport } from './fleet.js';

export interface FleetCommandOptions {
  kiosks: string;
  duration: string;
  heartbeat: string;
  faults?: string;
  alarmMean: string;
  commandsPerS?: string;
  pki: string;
  keep?: boolean;
  json?: boolean;
}

function positive(name: string, text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number, not '${text}'`);
  return v;
}

const mb = (b: number) => (b / 1e6).toFixed(1);
const kb = (b: number) => (b / 1e3).toFixed(1);
const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'none');

export function formatFleetReport(r: FleetReport): string[] {
  const expectedIn = r.kiosks / r.heartbeatS;
  const lines = [
    `fleet of ${r.kiosks} kiosks, heartbeat ${r.heartbeatS} s, ${r.durationS} s: ${r.ok ? 'no alarm or acknowledgement lost or stored twice' : 'FAILED: see lost / stored twice'}`,
    `  set-up           certificates ${ms(r.setup.certsMs)}, all connected in ${ms(r.setup.connectMs)}`,
    `  connected        ${r.connected.atEnd} at the end; ${r.connected.minSteady}–${r.connected.maxSteady} during the run`,
    `  messages         in ${r.rates.inPerS.toFixed(1)}/s (heartbeats alone: ${expectedIn.toFixed(1)}/s), out ${r.rates.outPerS.toFixed(1)}/s`,
    `  commands         ${r.commands.sent} sent, ${r.commands.acked} acknowledged; round trip p50 ${ms(r.commands.p50Ms)}, p99 ${ms(r.commands.p99Ms)}, max ${ms(r.commands.maxMs)}`,
    `  memory           ${kb(r.memory.bytesPerKiosk)} kB per simulated kiosk (RSS ${mb(r.memory.rssBeforeBytes)} MB → ${mb(r.memory.rssWithKiosksBytes)} MB)` +
      (r.memory.brokerBytesPerKiosk !== null ? `; broker ${kb(r.memory.brokerBytesPerKiosk)} kB per kiosk (RSS ${mb(r.memory.brokerRssBytes ?? 0)} MB)` : ''),
    `  lost (by id)     alarms ${r.lost.alarms} of ${r.sent.alarms}, command acknowledgements ${r.lost.commandAcks} of ${r.commands.sent}`,
    `  stored twice     alarms ${r.duplicated.alarmRows}`,
    `  reports (no id)  heartbeats ${r.reports.lost.heartbeats} of ${r.sent.heartbeats} not counted, ${r.reports.twice.heartbeats} counted twice; counters ${r.reports.lost.counters} of ${r.sent.counters} not counted, ${r.reports.twice.counters} twice`,
    `  consumers        ${r.consumerRefused.count} messages refused${r.consumerRefused.examples.length ? `: ${r.consumerRefused.examples[0]}` : ''}`,
    `  cpu (cores)      broker ${r.cpu.broker.toFixed(2)}, consumers ${r.cpu.consumers.toFixed(2)}, simulated kiosks ${r.cpu.kiosks.toFixed(2)}`,
    `  broker dropped   ${Object.keys(r.brokerDropped).length === 0 ? 'nothing' : Object.entries(r.brokerDropped).map(([c, n]) => `${c} (${n}×)`).join(', ')} (queue full: max_queued_messages)`,
    `  absorbed by id   ${r.absorbed.alarmResends} alarm resends, ${r.absorbed.commandAcksAgain} repeated acknowledgements, ${r.absorbed.commandRedeliveries} command redeliveries (run once each)`,
    `  drain            ${ms(r.drainMs)} after the end until everything outstanding was stored`,
  ];
  for (const f of r.faults) lines.push(`  fault            ${f.fault} at ${f.atS.toFixed(0)} s: ${f.detail}`);
  for (const e of [...r.lost.examples, ...r.reports.examples]) lines.push(`  example          ${e}`);
  return lines;
}

/** Exit 0: nothing with an id lost or stored twice; 1: something was; 2: bad options (nothing run). */
export async function fleetCommand(opts: FleetCommandOptions): Promise<number> {
  let parsed: Omit<FleetOptions, 'dir' | 'progress'>;
  try {
    const kiosks = positive('kiosks', opts.kiosks);
    if (!Number.isInteger(kiosks)) throw new Error('--kiosks must be a whole number');
    parsed = {
      kiosks,
      durationS: positive('duration', opts.duration),
      heartbeatS: positive('heartbeat', opts.heartbeat),
      faults: parseFaults(opts.faults),
      alarmMeanS: positive('alarm-mean', opts.alarmMean),
      ...(opts.commandsPerS !== undefined ? { commandsPerS: positive('commands-per-s', opts.commandsPerS) } : {}),
      pkiDir: opts.pki,
    };
  } catch (e) {
    console.error(`kiosk-sim fleet: ${(e as Error).message}`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-fleet-'));
  try {
    const report = await runFleet({ ...parsed, dir, progress: (line) => process.stderr.write(`${line}\n`) });
    if (opts.json) console.log(JSON.stringify(report));
    else for (const line of formatFleetReport(report)) console.log(line);
    return report.ok ? 0 : 1;
  } finally {
    if (opts.keep) process.stderr.write(`run folder kept: ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
