/**
 * `server.adapter` → business adapter. A new operator protocol is one implementation of
 * BusinessAdapter, one entry here and one value in the configuration schema's enum.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { BusinessAdapter, ChainHeadWitness } from './adapter.js';
import { EnvelopeAdapter } from './link/envelope-adapter.js';
import { loadTlsMaterial } from '../tls/material.js';

type AdapterName = Config['server']['adapter'];

const FACTORIES: Record<AdapterName, (config: Config, log: Logger, witness?: ChainHeadWitness) => BusinessAdapter> = {
  envelope: (config, log, witness) =>
    new EnvelopeAdapter(
      {
      host: config.server.host,
      port: config.server.port,
      serverName: config.server.serverName ?? config.server.host,
      tls: loadTlsMaterial(config.tls),
      timeoutMs: config.server.timeoutMs,
      probeIntervalMs: config.server.probeIntervalMs,
      backoff: { initialMs: config.forwarder.backoffInitialMs, maxMs: config.forwarder.backoffMaxMs },
      hello: { terminalId: config.terminalId },
      log,
      },
      witness,
    ),
};

/** Reads the TLS files and builds the adapter; throws TlsSetupError naming a missing or bad file. */
export function createBusinessAdapter(config: Config, log: Logger, witness?: ChainHeadWitness): BusinessAdapter {
  return FACTORIES[config.server.adapter](config, log, witness);
}
