/**
 * `kiosk diag` of a 2D code scanner against its emulator: the configured scanner, and `--kind
 * scanner-serial` / `scanner-hid` on a bare port or socket; a scanner that does not answer its
 * commands fails the enable/disable step with the reason; `--scan` waits for one code and shows
 * it masked only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { DeviceReport } from '../../src/diag/checks.js';
import { runDiag, type DiagOptions } from '../../src/diag/run.js';
import { walletCode } from '../../hw-sim/wallet-codes.js';

async function diag(opts: Partial<DiagOptions>): Promise<{ ok: boolean; text: string; reports: DeviceReport[] }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ok = await runDiag({ json: true, payout: false, print: false, isTTY: false, out, timeoutMs: 8_000, ...opts });
  const text = Buffer.concat(chunks).toString('utf8');
  return { ok, text, reports: (JSON.parse(text) as { devices: DeviceReport[] }).devices };
}

const step = (r: DeviceReport | undefined, name: string) => r?.steps.find((s) => s.name === name);

for (const mode of ['serial', 'keyboard'] as const) {
  t.test(`a ${mode} scanner: the configured one and the one on a bare ${mode === 'serial' ? 'port' : 'socket'}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'diag-scan-'));
    const stack = new SimStack({ dir, fitted: { scanner: mode } });
    t.teardown(async () => {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await stack.start();
    const config = loadConfigFile(stack.configPath);
    const configured = await diag({ config });
    const scanner = configured.reports.find((r) => r.name === 'scanner');
    t.ok(scanner?.ok, scanner?.ok ? 'the scanner passes' : configured.text);
    t.equal(scanner?.kind, 'code-scanner');
    t.equal(step(scanner, 'test scan')?.outcome, 'skipped', 'no test scan unless asked');

    const port = mode === 'serial' ? stack.hostPort('scanner') : `socket:${stack.scannerSocket}`;
    const kind = mode === 'serial' ? 'scanner-serial' : 'scanner-hid';
    const bare = await diag({ kind, port });
    t.ok(bare.ok, bare.ok ? 'passes' : bare.text);
    t.match(step(bare.reports[0], 'enable / disable')?.detail, mode === 'serial' ? /answers each command with ACK/ : /reads turned on, then off/);

    const code = walletCode('paid', 'alipay');
    const scanning = diag({ kind, port, scan: true });
    // The technician shows a code once the scanner reads (a serial one holds it until triggered).
    setTimeout(() => stack.scannerEmulator.show(code, 'diag'), 1_500);
    const scanned = await scanning;
    t.ok(scanned.ok, scanned.ok ? 'passes' : scanned.text);
    t.match(step(scanned.reports[0], 'test scan')?.detail, /^a code of 18 characters read: 28\*{12}\d{4}$/);
    t.notOk(scanned.text.includes(code), 'the report never shows the whole code');

    if (mode === 'serial') {
      stack.deviceCommand('commands silent', 'scanner');
      await stack.waitForDeviceLine('scanner', (l) => l === 'commands: silent', 5_000, { recent: true });
      const silent = await diag({ kind, port });
      t.notOk(silent.ok, 'a scanner that does not answer fails');
      const failed = silent.reports[0]!.steps.find((s) => s.outcome === 'failed');
      t.match(failed?.detail, /no answer to "stop reading"/, 'the reason is given');
      t.equal(silent.reports[0]!.status.code, 'no-answer');
    }
  });
}
