#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfigFile } from './config/load.js';
import { controlOnce } from './control/client.js';
import type { ControlRequest } from './control/protocol.js';
import { createLogger } from './log.js';

const program = new Command();
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

program
  .name('kiosk')
  .description('Runtime of an unattended self-service payment kiosk, with its simulators and tools.')
  .version(version)
  .showHelpAfterError();

program
  .command('start')
  .description('run the kiosk on its embedded default: emulated validator on a pty, reference server, local SQLite; type commands to act as the customer')
  .option('--dir <folder>', 'folder for the embedded run', 'var/embedded')
  .action(async (opts: { dir: string }) => {
    const { runEmbedded } = await import('./embedded.js');
    await runEmbedded(opts.dir);
  });

program
  .command('run')
  .description('run the kiosk service with a configuration file (what systemd starts)')
  .option('-c, --config <file>', 'configuration file (JSON)', process.env.KIOSK_CONFIG ?? '/etc/kiosk/config.json')
  .action(async (opts: { config: string }) => {
    const config = loadConfigOrExit(opts.config);
    const log = createLogger(config.log.level);
    const { Runtime } = await import('./runtime/runtime.js');
    const crashAfter = process.env.KIOSK_CRASH_AFTER;
    const runtime = new Runtime(config, log, crashAfter ? { crashAfter } : {});
    const shutdown = (signal: string) => {
      log.info({ signal }, 'stopping');
      runtime.stop().then(
        () => process.exit(0),
        (e: Error) => {
          log.error({ err: e.message }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    await runtime.start();
  });

const configCmd = program.command('config').description('configuration tools');
configCmd
  .command('check')
  .argument('<file>', 'configuration file (JSON)')
  .description('validate a configuration file and print it with defaults filled in')
  .action((file: string) => {
    const config = loadConfigOrExit(file);
    console.log(JSON.stringify(config, null, 2));
  });

program
  .command('host')
  .description('run the reference central server (account look-up, payment posting)')
  .option('--port <n>', 'TCP port on loopback', parsePort, 8480)
  .option('--listen <address>', 'address to listen on', '127.0.0.1')
  .option('--db <file>', 'its own SQLite file', 'var/host/host.db')
  .option('--mode <mode>', 'ok | slow | down | garbage', 'ok')
  .option('--delay <ms>', 'delay for --mode slow', parsePort, 3000)
  .action(async (opts: { port: number; listen: string; db: string; mode: string; delay: number }) => {
    const { startHost } = await import('../hw-sim/host/server.js');
    const modes = ['ok', 'slow', 'down', 'garbage'] as const;
    const mode = modes.find((m) => m === opts.mode);
    if (!mode) {
      console.error(`kiosk host: --mode must be one of ${modes.join(', ')}`);
      process.exit(2);
    }
    const host = await startHost({ port: opts.port, host: opts.listen, dbPath: opts.db });
    host.setMode(mode, opts.delay);
    console.log(`reference server listening on ${host.url} (mode ${mode}, records in ${opts.db})`);
    const stop = () => void host.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

const sim = program.command('sim').description('simulators and scripted scenarios');
const simDevice = sim.command('device').description('run a wire-level device emulator on a serial port');
simDevice
  .command('id003')
  .description('JCM ID-003 bill validator emulator; commands on standard input, one per line (help lists them)')
  .requiredOption('--port <path>', 'serial device: one end of a socat pty pair or a USB-serial adapter')
  .action(async (opts: { port: string }) => {
    const { runId003Device } = await import('../hw-sim/devices/id003/console.js');
    const device = await runId003Device({ port: opts.port, input: process.stdin, output: process.stdout });
    const stop = () => void device.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

sim
  .command('run')
  .description('run scripted scenarios against the real runtime, emulators on ptys and the reference server')
  .argument('<files...>', 'scenario files (JSON)')
  .option('--json', 'print one result object per scenario, one per line')
  .option('--keep', 'keep each scenario folder (logs, journal) for inspection')
  .action(async (files: string[], opts: { json?: boolean; keep?: boolean }) => {
    const { runScenarioFiles } = await import('../hw-sim/runner/run.js');
    const ok = await runScenarioFiles(files, { json: opts.json ?? false, keep: opts.keep ?? false });
    process.exit(ok ? 0 : 1);
  });

program
  .command('ctl')
  .description('send one request to a running kiosk (status, start <service>, number <phone>, confirm, done, topup-offline, cancel, transactions, transaction <id>, verify, forward-now)')
  .argument('<command>')
  .argument('[arg]')
  .option('--socket <path>', 'control socket', defaultSocket())
  .action(async (command: string, arg: string | undefined, opts: { socket: string }) => {
    const req = ctlRequest(command, arg);
    const res = await controlOnce(opts.socket, req).catch((e: Error) => {
      console.error(e.message);
      process.exit(1);
    });
    console.log(JSON.stringify(res, null, 2));
    process.exit(res.ok ? 0 : 1);
  });

function ctlRequest(command: string, arg: string | undefined): ControlRequest {
  switch (command) {
    case 'start':
      if (arg !== 'pay' && arg !== 'topup' && arg !== 'lookup') fail('start needs a service: pay, topup or lookup');
      return { cmd: 'start', service: arg };
    case 'number':
      if (!arg) fail('number needs the phone number');
      return { cmd: 'number', phone: arg };
    case 'transaction':
      if (!arg) fail('transaction needs an id');
      return { cmd: 'transaction', id: arg };
    case 'transactions':
      return arg ? { cmd: 'transactions', limit: Number(arg) } : { cmd: 'transactions' };
    case 'status':
    case 'confirm':
    case 'done':
    case 'topup-offline':
    case 'cancel':
    case 'verify':
    case 'forward-now':
      return { cmd: command };
    default:
      fail(`unknown command '${command}'`);
  }
}

function fail(message: string): never {
  console.error(`kiosk ctl: ${message}`);
  process.exit(2);
}

function defaultSocket(): string {
  if (process.env.KIOSK_SOCKET) return process.env.KIOSK_SOCKET;
  return existsSync('var/embedded/kiosk.sock') ? 'var/embedded/kiosk.sock' : '/run/kiosk/kiosk.sock';
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a whole number 0-65535');
  return n;
}

function loadConfigOrExit(path: string) {
  try {
    return loadConfigFile(path);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
}

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`kiosk: ${e.message}`);
  process.exit(1);
});
