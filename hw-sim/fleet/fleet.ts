/**
 * The fleet run: a real Mosquitto (hw-sim/broker/), the reference management service as two
 * consumers on a shared subscription, and N light simulated kiosks in this process. It measures
 * the kiosks connected, messages per second each way, the command round trip and the memory per
 * kiosk, injects the faults asked for, and then checks against what the consumers stored that no
 * alarm, acknowledgement, heartbeat or counters report was lost or stored twice.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mosquitto } from '../broker/mosquitto.js';
import { createDevPki } from '../pki/dev-pki.js';
import { startCentral, type CentralSide } from './central.js';
import { fleetCertificates, fleetTerminalId } from './certs.js';
import { faultPlan, inject, type FleetFault, type FleetFaultRecord } from './faults.js';
import { cpuSecondsOf, droppedFor, Meter, pidWith, quantile, rssOf, settledRss, type RateSample } from './metrics.js';
import { SimKiosk } from './sim-kiosk.js';
import { readStored } from './stored.js';
import { clean, expectation, reportsComplete, verdict, type Verdict } from './verdict.js';

export interface FleetOptions {
  kiosks: number;
  /** Seconds of the steady phase (after every kiosk has connected). */
  durationS: number;
  heartbeatS: number;
  faults: readonly FleetFault[];
  /** Run folder: broker files, the consumers' database, the PKI unless `pkiDir`. */
  dir: string;
  /** Where the development PKI and the kiosks' certificates are kept between runs (default dir/pki). */
  pkiDir?: string;
  /** Mean seconds between two alarms of one kiosk (default 300). */
  alarmMeanS?: number;
  /** Remote commands per second to the whole fleet (default kiosks / 100). */
  commandsPerS?: number;
  /** Counters every this many heartbeats (default 12: once a minute at 5 s). */
  countersEvery?: number;
  /** Seconds allowed after the run for everything outstanding to be stored (default 60). */
  drainS?: number;
  progress?: (line: string) => void;
  /** Something else to run on the same broker and consumers during the steady phase (the bench's real kiosk); awaited before the checks. */
  alongside?: (env: FleetEnvironment) => Promise<void>;
}

export interface FleetEnvironment {
  broker: Mosquitto;
  pkiDir: string;
  central: CentralSide;
}

