import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { BadScanReason, CodeRead, CodeScanner } from '../../drivers/scanner/contract.js';
import type { DeviceStatus } from '../../drivers/types.js';

/** A short folder: a unix socket path must stay under 108 bytes. */
export function shortDir(t: Test, prefix = 'scan-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function until(check: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A socat pty pair at two paths; kill() pulls the cable. */
export async function ptyPair(devicePath: string, hostPath: string): Promise<{ kill(): Promise<void> }> {
  const socat = spawn('socat', [`pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], { stdio: 'ignore' });
  await until(() => existsSync(devicePath) && existsSync(hostPath), 'socat links', 10_000);
  return {
    kill: () =>
      new Promise<void>((resolve) => {
        if (socat.exitCode !== null) return resolve();
        socat.once('exit', () => resolve());
        socat.kill('SIGTERM');
      }),
  };
}

/** What a scanner reported: codes (consumed at once, as the wallet flow will), bad scans, statuses, log lines. */
export interface Seen {
  codes: { masked: string; length: number; text: string; read: CodeRead }[];
  bad: { reason: BadScanReason; detail: string }[];
  statuses: DeviceStatus[];
  logs: string[];
}

export function watch(scanner: CodeScanner, logs: string[] = []): Seen {
  const seen: Seen = { codes: [], bad: [], statuses: [], logs };
  scanner.on('code', (read) => {
    void read.sensitive.consume((b) => {
      seen.codes.push({ masked: read.masked, length: read.length, text: b.toString('latin1'), read });
    });
  });
  scanner.on('bad-scan', (b) => seen.bad.push(b));
  scanner.on('status', (s) => seen.statuses.push(s));
  return seen;
}

export const logInto = (logs: string[]) => (level: string, msg: string, fields?: object) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
