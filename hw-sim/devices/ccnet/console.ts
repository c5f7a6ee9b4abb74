import { SerialTransport } from '../../../drivers/transport/serial.js';
import { noArgument, runCommandConsole, type Command, type ConsoleOptions } from '../command-console.js';
import { CcnetEmulator, type CcnetTiming } from './emulator.js';

export interface CcnetDeviceOptions extends ConsoleOptions {
  timing?: Partial<CcnetTiming>;
}

export interface CcnetDevice {
  stop(): Promise<void>;
}

const HELP = [
  'commands (one per line):',
  '  insert <fen>            a customer inserts a note, e.g. insert 5000 for 50 yuan',
  '  jam | jam-stacker | stacker-full | stacker-open | cheated | pause | failure <hex>   inject a fault',
  '  clear                   end faults and silence',
  '  power-cycle             power cut: settings and any note in the path are lost',
  '  power-cycle-with-bill   power cut remembering the note (0x11 in the validator, 0x12 in the stacker)',
  '  silent                  stop answering the host until clear',
  '  garbage                 noise and a bad-CRC frame before the next reply',
  '  nak-next                answer the next host command with NAK (the host must send it again)',
  '  status                  print the state and the cash box',
  '  help                    this text',
];

const COMMANDS: ReadonlyMap<string, Command<CcnetEmulator>> = new Map<string, Command<CcnetEmulator>>([
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
        throw new Error('needs a one-byte hex code, e.g. failure 50');
      }
      emulator.failure(parseInt(arg.replace(/^0x/i, ''), 16));
    },
  ],
  ['jam', noArgument((e) => e.jam())],
  ['jam-stacker', noArgument((e) => e.jamStacker())],
  ['stacker-full', noArgument((e) => e.stackerFull())],
  ['stacker-open', noArgument((e) => e.stackerOpen())],
  ['cheated', noArgument((e) => e.cheated())],
  ['pause', noArgument((e) => e.pause())],
  ['clear', noArgument((e) => e.clear())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
  ['power-cycle-with-bill', noArgument((e) => e.powerCycleWithBill())],
  ['silent', noArgument((e) => e.silent())],
  ['garbage', noArgument((e) => e.garbage())],
  ['nak-next', noArgument((e) => e.nakNext())],
]);

/**
 * Runs the emulated CCNET validator on a serial line, driven by operator lines on `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runCcnetDevice(options: CcnetDeviceOptions): Promise<CcnetDevice> {
  const { port, input, output } = options;
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  const emulator = new CcnetEmulator({ transport, timing: options.timing });
  return runCommandConsole({
    input,
    output,
    line: emulator,
    reporters: [emulator],
    banner: `CCNET emulator on ${port} (9600 8N1, bill validator address 3); type help for commands`,
    target: emulator,
    commands: COMMANDS,
    help: HELP,
  });
}
