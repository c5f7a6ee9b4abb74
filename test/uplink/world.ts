/** The reference host on a real mutual-TLS business link, and a kiosk-side adapter pointed at it. */
import { join } from 'node:path';
import type { Test } from 'tap';
import { devHostTls } from '../../hw-sim/host/dev-tls.js';
import { startHost, type HostOptions, type RunningHost } from '../../hw-sim/host/server.js';
import type { DevPkiFiles } from '../../hw-sim/pki/dev-pki.js';
import { EnvelopeAdapter } from '../../src/uplink/link/envelope-adapter.js';
import type { SessionOptions } from '../../src/uplink/link/session.js';
import { loadTlsMaterial } from '../../src/tls/material.js';

export interface World {
  dir: string;
  pki: DevPkiFiles;
  host: RunningHost;
  adapter: EnvelopeAdapter;
}

export async function world(t: Test, opts: { host?: Partial<HostOptions>; session?: Partial<SessionOptions>; start?: boolean } = {}): Promise<World> {
  const dir = t.testdir();
  const { tls, files } = await devHostTls(join(dir, 'pki'), 'T-0001');
  const host = await startHost({ port: 0, tls, dbPath: join(dir, 'host.db'), ...opts.host });
  t.teardown(() => host.close());
  const adapter = new EnvelopeAdapter({
    host: '127.0.0.1',
    port: host.port,
    serverName: 'localhost',
    tls: loadTlsMaterial({ ca: files.ca, cert: files.clientCert, key: files.clientKey }),
    timeoutMs: 2000,
    probeIntervalMs: 60_000,
    backoff: { initialMs: 10, maxMs: 40 },
    hello: { terminalId: 'T-0001' },
    ...opts.session,
  });
  t.teardown(() => adapter.stop());
  if (opts.start !== false) adapter.start();
  return { dir, pki: files, host, adapter };
}
