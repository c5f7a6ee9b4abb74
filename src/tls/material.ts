/**
 * TLS settings shared by the business and the management link. Both are mutual TLS 1.2 or newer
 * with the server's CA pinned; there is no setting that turns encryption or verification off.
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

/** Options for tls.connect / https.request to a server known by `serverName`. */
export function clientTlsOptions(m: TlsMaterial, serverName: string): ConnectionOptions {
  return {
    ca: m.ca,
    cert: m.cert,
    key: m.key,
    servername: serverName,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
  };
}
