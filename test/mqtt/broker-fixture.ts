/**
 * A real Mosquitto for a test: the development PKI in the test's folder (the kiosk certificate,
 * a second kiosk's and the central consumer's), the broker on a free port, stopped at teardown.
 */
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Test } from 'tap';
import { DEFAULT_CENTRAL_USER, Mosquitto } from '../../hw-sim/broker/mosquitto.js';
import { startManagementConsumer, type ManagementConsumerOptions, type RunningConsumer } from '../../hw-sim/host/management-mqtt.js';
import { createDevPki, issueClientCert, type ClientCertFiles, type DevPkiFiles } from '../../hw-sim/pki/dev-pki.js';

export interface BrokerWorld {
  dir: string;
  pki: DevPkiFiles;
  broker: Mosquitto;
  /** Certificate files of a client named `name` (issued on first use). */
  cert(name: string): Promise<ClientCertFiles>;
  /**
   * A raw MQTT 5 client with `name`'s certificate, connected; ended at teardown. `onMessage` is
   * attached before the connection, so messages a persistent session held are not missed.
   */
  client(name: string, opts?: IClientOptions, onMessage?: (topic: string, payload: Buffer) => void): Promise<MqttClient>;
}

export const KIOSK_A = 'K-TEST-1';
export const KIOSK_B = 'K-TEST-2';

export async function brokerWorld(t: Test, terminalId = KIOSK_A, opts: { centralListener?: boolean } = {}): Promise<BrokerWorld> {
  const dir = t.testdir();
  const pkiDir = join(dir, 'pki');
  const { files } = await createDevPki(pkiDir, { terminalId });
  const broker = await Mosquitto.start({ dir: join(dir, 'broker'), tls: { ca: files.ca, cert: files.serverCert, key: files.serverKey }, ...opts });
  t.teardown(() => broker.kill());
  const certs = new Map<string, ClientCertFiles>([[terminalId, { cert: files.clientCert, key: files.clientKey }]]);
  const cert = async (name: string): Promise<ClientCertFiles> => {
    let c = certs.get(name);
    if (!c) certs.set(name, (c = await issueClientCert(pkiDir, name)));
    return c;
  };
  return {
    dir,
    pki: files,
    broker,
    cert,
    async client(name, opts = {}, onMessage) {
      const c = await cert(name);
      const client = mqtt.connect(name === DEFAULT_CENTRAL_USER ? broker.centralUrl : broker.url, {
        protocolVersion: 5,
        clientId: `${name}-${Math.random().toString(16).slice(2, 8)}`,
        ca: readFileSync(files.ca),
        cert: readFileSync(c.cert),
        key: readFileSync(c.key),
        servername: 'localhost',
        reconnectPeriod: 0,
        ...opts,
      });
      t.teardown(() => client.end(true));
      if (onMessage) client.on('message', onMessage);
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      return client;
    },
  };
}

export { DEFAULT_CENTRAL_USER };

/** The central consumer instance `instance` on this broker, sharing `dbPath`; closed at teardown. */
export async function consumer(t: Test, w: BrokerWorld, instance: string, over: Partial<ManagementConsumerOptions> = {}): Promise<RunningConsumer> {
  const c = await w.cert(DEFAULT_CENTRAL_USER);
  const running = await startManagementConsumer({
    url: w.broker.centralUrl,
    dbPath: join(w.dir, 'host.db'),
    tls: { ca: readFileSync(w.pki.ca), cert: readFileSync(c.cert), key: readFileSync(c.key) },
    instance,
    ...over,
  });
  t.teardown(() => running.close());
  return running;
}

/**
 * A TCP relay in front of the broker: `cut()` destroys every connection through it without a
 * word, as a pulled cable or a killed process does; the broker sees no DISCONNECT.
 */
export async function relay(t: Test, port: number): Promise<{ port: number; cut(): void; hold(on: boolean): void }> {
  const sockets = new Set<Socket>();
  let holding = false;
  const server = createServer((inbound) => {
    if (holding) {
      inbound.resetAndDestroy();
      return;
    }
    const outbound = createConnection({ port, host: '127.0.0.1' });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      for (const s of sockets) s.resetAndDestroy();
    },
    /** While on, new connections are refused as soon as they arrive (the cable stays out). */
    hold(on: boolean) {
      holding = on;
    },
  };
}
