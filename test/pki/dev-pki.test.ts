import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createDevPki } from '../../hw-sim/pki/dev-pki.js';

type Outcome = { ok: true; cn: string; protocol: string | null } | { ok: false; error: string };

/** One TLS handshake between a server and a client built from the given files. */
async function handshake(server: tls.TlsOptions, client: tls.ConnectionOptions): Promise<Outcome> {
  let seen = '';
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (s) => {
    seen = String(s.getPeerCertificate().subject.CN);
    s.end('hello');
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise<Outcome>((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', minVersion: 'TLSv1.2', ...client });
      c.on('data', () => {
        resolve({ ok: true, cn: seen, protocol: c.getProtocol() });
        c.end();
      });
      c.on('error', (e) => resolve({ ok: false, error: e.message }));
      c.on('close', () => resolve({ ok: false, error: 'closed before data' }));
    });
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

t.test('the CA, server and kiosk certificates make a mutual TLS connection', async (t) => {
  const dir = t.testdir();
  const { files, created } = await createDevPki(dir, { terminalId: 'K-0001' });
  t.ok(created);
  const ca = new X509Certificate(readFileSync(files.ca));
  const server = new X509Certificate(readFileSync(files.serverCert));
  const client = new X509Certificate(readFileSync(files.clientCert));
  t.ok(ca.ca, 'the CA certificate is a CA');
  t.ok(server.verify(ca.publicKey) && client.verify(ca.publicKey), 'both leaves are signed by the CA');
  t.ok(server.checkHost('localhost') && server.checkIP('127.0.0.1'), 'server cert covers localhost and 127.0.0.1');
  t.match(client.subject, /CN=K-0001/);
  t.equal(statSync(files.clientKey).mode & 0o777, 0o600, 'private keys are 0600');
  t.equal(statSync(files.ca).mode & 0o777, 0o644);

  const r = await handshake(
    { cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey), ca: readFileSync(files.ca) },
    { ca: readFileSync(files.ca), cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) },
  );
  t.same(r, { ok: true, cn: 'K-0001', protocol: 'TLSv1.3' });
});

t.test('a second call keeps the files; force makes new ones', async (t) => {
  const dir = t.testdir();
  const first = await createDevPki(dir, { terminalId: 'K-1' });
  const caPem = readFileSync(first.files.ca, 'utf8');
  const again = await createDevPki(dir, { terminalId: 'K-1' });
  t.notOk(again.created);
  t.equal(readFileSync(again.files.ca, 'utf8'), caPem);
  const forced = await createDevPki(dir, { terminalId: 'K-1', force: true });
  t.ok(forced.created);
  t.not(readFileSync(forced.files.ca, 'utf8'), caPem);
});

t.test('certificates of another CA are refused both ways', async (t) => {
  const dir = t.testdir();
  const a = (await createDevPki(`${dir}/a`, { terminalId: 'K-A' })).files;
  const b = (await createDevPki(`${dir}/b`, { terminalId: 'K-B' })).files;
  const serverA = { cert: readFileSync(a.serverCert), key: readFileSync(a.serverKey), ca: readFileSync(a.ca) };
  // The kiosk pins CA b, the server is from CA a: the kiosk refuses the server.
  const wrongServer = await handshake(serverA, { ca: readFileSync(b.ca), cert: readFileSync(b.clientCert), key: readFileSync(b.clientKey) });
  t.equal(wrongServer.ok, false);
  // The kiosk trusts CA a but shows a certificate of CA b: the server refuses the kiosk.
  const wrongClient = await handshake(serverA, { ca: readFileSync(a.ca), cert: readFileSync(b.clientCert), key: readFileSync(b.clientKey) });
  t.equal(wrongClient.ok, false);
  // No client certificate at all.
  const none = await handshake(serverA, { ca: readFileSync(a.ca) });
  t.equal(none.ok, false);
});

t.test('names that cannot go in a certificate are refused', async (t) => {
  await t.rejects(createDevPki(t.testdir(), { terminalId: 'K,CN=evil' }), /cannot be a certificate name/);
});
