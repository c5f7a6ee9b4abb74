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
  /** Messages that arrived, of `sent`: fewer when the broker dropped some (its per-client queue full). */
  messages: number;
  sent: number;
  publishers: number;
  payloadBytes: number;
  ms: number;
}

function tlsArgs(ca: string, cert: string, key: string, port: number): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '--cafile', ca, '--cert', cert, '--key', key, '-V', 'mqttv5'];
}

/**
 * Runs `publishers` × `perPublisher` messages through `broker` as fast as the C clients go (start
 * the broker with a large `maxQueuedMessages`, or the subscriber's queue drops what it cannot take).
 */
export async function measureBrokerLimit(broker: Mosquitto, pkiDir: string, opts: { publishers?: number; perPublisher?: number } = {}): Promise<BrokerLimit> {
  const publishers = opts.publishers ?? 4;
  const perPublisher = opts.perPublisher ?? 25_000;
  const total = publishers * perPublisher;
  const pki = devPkiPaths(pkiDir);
  const central = await issueClientCert(pkiDir, 'kiosk-central');
  const ids = Array.from({ length: publishers }, (_, i) => fleetTerminalId(i));
  await fleetCertificates(pkiDir, ids);
  const payload = heartbeatPayload(ids[0]!, 1);

  const sub = spawn('mosquitto_sub', [...tlsArgs(pki.ca, central.cert, central.key, broker.port), '-i', 'broker-limit-sub', '-q', '1', '-t', 'kiosk/+/heartbeat'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let received = 0;
  let lastAt = 0;
  let subErr = '';
  sub.stdout.on('data', (d: Buffer) => {
    for (const b of d) if (b === 10) received += 1;
    lastAt = Date.now();
  });
  sub.stderr.on('data', (d: Buffer) => (subErr += d.toString()));
  // The subscription must be in place before the first message.
  await new Promise((r) => setTimeout(r, 1000));
  const lines = Buffer.from(`${payload}\n`.repeat(perPublisher));
  const started = Date.now();
  const pubs = ids.map((id) => {
    const dir = join(pkiDir, 'fleet');
    const p = spawn('mosquitto_pub', [...tlsArgs(pki.ca, join(dir, `${id}.crt`), join(dir, `${id}.key`), broker.port), '-i', `${id}-limit`, '-q', '1', '-t', `kiosk/${id}/heartbeat`, '-l'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    p.stdin.end(lines);
    return p;
  });
  // Until everything arrived, or nothing more for 3 s (a queue overflowing would drop some).
  while (received < total && !(lastAt > 0 && Date.now() - lastAt > 3000) && Date.now() - started < 10 * 60_000) await new Promise((r) => setTimeout(r, 50));
  const ms = Math.max(1, lastAt - started);
  for (const p of [...pubs, sub]) if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.all([...pubs, sub].map((p) => (p.exitCode === null && p.signalCode === null ? once(p, 'exit') : Promise.resolve())));
  if (received === 0) throw new Error(`mosquitto_sub received nothing: ${subErr.trim()}`);
  return { messagesPerS: (received * 1000) / ms, messages: received, sent: total, publishers, payloadBytes: Buffer.byteLength(payload), ms };
}
