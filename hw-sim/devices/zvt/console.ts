import type { Readable, Writable } from 'node:stream';
import { noArgument, runCommandConsole, type Command } from '../command-console.js';
import { OUTCOMES, ZvtEmulator, type Outcome } from './emulator.js';
import { SerialTerminalLine, TcpTerminalLine, type TerminalLine } from './lines.js';

export interface ZvtDeviceOptions {
  /** Listen on this TCP port (0: any free port) … */
  tcp?: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** … or speak on this serial device (one end of a socat pty pair or a USB-serial adapter). */
  port?: string;
  password?: string;
  stepMs?: number;
  ackTimeoutMs?: number;
  input: Readable;
  output: Writable;
}

export interface ZvtDevice {
  emulator: ZvtEmulator;
  /** The TCP port listened on, when on TCP. */
  tcpPort: number | undefined;
  stop(): Promise<void>;
}

const HELP = [
  'commands (one per line); each outcome applies to the next authorisation only:',
  '  approve                 approve it (the default)',
  '  decline                 the host declines it',
  '  timeout                 acknowledge it, then never answer (also for a reversal or end of day)',
  '  silent-after-pin        ask for the card and the PIN, then never answer',
  '  garbage                 noise on the line first, then approve',
  '  drop-after-approval     approve, then cut the link before the completion',
  '  status                  print the outcome chosen and the bookings (approved, reversed, net)',
  '  help                    this text',
];

const COMMANDS: ReadonlyMap<string, Command<ZvtEmulator>> = new Map(
  OUTCOMES.map((o: Outcome): [string, Command<ZvtEmulator>] => [o, noArgument((e) => e.choose(o))]),
);

/**
 * Runs the emulated payment terminal on TCP or on a serial line, driven by operator lines on `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runZvtDevice(options: ZvtDeviceOptions): Promise<ZvtDevice> {
  if ((options.tcp === undefined) === (options.port === undefined)) throw new Error('give either a TCP port or a serial port');
  const line: TerminalLine = options.port !== undefined ? new SerialTerminalLine(options.port) : new TcpTerminalLine(options.tcp!, options.host);
  const emulator = new ZvtEmulator({
    line,
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.stepMs !== undefined ? { stepMs: options.stepMs } : {}),
    ...(options.ackTimeoutMs !== undefined ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
  });
  const console = await runCommandConsole({
    input: options.input,
    output: options.output,
    line: emulator,
    reporters: [emulator],
    banner: 'ZVT payment terminal emulator; type help for commands',
    target: emulator,
    commands: COMMANDS,
    help: HELP,
  });
  return { emulator, tcpPort: line instanceof TcpTerminalLine ? line.port : undefined, stop: () => console.stop() };
}
