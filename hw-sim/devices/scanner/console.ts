import type { Readable, Writable } from 'node:stream';
import { noArgument, runCommandConsole, type Command } from '../command-console.js';
import { TEST_WALLETS, WALLET_BEHAVIOURS, walletCode, type TestWallet, type WalletBehaviour } from '../../wallet-codes.js';
import { COMMAND_HANDLING, ScannerEmulator, type CommandHandling, type ScannerMode } from './emulator.js';

export interface ScannerDeviceOptions {
  mode: ScannerMode;
  /** Keyboard mode: unix socket for the reports. */
  socket?: string;
  /** Serial mode: the serial device. */
  port?: string;
  commands?: CommandHandling;
  input: Readable;
  output: Writable;
}

export interface ScannerDevice {
  emulator: ScannerEmulator;
  stop(): Promise<void>;
}

const behaviours = Object.keys(WALLET_BEHAVIOURS) as WalletBehaviour[];
const wallets = (Object.keys(TEST_WALLETS) as TestWallet[]).filter((w) => w !== 'unknown');

const HELP = [
  'commands (one per line); CODE is behaviour[/wallet], default paid/wechat:',
  `  behaviours: ${behaviours.join(', ')}`,
  `  wallets:    ${wallets.join(', ')}`,
  '  show [CODE]             the customer shows a fresh payment code',
  '  unknown [behaviour]     a code of a wallet no kiosk knows (prefix 99)',
  '  twice [CODE]            the same code read twice',
  '  partial [CODE]          the read is cut short: half the code, no terminator',
  '  garbage                 a misread: bytes no code holds',
  '  long                    a code far longer than a payment code',
  `  commands <how>          serial: ${COMMAND_HANDLING.join(' | ')} the enable/disable commands`,
  '  unplug                  keyboard mode: the scanner is pulled out',
  '  status                  mode, connection and counts',
  '  help                    this text',
];

/** A fresh code of `behaviour[/wallet]`, with what the lines say about it. */
function codeFor(arg: string | undefined, wallet?: TestWallet): { code: string; what: string } {
  const [b = 'paid', w = wallet ?? 'wechat'] = (arg ?? '').split('/').map((s) => s || undefined);
  if (!(behaviours as string[]).includes(b)) throw new Error(`unknown behaviour '${b}' (known: ${behaviours.join(', ')})`);
  if (!Object.hasOwn(TEST_WALLETS, w)) throw new Error(`unknown wallet '${w}' (known: ${Object.keys(TEST_WALLETS).join(', ')})`);
  return { code: walletCode(b as WalletBehaviour, w as TestWallet), what: `${b}, ${w}` };
}

function showCode(e: ScannerEmulator, c: { code: string; what: string }, times = 1, partial = false): void {
  for (let i = 0; i < times; i++) e.show(c.code, i === 0 ? c.what : `${c.what}, again`, partial);
}

const COMMANDS: ReadonlyMap<string, Command<ScannerEmulator>> = new Map<string, Command<ScannerEmulator>>([
  ['show', (e, arg) => showCode(e, codeFor(arg))],
  ['unknown', (e, arg) => showCode(e, codeFor(arg?.split('/')[0], 'unknown'))],
  ['twice', (e, arg) => showCode(e, codeFor(arg), 2)],
  ['partial', (e, arg) => showCode(e, codeFor(arg), 1, true)],
  ['garbage', noArgument((e) => e.garbage())],
  ['long', noArgument((e) => e.show('1'.repeat(120), 'too long'))],
  [
    'commands',
    (e, arg) => {
      if (!(COMMAND_HANDLING as readonly string[]).includes(arg ?? '')) throw new Error(`needs one of ${COMMAND_HANDLING.join(', ')}`);
      e.setCommands(arg as CommandHandling);
    },
  ],
  ['unplug', noArgument((e) => e.unplug())],
]);

/** Runs the emulated scanner, driven by operator lines on `input`; only stop() ends it. */
export async function runScannerDevice(options: ScannerDeviceOptions): Promise<ScannerDevice> {
  const emulator = new ScannerEmulator({
    mode: options.mode,
    ...(options.socket ? { socket: options.socket } : {}),
    ...(options.port ? { port: options.port } : {}),
    ...(options.commands ? { commands: options.commands } : {}),
  });
  const console = await runCommandConsole({
    input: options.input,
    output: options.output,
    line: emulator,
    reporters: [emulator],
    banner: `2D code scanner emulator (${options.mode}) on ${options.mode === 'keyboard' ? options.socket : options.port}; type help for commands`,
    target: emulator,
    commands: COMMANDS,
    help: HELP,
  });
  return { emulator, stop: () => console.stop() };
}