export interface FleetReport {
  kiosks: number;
  heartbeatS: number;
  durationS: number;
  connected: { atEnd: number; minSteady: number; maxSteady: number };
  setup: { certsMs: number; connectMs: number };
  rates: { inPerS: number; outPerS: number; samples: RateSample[] };
  commands: { sent: number; acked: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** What the kiosks sent that the central side must hold, each counted once. */
  sent: { alarms: number; heartbeats: number; counters: number };
  memory: { rssBeforeBytes: number; rssWithKiosksBytes: number; bytesPerKiosk: number; brokerBytesPerKiosk: number | null; brokerRssBytes: number | null };
  lost: Verdict['lost'];
  duplicated: Verdict['duplicated'];
  reports: Verdict['reports'];
  /** Messages a consumer could not store and dropped (its log's 'message refused'). */
  consumerRefused: { count: number; examples: string[] };
  /** CPU seconds per second of the steady phase: the broker, the consumers together, this process (the kiosks). */
  cpu: { broker: number; consumers: number; kiosks: number };
  /** Clients the broker dropped queued messages for (Mosquitto's max_queued_messages reached), by client id: log lines. */
  brokerDropped: Record<string, number>;
  absorbed: Verdict['absorbed'] & { commandRedeliveries: number; kioskResends: number };
  faults: FleetFaultRecord[];
  drainMs: number;
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects kiosks a batch at a time: 2,000 TLS handshakes at once would only time each other out. */
async function connectAll(kiosks: SimKiosk[], batch: number, progress: (l: string) => void): Promise<void> {
  for (let i = 0; i < kiosks.length; i += batch) {
    await Promise.all(kiosks.slice(i, i + batch).map((k) => k.start()));
    if ((i / batch) % 10 === 9) progress(`fleet: ${Math.min(i + batch, kiosks.length)} kiosks connected`);
  }
}

/**
 * Waits until every alarm raised and every command sent is stored as acknowledged, the kiosks
 * still beating (a heartbeat carries the resends and makes the central side send again what is
 * unacknowledged); then stops the heartbeats and waits for the last ones to be counted.
 */
async function drain(kiosks: readonly SimKiosk[], central: CentralSide, commands: Map<string, number>, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  for (const k of kiosks) k.stopAlarms();
  const done = () => {
    const v = verdict(expectation(kiosks, commands), readStored(central.dbPath));
    return v.lost.alarms + v.lost.commandAcks === 0;
  };
  while (!done() && Date.now() < until) await sleep(1000);
  for (const k of kiosks) k.quiet();
  // The last reports are in flight for a moment; one the broker dropped never comes, so not long.
  const reportsUntil = Math.min(until, Date.now() + 10_000);
  await sleep(1000);
  while (!reportsComplete(verdict(expectation(kiosks, commands), readStored(central.dbPath))) && Date.now() < reportsUntil) await sleep(1000);
}

export async function runFleet(opts: FleetOptions): Promise<FleetReport> {
  const progress = opts.progress ?? (() => undefined);
  const n = opts.kiosks;
  if (!Number.isInteger(n) || n < 1) throw new Error('the fleet needs a whole number of kiosks, at least 1');
  mkdirSync(opts.dir, { recursive: true });
  const pkiDir = opts.pkiDir ?? join(opts.dir, 'pki');
  const { files: pki } = await createDevPki(pkiDir, { terminalId: 'FLEET-DEV' });
  const rssBefore = await settledRss();

  let t = Date.now();
  const certs = await fleetCertificates(
    pkiDir,
    Array.from({ length: n }, (_, i) => fleetTerminalId(i)),
  );
  const certsMs = Date.now() - t;
  progress(`fleet: ${n} kiosk certificates ready in ${certsMs} ms`);

  // As in production: the kiosks' listener forces the client id to the certificate's name, the consumers have their own.
  const broker = await Mosquitto.start({ dir: join(opts.dir, 'broker'), tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey }, centralListener: true });
  const brokerRss = () => {
    const pid = pidWith(broker.confFile);
    return pid === undefined ? null : rssOf(pid);
  };
  const brokerRss0 = brokerRss();
  let central: CentralSide | undefined;
  const meter = new Meter();
  const caPem = readFileSync(pki.ca, 'utf8');
  const kiosks = certs.map(
    (c) =>
      new SimKiosk({
        terminalId: c.terminalId,
        url: broker.url,
        ca: caPem,
        cert: c.cert,
        key: c.key,
        heartbeatMs: opts.heartbeatS * 1000,
        alarmMeanMs: (opts.alarmMeanS ?? 300) * 1000,
        countersEvery: opts.countersEvery ?? 12,
        resendMs: Math.max(2000, opts.heartbeatS * 1000),
        onSent: () => (meter.in += 1),
        onCommand: () => (meter.out += 1),
      }),
  );
  try {
    central = await startCentral({ url: broker.centralUrl, pkiDir, dir: join(opts.dir, 'central'), instances: 2 });
    t = Date.now();
    await connectAll(kiosks, 50, progress);
    const connectMs = Date.now() - t;
    progress(`fleet: all ${n} kiosks connected in ${connectMs} ms`);
    await sleep(2000);
    const rssWith = await settledRss();
    const brokerRssN = brokerRss();

    const connected = () => kiosks.reduce((a, k) => a + (k.connected ? 1 : 0), 0);
    meter.start(connected);
    const started = Date.now();
    const cpuNow = () => {
      const pid = pidWith(broker.confFile);
      return {
        broker: pid === undefined ? 0 : cpuSecondsOf(pid),
        consumers: central!.pids().reduce((a, p) => a + cpuSecondsOf(p), 0),
        kiosks: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      };
    };
    const cpu0 = cpuNow();
    const at = () => (Date.now() - started) / 1000;
    const commands = new Map<string, number>();
    const c = central;
    const commander = setInterval(
      () => {
        const k = kiosks[Math.floor(Math.random() * n)]!;
        const askedAt = Date.now();
        c.sendCommand(k.terminalId).then(
          (id) => commands.set(id, askedAt),
          (e: Error) => progress(`fleet: a command could not be queued: ${e.message}`),
        );
      },
      1000 / Math.max(0.1, opts.commandsPerS ?? n / 100),
    );

    const faults: FleetFaultRecord[] = [];
    const pending: Promise<unknown>[] = [];
    if (opts.alongside) pending.push(opts.alongside({ broker, pkiDir, central }));
    for (const step of faultPlan(opts.faults, opts.durationS)) {
      await sleep(Math.max(0, started + step.atS * 1000 - Date.now()));
      const atS = at();
      const detail = await inject(step.fault, { broker, central, kiosks, durationS: opts.durationS }, pending);
      faults.push({ fault: step.fault, atS, detail });
      progress(`fleet: ${step.fault} at ${atS.toFixed(0)} s: ${detail}`);
    }
    await sleep(Math.max(0, started + opts.durationS * 1000 - Date.now()));
    clearInterval(commander);
    await Promise.all(pending);
    const rates = meter.stop();
    const cpu1 = cpuNow();
    const steadyS = (Date.now() - started) / 1000;
    const steady = meter.samples.map((s) => s.connected);
    const connectedAtEnd = connected();
    progress(`fleet: ${opts.durationS} s over; waiting for everything outstanding to be stored`);

    t = Date.now();
    await drain(kiosks, central, commands, (opts.drainS ?? 60) * 1000);
    const drainMs = Date.now() - t;
    const expected = expectation(kiosks, commands);
    const v = verdict(expected, readStored(central.dbPath));
    const rtt = v.roundTrips;
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    return {
      kiosks: n,
      heartbeatS: opts.heartbeatS,
      durationS: opts.durationS,
      connected: { atEnd: connectedAtEnd, minSteady: Math.min(...steady), maxSteady: Math.max(...steady) },
      setup: { certsMs, connectMs },
      sent: { alarms: expected.alarms.length, heartbeats: sum(expected.heartbeats), counters: sum(expected.counters) },
      rates: { inPerS: rates.inPerS, outPerS: rates.outPerS, samples: meter.samples },
      commands: { sent: commands.size, acked: rtt.length, p50Ms: quantile(rtt, 0.5), p99Ms: quantile(rtt, 0.99), maxMs: rtt.length ? Math.max(...rtt) : Number.NaN },
      memory: {
        rssBeforeBytes: rssBefore,
        rssWithKiosksBytes: rssWith,
        bytesPerKiosk: (rssWith - rssBefore) / n,
        brokerRssBytes: brokerRssN,
        brokerBytesPerKiosk: brokerRss0 !== null && brokerRssN !== null ? (brokerRssN - brokerRss0) / n : null,
      },
      lost: v.lost,
      duplicated: v.duplicated,
      reports: v.reports,
      consumerRefused: central.refused(),
      // A consumer killed and started again counts from 0: its share is then under-counted.
      cpu: { broker: (cpu1.broker - cpu0.broker) / steadyS, consumers: Math.max(0, cpu1.consumers - cpu0.consumers) / steadyS, kiosks: (cpu1.kiosks - cpu0.kiosks) / steadyS },
      brokerDropped: droppedFor(broker.log),
      absorbed: {
        ...v.absorbed,
        commandRedeliveries: kiosks.reduce((a, k) => a + k.redeliveries, 0),
        kioskResends: kiosks.reduce((a, k) => a + k.resends, 0),
      },
      faults,
      drainMs,
      ok: clean(v),
    };
  } finally {
    await Promise.all(kiosks.map((k) => k.stop().catch(() => undefined)));
    await central?.stop();
    await broker.stop();
  }
}
