import { SerialTransport } from '../../../drivers/transport/serial.js';
import { noArgument, runCommandConsole, type Command, type ConsoleOptions } from '../command-console.js';
import { EsspEmulator, type EsspTiming } from './emulator.js';

export interface EsspDeviceOptions extends ConsoleOptions {
  timing?: Partial<EsspTiming>;
}

export interface EsspDevice {
  stop(): Promise<void>;
}

const HELP = [
  'commands (one per line):',
  '  insert <fen>            a customer inserts a note, e.g. insert 5000 for 50 yuan',
  '  jam | safe-jam | stacker-full | stacker-open | path-open   inject a fault (jam is the unsafe jam)',
  '  fraud                   a fraud attempt: reported once, the note in the path is lost',
  '  clear                   end faults and silence (a removed cash box is replaced)',
  '  power-cycle             power cut: keys, settings and any note in the path are lost',
  '  power-cycle-with-bill   power cut with a note in the path: cleared to the front (0xE1) or into the cash box (0xE2)',
  '  silent                  stop answering the host until clear',
  '  garbage                 noise and a bad-CRC packet before the next reply',
  '  status                  print the state and the cash box',
  '  help                    this text',
];

const COMMANDS: ReadonlyMap<string, Command<EsspEmulator>> = new Map<string, Command<EsspEmulator>>([
  [
    'insert',
    (emulator, arg) => {
      if (arg === undefined || !/^\d+$/.test(arg)) throw new Error('needs an amount in fen, e.g. insert 5000');
      emulator.insert(Number(arg));
    },
  ],
  ['jam', noArgument((e) => e.jam())],
  ['safe-jam', noArgument((e) => e.safeJam())],
  ['stacker-full', noArgument((e) => e.stackerFull())],
  ['stacker-open', noArgument((e) => e.stackerOpen())],
  ['path-open', noArgument((e) => e.pathOpen())],
  ['fraud', noArgument((e) => e.fraud())],
  ['clear', noArgument((e) => e.clear())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
  ['power-cycle-with-bill', noArgument((e) => e.powerCycleWithBill())],
  ['silent', noArgument((e) => e.silent())],
  ['garbage', noArgument((e) => e.garbage())],
]);

/**
 * Runs the emulated eSSP validator on a serial line, driven by operator lines on `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runEsspDevice(options: EsspDeviceOptions): Promise<EsspDevice> {
  const { port, input, output } = options;
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 2 });
  const emulator = new EsspEmulator({ transport, ...(options.timing ? { timing: options.timing } : {}) });
  return runCommandConsole({
    input,
    output,
    line: emulator,
    reporters: [emulator],
    banner: `eSSP emulator on ${port} (9600 8N2, address 0, encryption required); type help for commands`,
    target: emulator,
    commands: COMMANDS,
    help: HELP,
  });
}
