import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { SerialTransport } from '../../../drivers/transport/serial.js';
import { EscposEmulator } from './emulator.js';

export interface EscposDeviceOptions {
  /** Serial device path: one end of a socat pty pair or a USB-serial adapter. */
  port: string;
  /** Where receipt-<n>.txt files are written. */
  outDir: string;
  /** Operator commands, one per line. */
  input: Readable;
  /** One line per event and per answer to the operator. */
  output: Writable;
  /** Normal-font characters per line; 48 (80 mm paper) unless told. */
  columns?: number;
}

export interface EscposDevice {
  stop(): Promise<void>;
  emulator: EscposEmulator;
}

const HELP = [
  'commands (one per line):',
  '  paper-near-end          the roll runs low (DLE EOT 4 → 0x1E)',
  '  paper-out               the roll is empty: printing stops, jobs are lost',
  '  cover-open              the cover is open: printing stops, jobs are lost',
  '  cutter-error            the auto-cutter jams (recoverable by DLE ENQ 1/2)',
  '  head-hot                the head overheats (auto-recoverable error)',
  '  clear                   fresh roll, cover closed, errors and silence end',
  '  silent                  answer nothing and print nothing until clear',
  '  power-cycle             power cut: modes, half-received commands and the uncut job are lost',
  '  status                  print the state and the DLE EOT replies',
  '  help                    this text',
];

const ACTIONS: ReadonlyMap<string, (emulator: EscposEmulator) => string[] | void> = new Map<
  string,
  (emulator: EscposEmulator) => string[] | void
>([
  ['paper-near-end', (e) => e.paperNearEnd()],
  ['paper-out', (e) => e.paperOutNow()],
  ['cover-open', (e) => e.openCover()],
  ['cutter-error', (e) => e.jamCutter()],
  ['head-hot', (e) => e.overheat()],
  ['clear', (e) => e.clear()],
  ['silent', (e) => e.silent()],
  ['power-cycle', (e) => e.powerCycle()],
  ['status', (e) => [e.describe()]],
  ['help', () => HELP],
]);

/**
 * Runs the emulated receipt printer on a serial line, driven by operator lines on `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runEscposDevice(options: EscposDeviceOptions): Promise<EscposDevice> {
  const { port, outDir, input, output } = options;
  const say = (line: string): void => {
    output.write(`${line}\n`);
  };
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  const emulator = new EscposEmulator({ transport, outDir, ...(options.columns ? { columns: options.columns } : {}) });
  emulator.on('report', say);
  await emulator.start();
  say(`ESC/POS printer emulator on ${port} (9600 8N1), receipts in ${outDir}; type help for commands`);

  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  lines.on('line', (raw) => {
    const words = raw.trim().split(/\s+/).filter((w) => w.length > 0);
    if (words.length === 0) return;
    const name = words[0]!;
    const action = ACTIONS.get(name.toLowerCase());
    if (!action) {
      say(`error: unknown command "${name}" (type help)`);
      return;
    }
    if (words.length > 1) {
      say(`error: ${name}: takes no argument`);
      return;
    }
    for (const line of action(emulator) ?? []) say(line);
  });

  let stopped: Promise<void> | undefined;
  return {
    emulator,
    stop(): Promise<void> {
      stopped ??= (async () => {
        lines.close();
        await emulator.stop();
        emulator.off('report', say);
      })();
      return stopped;
    },
  };
}
