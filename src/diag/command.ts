import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfigOrExit } from '../config/load.js';
// run.js (and with it every driver) is loaded only when the command runs, not for `kiosk --help`.
import { DIAG_KINDS, type DiagKind } from './kinds.js';

interface DiagFlags {
  config?: string;
  port?: string;
  kind?: DiagKind;
  address?: number;
  coin?: number;
  json?: boolean;
  payout?: boolean;
  print?: boolean;
  scan?: boolean;
}

/** `kiosk diag`: exit 0 when every device passed, 1 when one failed, 2 for a usage or configuration error. */
export function registerDiagCommand(program: Command): void {
  program
    .command('diag')
    .description(
      'test each device (validator, coin acceptor, hoppers, printer, card reader, payment terminal, code scanner) before service; while the kiosk service runs, --config has the service test them',
    )
    .option('-c, --config <file>', 'configuration file (JSON); default $KIOSK_CONFIG or /etc/kiosk/config.json')
    .option('--port <path>', 'check only the device on this port (with --kind)')
    .addOption(new Option('--kind <kind>', 'what is on --port').choices(DIAG_KINDS))
    .option('--address <n>', 'ccTalk address of the device on --port', parseAddress)
    .option('--coin <fen>', 'value of one coin of the hopper on --port, in fen (100 = 1 yuan), for the payout report', parseCoin)
    .option('--json', 'print one JSON object {devices, ok} and nothing else')
    .option('--payout', 'pay ONE real coin from each hopper')
    .option('--print', 'print a test page')
    .option('--scan', 'wait for one test code at the scanner (shown within the check time-out)')
    .action(async (flags: DiagFlags) => {
      const single = flags.port !== undefined || flags.kind !== undefined;
      if (single && (flags.port === undefined || flags.kind === undefined)) usage('--port and --kind go together');
      if (flags.address !== undefined && flags.kind !== 'cctalk-coin' && flags.kind !== 'cctalk-hopper') {
        usage('--address is for --kind cctalk-coin or cctalk-hopper');
      }
      if (flags.coin !== undefined && flags.kind !== 'cctalk-hopper') usage('--coin is for --kind cctalk-hopper (with --config the configured coin value is used)');
      const configPath = flags.config ?? (single ? undefined : (process.env.KIOSK_CONFIG ?? '/etc/kiosk/config.json'));
      const config = configPath !== undefined ? loadConfigOrExit(configPath) : undefined;
      const { runDiag } = await import('./run.js');
      const ok = await runDiag({
        ...(config ? { config } : {}),
        ...(flags.port !== undefined ? { port: flags.port } : {}),
        ...(flags.kind !== undefined ? { kind: flags.kind } : {}),
        ...(flags.address !== undefined ? { address: flags.address } : {}),
        ...(flags.coin !== undefined ? { coinValue: flags.coin } : {}),
        json: flags.json ?? false,
        payout: flags.payout ?? false,
        print: flags.print ?? false,
        scan: flags.scan ?? false,
        out: process.stdout,
        isTTY: process.stdout.isTTY === true,
      });
      process.exit(ok ? 0 : 1);
    });
}

function usage(message: string): never {
  console.error(`kiosk diag: ${message}`);
  process.exit(2);
}

function parseCoin(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected the coin value in fen, e.g. 100 for 1 yuan');
  return n;
}

function parseAddress(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new InvalidArgumentError('expected a ccTalk address 1-255');
  return n;
}
