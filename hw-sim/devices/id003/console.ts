import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { SerialTransport } from '../../../drivers/transport/serial.js';
import { Id003Emulator, type Id003Timing } from './emulator.js';

export interface Id003DeviceOptions {
  /** Serial device path: one end of a socat pty pair or a USB-serial adapter. */
  port: string;
  /** Operator commands, one per line. */
  input: Readable;
  /** One line per event and per answer to the operator. */
  output: Writable;
  timing?: Partial<Id003Timing>;
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

type Action = (emulator: Id003Emulator, arg: string | undefined) => string[] | void;

function noArgument(run: (emulator: Id003Emulator) => string[] | void): Action {
  return (emulator, arg) => {
    if (arg !== undefined) throw new Error('takes no argument');
    return run(emulator);
  };
}

const ACTIONS: ReadonlyMap<string, Action> = new Map<string, Action>([
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
  ['status', noArgument((e) => [e.describe()])],
  ['help', noArgument(() => HELP)],
]);

/**
 * Runs the emulated ID-003 validator on a serial line, driven by operator lines on `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runId003Device(options: Id003DeviceOptions): Promise<Id003Device> {
  const { port, input, output } = options;
  const say = (line: string): void => {
    output.write(`${line}\n`);
  };
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'even', stopBits: 1 });
  const emulator = new Id003Emulator({ transport, timing: options.timing });
  emulator.on('report', say);
  await emulator.start();
  say(`ID-003 emulator on ${port} (9600 8E1); type help for commands`);

  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  lines.on('line', (raw) => {
    const words = raw.trim().split(/\s+/).filter((w) => w.length > 0);
    if (words.length === 0) return;
    const [name, arg, extra] = words as [string, string | undefined, string | undefined];
    const action = ACTIONS.get(name.toLowerCase());
    if (!action) {
      say(`error: unknown command "${name}" (type help)`);
      return;
    }
    try {
      if (extra !== undefined) throw new Error('too many arguments');
      for (const line of action(emulator, arg) ?? []) say(line);
    } catch (err) {
      say(`error: ${name}: ${(err as Error).message}`);
    }
  });

  let stopped: Promise<void> | undefined;
  return {
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
