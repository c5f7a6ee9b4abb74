import { SerialTransport } from '../../../drivers/transport/serial.js';
import { noArgument, runCommandConsole, wholeNumber, type Command, type ConsoleOptions } from '../command-console.js';
import { EscposEmulator } from './emulator.js';

export interface EscposDeviceOptions extends ConsoleOptions {
  /** Where receipt-<n>.txt files are written. */
  outDir: string;
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
  '  paper-out-after <lines> the roll runs out after that many more printed lines (mid-receipt)',
  '  cover-open              the cover is open: printing stops, jobs are lost',
  '  cutter-error            the auto-cutter jams (recoverable by DLE ENQ 1/2)',
  '  head-hot                the head overheats (auto-recoverable error)',
  '  clear                   fresh roll, cover closed, errors and silence end',
  '  silent                  answer nothing and print nothing until clear',
  '  power-cycle             power cut: modes, half-received commands and the uncut job are lost',
  '  status                  print the state and the DLE EOT replies',
  '  help                    this text',
];

const COMMANDS: ReadonlyMap<string, Command<EscposEmulator>> = new Map<string, Command<EscposEmulator>>([
  ['paper-near-end', noArgument((e) => e.paperNearEnd())],
  ['paper-out', noArgument((e) => e.paperOutNow())],
  ['paper-out-after', wholeNumber('paper-out-after 5', (e, n) => e.paperOutAfter(n))],
  ['cover-open', noArgument((e) => e.openCover())],
  ['cutter-error', noArgument((e) => e.jamCutter())],
  ['head-hot', noArgument((e) => e.overheat())],
  ['clear', noArgument((e) => e.clear())],
  ['silent', noArgument((e) => e.silent())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
]);

/**
 * Runs the emulated receipt printer on a serial line, driven by operator lines on `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runEscposDevice(options: EscposDeviceOptions): Promise<EscposDevice> {
  const { port, outDir, input, output } = options;
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  const emulator = new EscposEmulator({ transport, outDir, ...(options.columns ? { columns: options.columns } : {}) });
  const { stop } = await runCommandConsole({
    input,
    output,
    line: emulator,
    reporters: [emulator],
    banner: `ESC/POS printer emulator on ${port} (9600 8N1), receipts in ${outDir}; type help for commands`,
    target: emulator,
    commands: COMMANDS,
    help: HELP,
  });
  return { emulator, stop };
}
