/** `kiosk-sim host`: the reference central server as a process, or `--print` of what its database holds. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { devHostTls, readHostTls } from './dev-tls.js';
import { CARD_MODES, HOST_MODES, startHost, type CardMode, type HostMode, type HostTls } from './server.js';
import { HostStore } from './store.js';

export interface HostCommandOptions {
  port: number;
  adminPort: number;
  listen: string;
  db: string;
  mode: string;
  delay: number;
  cardMode?: string;
  pki: string;
  ca?: string;
  cert?: string;
  key?: string;
  print?: boolean;
}

/** Returns an exit code when the command is done at once (--print, bad options); otherwise keeps serving. */
export async function hostCommand(o: HostCommandOptions, out: (line: string) => void = console.log): Promise<number | undefined> {
  if (o.print) {
    const store = new HostStore(o.db);
    try {
      out(JSON.stringify(store.records(), null, 2));
    } finally {
      store.close();
    }
    return 0;
  }
  const mode = HOST_MODES.find((m): m is HostMode => m === o.mode);
  if (!mode) {
    console.error(`kiosk-sim host: --mode must be one of ${HOST_MODES.join(', ')}`);
    return 2;
  }
  const cardMode = CARD_MODES.find((m): m is CardMode => m === (o.cardMode ?? 'by-card'));
  if (!cardMode) {
    console.error(`kiosk-sim host: --card-mode must be one of ${CARD_MODES.join(', ')}`);
    return 2;
  }
  const given = [o.ca, o.cert, o.key].filter((f) => f !== undefined).length;
  if (given !== 0 && given !== 3) {
    console.error('kiosk-sim host: give --ca, --cert and --key together, or none of them (a development PKI in --pki)');
    return 2;
  }
  let tls: HostTls;
  if (o.ca && o.cert && o.key) {
    tls = readHostTls({ ca: o.ca, cert: o.cert, key: o.key });
  } else {
    const dev = await devHostTls(o.pki);
    out(`${dev.created ? 'created a development PKI' : 'using the development PKI'} in ${o.pki} (kiosk certificate ${dev.files.clientCert})`);
    tls = dev.tls;
  }
  mkdirSync(dirname(o.db), { recursive: true });
  const host = await startHost({ port: o.port, adminPort: o.adminPort, host: o.listen, tls, dbPath: o.db, mode, delayMs: o.delay, cardMode });
  out(`reference server: business link (mutual TLS) on ${o.listen}:${host.port}, admin on ${host.url} (mode ${mode}, card mode ${cardMode}, records in ${o.db})`);
  const stop = (): void => void host.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
}
