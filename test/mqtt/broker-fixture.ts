/**
 * A real Mosquitto for a test: the development PKI in the test's folder (the kiosk certificate,
 * a second kiosk's and the central consumer's), the broker on a free port, stopped at teardown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Test } from 'tap';
import { DEFAULT_CENTRAL_USER, Mosquitto } from '../../hw-sim/broker/mosquitto.js';
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

export async function brokerWorld(t: Test, terminalId = KIOSK_A): Promise<BrokerWorld> {
  const dir = t.testdir();
  const pkiDir = join(dir, 'pki');
  const { files } = await createDevPki(pkiDir, { terminalId });
  const broker = await Mosquitto.start({ dir: join(dir, 'broker'), tls: { ca: files.ca, cert: files.serverCert, key: files.serverKey } });
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
      const client = mqtt.connect(broker.url, {
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
