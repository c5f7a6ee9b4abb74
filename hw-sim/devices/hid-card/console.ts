import type { Readable, Writable } from 'node:stream';
import { noArgument, runCommandConsole, type Command } from '../command-console.js';
import { HidCardEmulator, type ReaderKind } from './emulator.js';
import { FAULTS, SERVER_TEST_CARDS, TEST_CARDS, type Fault } from './reports.js';

export interface HidCardDeviceOptions {
  socket: string;
  kind: ReaderKind;
  lrc?: boolean;
  input: Readable;
  output: Writable;
}

export interface HidCardDevice {
  emulator: HidCardEmulator;
  stop(): Promise<void>;
}

const HELP = [
  'commands (one per line):',
  `  swipe [card]            a good swipe of a test card (${Object.keys(TEST_CARDS).join(', ')}; default visa)`,
  `                          or of one the reference server answers in its way (${Object.keys(SERVER_TEST_CARDS).join(', ')})`,
  '  garbage [card]          the reader sends noise',
  '  missing-sentinel [card] the tracks come without their start sentinels',
  '  bad-lrc [card]          the tracks come with a wrong LRC',
  '  too-fast [card]         a swipe too fast: the tracks are cut short (vendor: not decoded)',
  '  unplug                  the reader is pulled out',
  '  status                  kind, connection and counts',
  '  help                    this text',
];

const swipeWith = (fault: Fault): Command<HidCardEmulator> => (e, card) => e.swipe(card ?? 'visa', fault);

const COMMANDS: ReadonlyMap<string, Command<HidCardEmulator>> = new Map<string, Command<HidCardEmulator>>([
  ['swipe', swipeWith('none')],
  ...FAULTS.filter((f) => f !== 'none').map((f): [string, Command<HidCardEmulator>] => [f, swipeWith(f)]),
  ['unplug', noArgument((e) => e.unplug())],
]);

/** Runs the emulated reader on a unix socket, driven by operator lines on `input`; only stop() ends it. */
export async function runHidCardDevice(options: HidCardDeviceOptions): Promise<HidCardDevice> {
  const emulator = new HidCardEmulator({ socket: options.socket, kind: options.kind, ...(options.lrc ? { lrc: true } : {}) });
  const console = await runCommandConsole({
    input: options.input,
    output: options.output,
    line: emulator,
    reporters: [emulator],
    banner: `magnetic stripe reader emulator (${options.kind}) on ${options.socket}; type help for commands`,
    target: emulator,
    commands: COMMANDS,
    help: HELP,
  });
  return { emulator, stop: () => console.stop() };
}
