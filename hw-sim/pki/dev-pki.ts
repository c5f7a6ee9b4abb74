/**
 * A development certificate authority with one server and one kiosk (client) certificate, so the
 * embedded default and the tests run both links over mutual TLS exactly as a fielded kiosk does.
 * Production kiosks get their certificates from the operator's own CA; only the file paths in the
 * `tls` configuration section change.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const crypto = webcrypto;
// @peculiar/x509 is typed against the DOM Crypto, which this Node project does not load; webcrypto is that object.
x509.cryptoProvider.set(crypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

/** The files one `createDevPki` writes, all PEM. */
export interface DevPkiFiles {
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export interface DevPkiOptions {
  /** Becomes the kiosk certificate's common name; the server identifies the terminal by it. */
  terminalId: string;
  /** Names and addresses the server certificate is valid for. */
  serverHosts?: readonly string[];
  /** Validity of every certificate. */
  days?: number;
  /** Replace files that already exist (default: keep them and only fill in what is missing). */
  force?: boolean;
}

export function devPkiPaths(dir: string): DevPkiFiles {
  return {
    ca: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'kiosk.crt'),
    clientKey: join(dir, 'kiosk.key'),
  };
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pemKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  // Positive and non-zero, as RFC 5280 asks.
  return '01' + Buffer.from(crypto.getRandomValues(new Uint8Array(15))).toString('hex');
}

function dnValue(s: string): string {
  if (!/^[A-Za-z0-9 ._:@-]{1,64}$/.test(s)) throw new Error(`'${s}' cannot be a certificate name (letters, digits, space . _ : @ - only)`);
  return s;
}

async function leaf(
  ca: { cert: x509.X509Certificate; keys: Pick<CryptoKeyPair, 'privateKey'> },
  subject: string,
  usage: x509.ExtendedKeyUsage,
  days: number,
  hosts: readonly string[],
): Promise<{ cert: string; key: string }> {
  const keys = await keyPair();
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([usage], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  if (hosts.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(h) ? { type: 'ip', value: h } : { type: 'dns', value: h }))));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${dnValue(subject)}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + days * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
  return { cert: cert.toString('pem') + '\n', key: await pemKey(keys.privateKey) };
}

/**
 * Writes a CA, a server certificate (localhost and 127.0.0.1 by default) and a kiosk client
 * certificate into `dir`. Private keys are written mode 0600. Existing files are kept unless
 * `force`, so a second call is a no-op and an installed kiosk is never re-keyed by accident.
 */
export async function createDevPki(dir: string, opts: DevPkiOptions): Promise<{ files: DevPkiFiles; created: boolean }> {
  const files = devPkiPaths(dir);
  if (!opts.force && Object.values(files).every((f) => existsSync(f))) return { files, created: false };
  const days = opts.days ?? 825;
  const hosts = opts.serverHosts ?? ['localhost', '127.0.0.1'];
  if (hosts.length === 0) throw new Error('the server certificate needs at least one host name or address');
  mkdirSync(dir, { recursive: true });

  const caKeys = await keyPair();
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${dnValue(`kiosk development CA ${opts.terminalId}`)}`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + days * DAY),
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const ca = { cert: caCert, keys: caKeys };
  const server = await leaf(ca, hosts[0]!, x509.ExtendedKeyUsage.serverAuth, days, hosts);
  const client = await leaf(ca, opts.terminalId, x509.ExtendedKeyUsage.clientAuth, days, []);

  const write = (path: string, text: string, secret: boolean): void => {
    writeFileSync(path, text, { mode: secret ? 0o600 : 0o644 });
    // writeFileSync keeps the mode of a file that already existed.
    chmodSync(path, secret ? 0o600 : 0o644);
  };
  write(files.ca, caCert.toString('pem') + '\n', false);
  write(files.caKey, await pemKey(caKeys.privateKey), true);
  write(files.serverCert, server.cert, false);
  write(files.serverKey, server.key, true);
  write(files.clientCert, client.cert, false);
  write(files.clientKey, client.key, true);
  return { files, created: true };
}

/** The certificate and key files `issueClientCert` writes. */
export interface ClientCertFiles {
  cert: string;
  key: string;
}

async function loadCa(files: DevPkiFiles): Promise<{ cert: x509.X509Certificate; keys: Pick<CryptoKeyPair, 'privateKey'> }> {
  const cert = new x509.X509Certificate(readFileSync(files.ca, 'utf8'));
  const b64 = readFileSync(files.caKey, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const privateKey = await crypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), ALG, false, ['sign']);
  return { cert, keys: { privateKey } };
}

/**
 * Issues one more client certificate from the CA that `createDevPki` wrote into `dir`, with `name`
 * as its common name: another kiosk of a simulated fleet, or the central management consumer on the
 * broker (the broker takes the name as the client's identity). Written as `<name>.crt` and
 * `<name>.key` in `outDir` (default: `dir`); existing files are kept unless `force`.
 */
export async function issueClientCert(dir: string, name: string, opts: { outDir?: string; days?: number; force?: boolean } = {}): Promise<ClientCertFiles> {
  const out = opts.outDir ?? dir;
  const files = { cert: join(out, `${dnValue(name)}.crt`), key: join(out, `${name}.key`) };
  if (!opts.force && existsSync(files.cert) && existsSync(files.key)) return files;
  const ca = await loadCa(devPkiPaths(dir));
  const issued = await leaf(ca, name, x509.ExtendedKeyUsage.clientAuth, opts.days ?? 825, []);
  mkdirSync(out, { recursive: true });
  writeFileSync(files.cert, issued.cert, { mode: 0o644 });
  writeFileSync(files.key, issued.key, { mode: 0o600 });
  chmodSync(files.key, 0o600);
  return files;
}
