import { SerialTransport } from '../../../drivers/transport/serial.js';
import { noArgument, runCommandConsole, wholeNumber, type Command, type ConsoleOptions, type Reporter } from '../command-console.js';
import { CctalkBus, type BusDevice } from './bus.js';
import { CoinAcceptorEmulator } from './coin-acceptor.js';
import { HopperEmulator, type HopperSecurity } from './hopper.js';

interface CctalkConsoleOptions extends ConsoleOptions {
  address?: number;
  /** Hand the host's bytes back as the single-wire bus does (default true). */
  echo?: boolean;
}

export type CctalkCoinDeviceOptions = CctalkConsoleOptions;

export interface CctalkHopperDeviceOptions extends CctalkConsoleOptions {
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

type ConsoleDevice = BusDevice & Reporter & { describe(): string };


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

const COIN_COMMANDS: ReadonlyMap<string, Command<CoinAcceptorEmulator>> = new Map<string, Command<CoinAcceptorEmulator>>([
  ['insert', wholeNumber('insert 100', (e, fen) => e.insert(fen))],
  ['flood', wholeNumber('flood 8', (e, n) => e.flood(n))],
  ['jam', noArgument((e) => e.jam())],
  ['silent', noArgument((e) => e.silent())],
  ['clear', noArgument((e) => e.clear())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
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

const HOPPER_COMMANDS: ReadonlyMap<string, Command<HopperEmulator>> = new Map<string, Command<HopperEmulator>>([
  ['empty', noArgument((e) => e.empty())],
  ['refill', wholeNumber('refill 100', (e, n) => e.refill(n))],
  ['jam', noArgument((e) => e.jam())],
  ['silent', noArgument((e) => e.silent())],
  ['clear', noArgument((e) => e.clear())],
  ['power-cycle', noArgument((e) => e.powerCycle())],
]);

/**
 * Puts one emulated device on a serial line (9600 8N1) and reads operator lines from `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
async function runDevice<E extends ConsoleDevice>(
  options: CctalkConsoleOptions,
  emulator: E,
  commands: ReadonlyMap<string, Command<E>>,
  help: readonly string[],
  title: string,
  onStop?: () => void,
): Promise<CctalkDevice<E>> {
  const { port, input, output } = options;
  const transport = new SerialTransport({ path: port, baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  const bus = new CctalkBus({ transport, echo: options.echo ?? true });
  bus.attach(emulator);
  const { stop } = await runCommandConsole({
    input,
    output,
    line: {
      start: () => bus.start(),
      stop: () => {
        onStop?.();
        return bus.stop();
      },
    },
    reporters: [bus, emulator],
    banner: `${title} at address ${emulator.address} on ${port} (9600 8N1, echo ${bus.echo ? 'on' : 'off'}); type help for commands`,
    target: emulator,
    commands,
    help,
  });
  return { emulator, stop };
}

/** The emulated CNY coin acceptor (default address 2) on a serial line. */
export function runCctalkCoinDevice(options: CctalkCoinDeviceOptions): Promise<CctalkDevice<CoinAcceptorEmulator>> {
  const emulator = new CoinAcceptorEmulator({ address: options.address });
  return runDevice(options, emulator, COIN_COMMANDS, COIN_HELP, 'ccTalk coin acceptor');
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
  return runDevice(options, emulator, HOPPER_COMMANDS, HOPPER_HELP, 'ccTalk hopper', () => emulator.shutdown());
}
