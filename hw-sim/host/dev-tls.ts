/** The reference host's TLS material: given PEM files, or a development PKI made (once) in a folder. */
import { readFileSync } from 'node:fs';
import { createDevPki, type DevPkiFiles } from '../pki/dev-pki.js';
import type { HostTls } from './business-link.js';

export interface HostTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** Reads the three files; the error names a file, never its contents. */
export function readHostTls(files: HostTlsFiles): HostTls {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`host TLS ${what}: cannot read ${path}: ${(e as Error).message}`);
    }
  };
  return { ca: read('CA', files.ca), cert: read('certificate', files.cert), key: read('key', files.key) };
}

/**
 * The development PKI in `dir` (created when missing, kept when there): the host serves with its
 * server certificate and accepts kiosks whose certificate its CA signed.
 */
export async function devHostTls(dir: string, terminalId = 'KIOSK-0001'): Promise<{ tls: HostTls; files: DevPkiFiles; created: boolean }> {
  const { files, created } = await createDevPki(dir, { terminalId });
  return { tls: readHostTls({ ca: files.ca, cert: files.serverCert, key: files.serverKey }), files, created };
}
