/**
 * Both links offer only forward-secret AEAD suites: against a real TLS server that offers nothing but
 * a weak suite the kiosk refuses to connect, and a direct client without the kiosk's cipher list
 * (the control) shows the server really works with that suite.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, type TlsOptions } from 'node:tls';
import t, { type Test } from 'tap';
import { z } from 'zod';
import { ManagementClient } from '../../src/management/https-client.js';
import { LinkSession, type LinkDown } from '../../src/uplink/link/session.js';
import { makePki, scriptedServer, type Pki } from './link-server.js';

/** An RSA server certificate from the development CA: suites with RSA key exchange need one. */
function rsaServer(dir: string, pki: Pki): { cert: Buffer; key: Buffer } {
  const key = join(dir, 'server-rsa.key');
  const csr = join(dir, 'server-rsa.csr');
  const cert = join(dir, 'server-rsa.pem');
  const ext = join(dir, 'server-rsa.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', '/CN=localhost', '-out', csr], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', pki.files.ca, '-CAkey', pki.files.caKey, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', cert], {
    stdio: 'ignore',
  });
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

interface Suite {
  name: string;
  /** The server's only offer. */
  tls: TlsOptions;
  rsa?: boolean;
}

const WEAK: Suite[] = [
  { name: 'AES256-SHA (RSA key exchange, no forward secrecy, CBC)', tls: { maxVersion: 'TLSv1.2', ciphers: 'AES256-SHA' }, rsa: true },
  { name: 'AES128-GCM-SHA256 (RSA key exchange, no forward secrecy)', tls: { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' }, rsa: true },
  { name: 'ECDHE-ECDSA-AES256-SHA (forward secret, but CBC)', tls: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-SHA' } },
];

const STRONG: Suite[] = [
  { name: 'TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256', tls: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' } },
  { name: 'TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305', tls: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' }, rsa: true },
  { name: 'TLS 1.3 TLS_AES_256_GCM_SHA384', tls: { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' } },
];

function serverTls(dir: string, pki: Pki, suite: Suite): TlsOptions {
  return { ...suite.tls, ...(suite.rsa ? rsaServer(dir, pki) : {}) };
}

/** What a client without the kiosk's cipher list gets from the server: the suite it negotiated. */
function plainClient(pki: Pki, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port, servername: 'localhost', ...pki.kiosk, minVersion: 'TLSv1.2' }, () => {
      resolve(c.getCipher().name);
      c.destroy();
    });
    c.on('error', reject);
  });
}

function businessSession(t: Test, pki: Pki, port: number): LinkSession {
  const s = new LinkSession({
    host: '127.0.0.1',
    port,
    serverName: 'localhost',
    tls: pki.kiosk,
    timeoutMs: 2000,
    probeIntervalMs: 60_000,
    backoff: { initialMs: 50, maxMs: 500 },
  });
  t.teardown(() => s.stop());
  return s;
}

/** Up, or the first 'down', of a business link to `port`. */
async function businessOutcome(t: Test, pki: Pki, port: number): Promise<'up' | LinkDown> {
  const s = businessSession(t, pki, port);
  const result = new Promise<'up' | LinkDown>((resolve) => {
    s.once('up', () => resolve('up'));
    s.once('down', resolve);
  });
  s.start();
  return result;
}

/** A management server (HTTPS) offering only this suite; answers {} to every POST. */
async function managementServer(t: Test, pki: Pki, tls: TlsOptions): Promise<{ port: number; served: number }> {
  const state = { port: 0, served: 0 };
  const server = createHttpsServer({ ...pki.server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ...tls }, (req, res) => {
    state.served += 1;
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}

const management = (pki: Pki, port: number) => new ManagementClient({ host: '127.0.0.1', port, serverName: 'localhost', timeoutMs: 3000 }, pki.kiosk);

for (const suite of WEAK) {
  t.test(`a server offering only ${suite.name} is refused by both links`, async (t) => {
    const dir = t.testdir();
    const pki = await makePki(dir);
    const tls = serverTls(dir, pki, suite);

    const business = await scriptedServer(t, pki, () => ({}), tls);
    t.equal(await plainClient(pki, business.port), String(suite.tls.ciphers), 'control: the server works with that suite');
    const peersBefore = business.peers.length;
    t.match(await businessOutcome(t, pki, business.port), { reason: 'tls', detail: /HANDSHAKE_FAILURE|NO_SHARED_CIPHER|NO_CIPHERS/ }, 'business link: no handshake');
    t.equal(business.peers.length, peersBefore, 'the business server accepted no kiosk connection');

    const mgmt = await managementServer(t, pki, tls);
    const err = await management(pki, mgmt.port)
      .post('/heartbeat', {}, z.object({}))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    t.match(err, { kind: 'handshake' }, 'management link: no handshake');
    t.equal(mgmt.served, 0, 'the management server served nothing');
  });
}

for (const suite of STRONG) {
  t.test(`a server offering only ${suite.name} is accepted by both links`, async (t) => {
    const dir = t.testdir();
    const pki = await makePki(dir);
    const tls = serverTls(dir, pki, suite);
    const business = await scriptedServer(t, pki, () => ({}), tls);
    t.equal(await businessOutcome(t, pki, business.port), 'up', 'business link up');
    const mgmt = await managementServer(t, pki, tls);
    t.same(await management(pki, mgmt.port).post('/heartbeat', {}, z.object({})), {}, 'management request answered');
    t.equal(mgmt.served, 1);
  });
}
