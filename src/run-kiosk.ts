import './young-generation.js';
import { loadConfigOrExit } from './config/load.js';
import { createLogger, LogRing } from './log.js';
import type { RuntimeDeps } from './runtime/runtime.js';

export type RunKioskOptions = Pick<RuntimeDeps, 'onJournalCommit'>;

/**
 * `kiosk run`: the kiosk service with a configuration file, until SIGTERM or SIGINT. Exported so
 * that the simulator starts the very same service with its crash seam as the only difference.
 */
export async function runKiosk(configPath: string, options: RunKioskOptions = {}): Promise<void> {
  const config = loadConfigOrExit(configPath);
  const ring = new LogRing(1000);
  const log = createLogger(config.log.level, ring);
  const { secretWarnings } = await import('./config/secrets.js');
  const { weakPins } = await import('./console/pin.js');
  for (const warning of [...secretWarnings(config), ...weakPins(config.console.engineers)]) log.warn({ warning }, 'weak secret in the configuration');
  const { Runtime } = await import('./runtime/runtime.js');
  const { TlsSetupError } = await import('./tls/material.js');
  let runtime: Awaited<ReturnType<typeof Runtime.create>>;
  try {
    runtime = await Runtime.create(config, log, { logRing: ring, configPath, ...options });
  } catch (e) {
    // Like a bad configuration: restarting cannot help until someone provides the certificates.
    if (!(e instanceof TlsSetupError)) throw e;
    console.error(e.message);
    process.exit(2);
  }
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping');
    runtime.stop().then(
      () => process.exit(0),
      (e: Error) => {
        log.error({ err: e.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await runtime.start();
}
