/**
 * A kiosk's management side against the reference management server, both real: a development PKI
 * in the test's folder, the server on a loopback port, a journal in a SQLite file, and the link
 * with a stand-in for the runtime (its status and control requests), which the scenarios replace
 * with the real runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Test } from 'tap';
import { startManagementServer, type RunningManagement } from '../../hw-sim/host/management.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config, ConfigInput } from '../../src/config/schema.js';
import type { ControlRequest, ControlResponse } from '../../src/control/protocol.js';
import { Journal } from '../../src/journal/index.js';
import { AlarmBook, ManagementLink, runtimeAppliers } from '../../src/management/index.js';
import { createDevPki, type DevPkiFiles } from '../../hw-sim/pki/dev-pki.js';
import { loadTlsMaterial } from '../../src/tls/material.js';

export const TERMINAL = 'K-TEST-1';
const KEY = Buffer.alloc(32, 0x3c);

export async function pki(dir: string, terminalId = TERMINAL): Promise<DevPkiFiles> {
  return (await createDevPki(dir, { terminalId })).files;
}

export async function referenceServer(t: Test, dir: string, files: DevPkiFiles): Promise<RunningManagement> {
  const server = await startManagementServer({
    port: 0,
    dbPath: join(dir, 'host.db'),
    tls: { ca: readFileSync(files.ca), cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey) },
    delayMs: 400,
  });
  t.teardown(() => server.close());
  return server;
}

/** Every line the kiosk side logged, to look for secrets in. */
export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  logger(): Logger {
    return pino({ level: 'debug' }, this);
  }
}

/** A configuration as a kiosk file would hold it (before defaults); `management.port` is the server's. */
export function configInput(dir: string, files: DevPkiFiles, port: number, over: Partial<ConfigInput> = {}): ConfigInput {
  return {
    terminalId: TERMINAL,
    dataDir: dir,
    validator: { port: join(dir, 'validator') },
    server: { host: '127.0.0.1', port: 1 },
    tls: { ca: files.ca, cert: files.clientCert, key: files.clientKey },
    management: { host: '127.0.0.1', serverName: 'localhost', port, heartbeatMs: 150, countersMs: 3_600_000, timeoutMs: 3000 },
    ...over,
  } as ConfigInput;
}

/** Stands in for the runtime: its status as the control handler reports it, and the control requests it gets. */
export class FakeTerminal {
  state = 'inService';
  transaction: { id: string; state: string } | null = null;
  devices: Record<string, { health: string; code: string; detail: string }> = {
    validator: { health: 'ok', code: 'idling', detail: 'idle' },
    printer: { health: 'fault', code: 'paper-out', detail: 'no paper' },
  };
  readonly requests: ControlRequest[] = [];

  status(): Record<string, unknown> {
    return {
      terminal: { state: this.state, reason: null, services: ['pay', 'topup', 'lookup'] },
      devices: this.devices,
      transaction: this.transaction,
      outbox: { pending: 2, oldestPendingAt: '2025-01-01T00:00:00.000Z', acked: 5 },
      cashbox: [],
    };
  }

  async control(req: ControlRequest): Promise<ControlResponse> {
    this.requests.push(req);
    if (req.cmd === 'out-of-service') this.state = 'outOfService.operator';
    if (req.cmd === 'in-service') this.state = 'inService';
    return { ok: true };
  }
}

export interface KioskSide {
  config: Config;
  journal: Journal;
  alarms: AlarmBook;
  link: ManagementLink;
  terminal: FakeTerminal;
  /** Stops the link and closes the journal (idempotent). */
  close(): Promise<void>;
}

/** The kiosk's management side on the journal in `dir`; the caller starts the link. */
export function kioskSide(t: Test, dir: string, input: ConfigInput, log: Logger, configPath?: string): KioskSide {
  const config = parseConfig(input, 'test', dir);
  const journal = Journal.open(join(dir, 'journal.db'), { key: KEY });
  const alarms = new AlarmBook(journal, log);
  const terminal = new FakeTerminal();
  const link = new ManagementLink({
    config: config as Config & { management: NonNullable<Config['management']> },
    configPath,
    journal,
    alarms,
    terminal,
    appliers: runtimeAppliers(config, log),
    tls: loadTlsMaterial(config.tls),
    log,
  });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= link.stop().then(() => {
      journal.close();
    }));
  t.teardown(close);
  return { config, journal, alarms, link, terminal, close };
}

/** Polls `probe` until it returns something truthy; fails the wait after `ms`. */
export async function until<T>(what: string, probe: () => T | undefined | null | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
