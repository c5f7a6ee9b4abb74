/**
 * `kiosk diag` for a 2D code scanner: it opens, its reading is turned on and off again (a serial
 * scanner set to acknowledge must answer both commands), and with --scan it waits for one code
 * shown by the technician. The code is reported masked, with its length, and wiped at once.
 */
import type { CodeRead, CodeScanner } from '../../drivers/scanner/contract.js';
import { Skip, healthStep, openStep, runCheck, type CheckOptions, type DeviceReport, type Facts } from './checks.js';

export async function checkScanner(scanner: CodeScanner, opts: CheckOptions): Promise<DeviceReport> {
  const facts: Facts = {};
  return runCheck(scanner, opts, facts, [
    openStep(scanner, 'scanner found and listening'),
    {
      name: 'identity',
      run: async () => {
        facts.commands = scanner.capabilities.commands;
        return `${scanner.identity().model}, ${scanner.capabilities.commands ? 'takes start/stop reading commands' : 'keyboard mode: reads gated by the kiosk'}`;
      },
    },
    {
      name: 'enable / disable',
      run: async () => {
        try {
          await scanner.enable();
        } finally {
          await scanner.disable();
        }
        return scanner.capabilities.commands ? `reading turned on, then off: ${scanner.status().detail}` : 'reads turned on, then off again';
      },
    },
    {
      name: 'test scan',
      run: async () => {
        if (!opts.scan) return new Skip('not asked for (--scan)');
        const read = await nextCode(scanner);
        facts.scannedLength = read.length;
        return `a code of ${read.length} characters read: ${read.masked}`;
      },
    },
    healthStep(scanner, opts),
  ]);
}

/** Enables the scanner until one code or bad scan comes; the check's deadline bounds the wait. */
async function nextCode(scanner: CodeScanner): Promise<CodeRead> {
  let onCode: ((r: CodeRead) => void) | undefined;
  let onBad: ((b: { reason: string; detail: string }) => void) | undefined;
  const read = new Promise<CodeRead>((resolve, reject) => {
    onCode = (r) => {
      r.sensitive.wipe();
      resolve(r);
    };
    onBad = (b) => reject(new Error(`a bad scan (${b.reason}): ${b.detail}`));
    scanner.on('code', onCode);
    scanner.on('bad-scan', onBad);
  });
  try {
    await scanner.enable();
    return await read;
  } finally {
    scanner.off('code', onCode!);
    scanner.off('bad-scan', onBad!);
    await scanner.disable();
  }
}
