import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { SerialTransport } from '../../../drivers/transport/serial.js';
import { CctalkBus, type BusDevice } from './bus.js';
import { CoinAcceptorEmulator } from './coin-acceptor.js';
import { HopperEmulator, type HopperSecurity } from './hopper.js';

interface ConsoleOptions {
  /** Serial device path: one end of a socat pty pair or a USB-serial adapter. */
  port: string;
  /** Operator commands, one per line. */
  input: Readable;
  /** One line per event and per answer to the operator. */
  output: Writable;
  address?: number;
  /** Hand the host's bytes back as the single-wire bus does (default true). */
  echo?: boolean;
}

export type CctalkCoinDeviceOptions = ConsoleOptions;

export interface CctalkHopperDeviceOptions extends ConsoleOptions {
  serial?: number;
  coinValue?: number;
  level?: number;
  security?: HopperSecurity;
  coinIntervalMs?: number;
}

export interface CctalkDevice<E> {
  stop(): Promise<void>;
  emulator: E;
}

type Action<E> = (emulator: E, arg: string | undefined) => string[] | void;

interface ConsoleDevice extends BusDevice {
  on(event: 'report', listener: (line: string) => void): unknown;
  off(event: 'report', listener: (line: string) => void): unknown;
  describe(): string;
}

function noArgument<E>(run: (emulator: E) => string[] | void): Action<E> {
  return (emulator, arg) => {
    if (arg !== undefined) throw new Error('takes no argument');
    return run(emulator);
  };
}

function count<E>(usage: string, run: (emulator: E, n: number) => void): Action<E> {
  return (emulator, arg) => {
    if (arg === undefined || !/^\d+$/.test(arg)) throw new Error(`needs a whole number, e.g. ${usage}`);
    run(emulator, Number(arg));
  };
}

const COIN_HELP = [
  'commands (one per line):',
  '  insert <fen>     a customer drops a coin, e.g. insert 100 for 1 yuan (100, 50, 10 are known)',
  '  flood <n>        n coins of 100 fen at once (more than 5 between polls loses events)',
  '  jam              coin path blocked: alarm event, nothing gets through until clear',
  '  silent           stop answering the host until clear',
  '  clear            end the jam and the silence',
  '  power-cycle      power cut: event counter 0, master inhibited, inhibits off',
  '  status           print the state',
  '  help             this text',
];

const COIN_ACTIONS: ReadonlyMap<string, Action<CoinAcceptorEmulator>> = new Map<string, Action<CoinAcceptorEmulator>>([
  ['insert', count('insert 100', (e, fen) => e.insert(fen))],
  ['flood', count('flood 8', (e, n) => e.flood(n))],
  ['jam', noArgument((e) => e.jam())],
  ['silent', noArgument((e) => e.silent())],
  ['clear', noArgument((e) => e.clear())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
  ['status', noArgument((e) => [e.describe()])],
  ['help', noArgument(() => COIN_HELP)],
]);

const HOPPER_HELP = [
  'commands (one per line):',
  '  empty            no coins left: a payout then ends with coins unpaid',
  '  refill <count>   put coins into the hopper',
  '  jam              exit blocked: the current payout stops short, dispense refused until clear',
  '  silent           stop answering the host until clear',
  '  clear            end the jam and the silence',
  '  power-cycle      power cut: payout stops for good, event 0, paid/unpaid kept',
  '  status           print the state',
  '  help             this text',
];

const HOPPER_ACTIONS: ReadonlyMap<string, Action<HopperEmulator>> = new Map<string, Action<HopperEmulator>>([
  ['empty', noArgument((e) => e.empty())],
  ['refill', count('refill 100', (e, n) => e.refill(n))],
  ['jam', noArgument((e) => e.jam())],
  ['silent', noArgument((e) => e.silent())],
  ['clear', noArgument((e) => e.clear())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
  ['status', noArgument((e) => [e.describe()])],
  ['help', noArgument(() => HOPPER_HELP)],
]);

/**
 * Puts one emulated device on a serial line (9600 8N1) and reads operator lines from `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
async function runDevice<E extends ConsoleDevice>(
  options: ConsoleOptions,
  emulator: E,
  actions: ReadonlyMap<string, Action<E>>,
  title: string,
  onStop?: () => void,
): Promise<CctalkDevice<E>> {
  const { port, input, output } = options;
  const say = (line: string): void => {
    output.write(`${line}\n`);
  };
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  const bus = new CctalkBus({ transport, echo: options.echo ?? true });
  bus.attach(emulator);
  bus.on('report', say);
  emulator.on('report', say);
  await bus.start();
  say(`${title} at address ${emulator.address} on ${port} (9600 8N1, echo ${bus.echo ? 'on' : 'off'}); type help for commands`);

  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  lines.on('line', (raw) => {
    const words = raw.trim().split(/\s+/).filter((w) => w.length > 0);
    if (words.length === 0) return;
    const [name, arg, extra] = words as [string, string | undefined, string | undefined];
    const action = actions.get(name.toLowerCase());
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
    emulator,
    stop(): Promise<void> {
      stopped ??= (async () => {
        lines.close();
        onStop?.();
        await bus.stop();
        emulator.off('report', say);
        bus.off('report', say);
      })();
      return stopped;
    },
  };
}

/** The emulated CNY coin acceptor (default address 2) on a serial line. */
export function runCctalkCoinDevice(options: CctalkCoinDeviceOptions): Promise<CctalkDevice<CoinAcceptorEmulator>> {
  const emulator = new CoinAcceptorEmulator({ address: options.address });
  return runDevice(options, emulator, COIN_ACTIONS, 'ccTalk coin acceptor');
}

/** The emulated payout hopper (default address 3) on a serial line. */
export function runCctalkHopperDevice(options: CctalkHopperDeviceOptions): Promise<CctalkDevice<HopperEmulator>> {
  const emulator = new HopperEmulator({
    address: options.address,
    serial: options.serial,
    coinValue: options.coinValue,
    level: options.level,
    security: options.security,
    coinIntervalMs: options.coinIntervalMs,
  });
  return runDevice(options, emulator, HOPPER_ACTIONS, 'ccTalk hopper', () => emulator.shutdown());
}
