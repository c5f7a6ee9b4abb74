/**
 * One client certificate per simulated kiosk, issued by the development CA (hw-sim/pki/), so the
 * broker takes each kiosk's terminal id from its own certificate exactly as it does for a real one.
 * A fleet is started many times: the certificates stay on disk beside the CA (`<pki>/fleet/`) and
 * only the missing ones are signed (P-256, a few milliseconds each).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueClientCert } from '../pki/dev-pki.js';

export interface KioskCert {
  terminalId: string;
  cert: string;
  key: string;
}

/** The terminal id of simulated kiosk number `i` (0-based): FLEET-00001, FLEET-00002, … */
export function fleetTerminalId(i: number): string {
  return `FLEET-${String(i + 1).padStart(5, '0')}`;
}

/** The certificates of kiosks `ids`, issued by the CA in `pkiDir` when not already on disk. */
export async function fleetCertificates(pkiDir: string, ids: readonly string[]): Promise<KioskCert[]> {
  const outDir = join(pkiDir, 'fleet');
  const out: KioskCert[] = [];
  for (const terminalId of ids) {
    const files = await issueClientCert(pkiDir, terminalId, { outDir });
    out.push({ terminalId, cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') });
  }
  return out;
}
