import { SerialTransport } from '../../../drivers/transport/serial.js';
import { noArgument, runCommandConsole, type Command, type ConsoleOptions } from '../command-console.js';
import type { LinePacing } from '../line-pacing.js';
import { Id003Emulator, type FrameTiming, type Id003Timing } from './emulator.js';

export interface Id003DeviceOptions extends ConsoleOptions {
  timing?: Partial<Id003Timing>;
  pacing?: LinePacing;
  /** Told of each frame on the line with its time (the benchmarks measure the host with it). */
  onFrame?: (timing: FrameTiming) => void;
}

export interface Id003Device {
  stop(): Promise<void>;
}

const HELP = [
  'commands (one per line):',
  '  insert <fen>            a customer inserts a note, e.g. insert 5000 for 50 yuan',
  '  jam | stacker-full | stacker-open | cheated | pause | failure <hex>   inject a fault',
  '  clear                   end faults and silence',
  '  power-cycle             power cut: settings and any note in the path are lost',
  '  power-cycle-with-bill   power cut remembering the note (0x41 in acceptor, 0x42 in stacker)',
  '  silent                  stop answering the host until clear',
  '  garbage                 noise and a bad-CRC frame before the next reply',
  '  status                  print the state and the cash box',
  '  help                    this text',
];

const COMMANDS: ReadonlyMap<string, Command<Id003Emulator>> = new Map<string, Command<Id003Emulator>>([
  [
    'insert',
    (emulator, arg) => {
      if (arg === undefined || !/^\d+$/.test(arg)) throw new Error('needs an amount in fen, e.g. insert 5000');
      emulator.insert(Number(arg));
    },
  ],
  [
    'failure',
    (emulator, arg) => {
      if (arg === undefined || !/^(0x)?[0-9a-f]{1,2}$/i.test(arg)) {
        throw new Error('needs a one-byte hex code, e.g. failure A2');
      }
      emulator.failure(parseInt(arg.replace(/^0x/i, ''), 16));
    },
  ],
  ['jam', noArgument((e) => e.jam())],
  ['stacker-full', noArgument((e) => e.stackerFull())],
  ['stacker-open', noArgument((e) => e.stackerOpen())],
  ['cheated', noArgument((e) => e.cheated())],
  ['pause', noArgument((e) => e.pause())],
  ['clear', noArgument((e) => e.clear())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
  ['power-cycle-with-bill', noArgument((e) => e.powerCycleWithBill())],
  ['silent', noArgument((e) => e.silent())],
  ['garbage', noArgument((e) => e.garbage())],
]);

/**
 * Runs the emulated ID-003 validator on a serial line, driven by operator lines on `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runId003Device(options: Id003DeviceOptions): Promise<Id003Device> {
  const { port, input, output } = options;
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'even', stopBits: 1 });
  const emulator = new Id003Emulator({ transport, timing: options.timing, pacing: options.pacing });
  if (options.onFrame) emulator.on('frame', options.onFrame);
  return runCommandConsole({
    input,
    output,
    line: emulator,
    reporters: [emulator],
    banner: `ID-003 emulator on ${port} (9600 8E1); type help for commands`,
    target: emulator,
    commands: COMMANDS,
    help: HELP,
  });
}
