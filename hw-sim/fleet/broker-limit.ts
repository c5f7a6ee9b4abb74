/**
 * The broker's own limit on this machine, with no application work on either side: Mosquitto's
 * C clients, `mosquitto_pub -l` as kiosks (each its own certificate, QoS 1, heartbeat-sized
 * payloads on its own heartbeat topic) and one `mosquitto_sub` as the central user counting what
 * arrives. The fleet's message rate is divided by this, so its figure is a ratio, not a number
 * that only means something on this box.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Mosquitto } from '../broker/mosquitto.js';
import { devPkiPaths, issueClientCert } from '../pki/dev-pki.js';
import { fleetCertificates, fleetTerminalId } from './certs.js';
import { heartbeatPayload } from './wire.js';

export interface BrokerLimit {
  /** Messages per second from publish to the subscriber, QoS 1 both ways. */
  messagesPerS: number;
  messages: number;
  publishers: number;
  payloadBytes: number;
  ms: number;
}

function tlsArgs(ca: string, cert: string, key: string, port: number): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '--cafile', ca, '--cert', cert, '--key', key, '-V', 'mqttv5'];
}

/** Runs `publishers` × `perPublisher` messages through `broker` as fast as the C clients go. */
export async function measureBrokerLimit(broker: Mosquitto, pkiDir: string, opts: { publishers?: number; perPublisher?: number } = {}): Promise<BrokerLimit> {
  const publishers = opts.publishers ?? 4;
  const perPublisher = opts.perPublisher ?? 25_000;
  const total = publishers * perPublisher;
  const pki = devPkiPaths(pkiDir);
  const central = await issueClientCert(pkiDir, 'kiosk-central');
  const ids = Array.from({ length: publishers }, (_, i) => fleetTerminalId(i));
  await fleetCertificates(pkiDir, ids);
  const payload = heartbeatPayload(ids[0]!, 1);

  const sub = spawn(
    'mosquitto_sub',
    [...tlsArgs(pki.ca, central.cert, central.key, broker.port), '-i', 'broker-limit-sub', '-q', '1', '-t', 'kiosk/+/heartbeat', '-C', String(total)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let subErr = '';
  sub.stderr.on('data', (d: Buffer) => (subErr += d.toString()));
  // The subscription must be in place before the first message, or the count never completes.
  await new Promise((r) => setTimeout(r, 1000));
  const lines = Buffer.from(`${payload}\n`.repeat(perPublisher));
  const started = Date.now();
  const pubs = ids.map((id) => {
    const dir = join(pkiDir, 'fleet');
    const p = spawn('mosquitto_pub', [...tlsArgs(pki.ca, join(dir, `${id}.crt`), join(dir, `${id}.key`), broker.port), '-i', `${id}-limit`, '-q', '1', '-t', `kiosk/${id}/heartbeat`, '-l'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    p.stdin.end(lines);
    return p;
  });
  const timeout = setTimeout(() => sub.kill('SIGKILL'), 10 * 60_000);
  const [code] = (await once(sub, 'exit')) as [number | null];
  clearTimeout(timeout);
  const ms = Date.now() - started;
  await Promise.all(pubs.map((p) => (p.exitCode === null ? once(p, 'exit') : Promise.resolve())));
  if (code !== 0) throw new Error(`mosquitto_sub ended with ${code} before ${total} messages: ${subErr.trim()}`);
  return { messagesPerS: (total * 1000) / ms, messages: total, publishers, payloadBytes: Buffer.byteLength(payload), ms };
}
