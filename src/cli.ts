#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { loadConfigOrExit } from './config/load.js';
import { controlOnce } from './control/client.js';
import type { ControlRequest } from './control/protocol.js';
import { requestFromWords } from './control/words.js';
import { registerDiagCommand } from './diag/command.js';
import { registerUpdateCommand } from './update/command.js';

const program = new Command();
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

program
  .name('kiosk')
  .description('Runtime of an unattended self-service payment kiosk and its tools on the board (the simulator is kiosk-sim).')
  .version(version)
  .showHelpAfterError();

program
  .command('run')
  .description('run the kiosk service with a configuration file (what systemd starts)')
  .option('-c, --config <file>', 'configuration file (JSON)', process.env.KIOSK_CONFIG ?? '/etc/kiosk/config.json')
  .action(async (opts: { config: string }) => {
    const { runKiosk } = await import('./run-kiosk.js');
    await runKiosk(opts.config);
  });

const consoleCmd = program
  .command('console')
  .description("the engineers' console on a serial line (115200 8N1), or on this terminal without --port")
  .option('--port <path>', 'serial device, e.g. /dev/ttyS0')
  .option('-c, --config <file>', 'configuration file (JSON)', process.env.KIOSK_CONFIG ?? '/etc/kiosk/config.json')
  .option('--socket <path>', 'control socket of the running kiosk (default: from the configuration)')
  .action(async (opts: { port?: string; config: string; socket?: string }) => {
    const config = loadConfigOrExit(opts.config);
    const { serveConsole } = await import('./console/serve.js');
    const served = await serveConsole({
      config,
      socket: opts.socket ?? config.control.consoleSocket,
      ...(opts.port ? { port: opts.port } : {}),
    });
    stopOnSignal(() => served.stop());
    await served.ended;
    await served.stop();
    process.exit(0);
  });
consoleCmd
  .command('hash-pin')
  .description('read a PIN twice without echo and print its scrypt hash for console.engineers[].pin')
  .action(async () => {
    const { hashPinCommand } = await import('./console/serve.js');
    await hashPinCommand().catch((e: Error) => {
      console.error(`kiosk console hash-pin: ${e.message}`);
      process.exit(2);
    });
  });

const journalCmd = program.command('journal').description('the money journal');
journalCmd
  .command('verify')
  .description('check the journal read-only: the keyed hash chain (first broken link) and the money invariants')
  .option('-c, --config <file>', 'configuration file (JSON)', process.env.KIOSK_CONFIG ?? '/etc/kiosk/config.json')
  .option('--json', 'print one JSON object')
  .action(async (opts: { config: string; json?: boolean }) => {
    const config = loadConfigOrExit(opts.config);
    const { journalVerifyCommand } = await import('./journal/verify-command.js');
    const ok = journalVerifyCommand({ config, json: opts.json ?? false, out: process.stdout });
    process.exit(ok ? 0 : 1);
  });

const configCmd = program.command('config').description('configuration tools');
configCmd
  .command('check')
  .argument('<file>', 'configuration file (JSON)')
  .description('validate a configuration file and print it with defaults filled in, secrets masked; warn of factory secrets')
  .action(async (file: string) => {
    const config = loadConfigOrExit(file);
    const { maskSecrets, secretWarnings } = await import('./config/secrets.js');
    const { weakPins } = await import('./console/pin.js');
    console.log(JSON.stringify(maskSecrets(config), null, 2));
    for (const warning of [...secretWarnings(config), ...weakPins(config.console.engineers)]) console.error(`warning: ${warning}`);
  });

program
  .command('ctl')
  .description('send one request to a running kiosk (status, start <service>, number <phone>, confirm, card, mobile code|qr, done, topup-offline, cancel, transactions, transaction <id>, verify, forward-now, hoppers)')
  .argument('<command>')
  .argument('[arg]')
  .option('--socket <path>', 'control socket', defaultSocket())
  .action(async (command: string, arg: string | undefined, opts: { socket: string }) => {
    let req: ControlRequest;
    try {
      req = requestFromWords(command, arg);
    } catch (e) {
      fail((e as Error).message);
    }
    const res = await controlOnce(opts.socket, req).catch((e: Error) => {
      console.error(e.message);
      process.exit(1);
    });
    console.log(JSON.stringify(res, null, 2));
    process.exit(res.ok ? 0 : 1);
  });

// `kiosk sim …` was the simulator's command before it became kiosk-sim; kept for one release. The
// product only starts the sibling script by its path, so it does not import the simulator.
program
  .command('sim', { hidden: true })
  .description('deprecated: use kiosk-sim')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]')
  .action((args: string[]) => {
    const simCli = fileURLToPath(new URL('../hw-sim/cli.js', import.meta.url));
    if (!existsSync(simCli)) fail('the simulator (kiosk-sim) is not installed here', 'kiosk sim');
    console.error('kiosk sim: deprecated, use kiosk-sim');
    const child = spawnSync(process.execPath, [simCli, ...args], { stdio: 'inherit' });
    process.exit(child.status ?? 1);
  });

function fail(message: string, command = 'kiosk ctl'): never {
  console.error(`${command}: ${message}`);
  process.exit(2);
}

function defaultSocket(): string {
  if (process.env.KIOSK_SOCKET) return process.env.KIOSK_SOCKET;
  return existsSync('var/embedded/kiosk.sock') ? 'var/embedded/kiosk.sock' : '/run/kiosk/kiosk.sock';
}

function stopOnSignal(stop: () => Promise<void>): void {
  const handler = () => void stop().then(() => process.exit(0));
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

registerDiagCommand(program);
registerUpdateCommand(program);

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`kiosk: ${e.message}`);
  process.exit(1);
});
