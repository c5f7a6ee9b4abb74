/**
 * TLS settings shared by the business and the management link. Both are mutual TLS 1.2 or newer
 * with the server's CA pinned and forward-secret AEAD suites only; there is no setting that turns
 * encryption or verification off.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export class TlsSetupError extends Error {
  override readonly name = 'TlsSetupError';
}

/** Reads the three PEM files; a missing or unreadable one is named (its contents never are). */
export function loadTlsMaterial(files: TlsFiles): TlsMaterial {
  const read = (what: string, path: string): Buffer => {
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (e) {
      const hint = (e as NodeJS.ErrnoException).code === 'ENOENT' ? " (make development ones with 'kiosk-sim pki init')" : '';
      throw new TlsSetupError(`tls.${what}: cannot read ${path}: ${(e as Error).message}${hint}`);
    }
    if (!pem.includes('-----BEGIN ')) throw new TlsSetupError(`tls.${what}: ${path} is not a PEM file`);
    return pem;
  };
  return { ca: read('ca', files.ca), cert: read('cert', files.cert), key: read('key', files.key) };
}

/**
 * What the kiosk offers: TLS 1.3's suites (all AEAD with ephemeral keys), and under TLS 1.2 only
 * ECDHE key exchange with an AEAD cipher, so a recorded session cannot be decrypted later with the
 * server's key and no CBC suite is ever used. The TLS 1.3 names must be listed: Node.js turns TLS 1.3
 * off when a cipher list names none.
 */
export const CLIENT_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** Options for tls.connect / https.request to a server known by `serverName`. */
export function clientTlsOptions(m: TlsMaterial, serverName: string): ConnectionOptions {
  return {
    ca: m.ca,
    cert: m.cert,
    key: m.key,
    servername: serverName,
    minVersion: 'TLSv1.2',
    ciphers: CLIENT_CIPHERS,
    rejectUnauthorized: true,
  };
}
