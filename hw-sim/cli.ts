#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { EMULATED_VALIDATOR_MODELS, VALIDATOR_EMULATORS } from './devices/validators.js';
import { registerReleaseCommand } from './release/command.js';

const program = new Command();
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

program
  .name('kiosk-sim')
  .description("The kiosk's simulator: the embedded default, device emulators, the reference server, development certificates, scenarios, soak, crash campaign and fault matrix.")
  .version(version)
  .showHelpAfterError();

program
  .command('start')
  .description('run the kiosk on its embedded default: emulated validator on a pty, reference server, local SQLite; type commands to act as the customer')
  .option('--dir <folder>', 'folder for the embedded run', 'var/embedded')
  .option('--mqtt', 'the management link over MQTT 5: a Mosquitto on a free port with the reference consumer behind it (default: HTTPS)')
  .action(async (opts: { dir: string; mqtt?: boolean }) => {
    const { runEmbedded } = await import('./embedded/launcher.js');
    await runEmbedded(opts.dir, { mqtt: opts.mqtt === true });
  });

program
  .command('host')
  .description('run the reference central server: the business link over mutual TLS, and a plain admin endpoint on loopback')
  .option('--port <n>', 'TCP port of the business link', parseWhole, 8480)
  .option('--admin-port <n>', 'admin HTTP port on 127.0.0.1 (/_records, /_mode, /_card, /_accounts)', parseWhole, 8481)
  .option('--listen <address>', 'address the business link listens on', '127.0.0.1')
  .option('--db <file>', 'its own SQLite file', 'var/host/host.db')
  .option('--mode <mode>', 'ok | slow | down | garbage | error | drop-after-store | double-ack', 'ok')
  .option('--delay <ms>', 'delay for --mode slow', parseWhole, 3000)
  .option('--card-mode <mode>', 'card authorisations: by-card (test card numbers decide) | approve | decline | timeout | drop-after-approve | bad-answer', 'by-card')
  .option('--pki <dir>', 'development PKI to use, created when missing (as `kiosk-sim pki init` makes it)', 'var/pki')
  .option('--ca <file>', 'CA that signs kiosk certificates (with --cert and --key instead of --pki)')
  .option('--cert <file>', "the server's certificate")
  .option('--key <file>', "the server's private key")
  .option('--print', 'print what the database holds (payments, reversals, anomalies, accounts, card authorisations and balance) as JSON and exit')
  .action(async (opts: import('./host/command.js').HostCommandOptions) => {
    const { hostCommand } = await import('./host/command.js');
    const code = await hostCommand(opts);
    if (code !== undefined) process.exit(code);
  });

const pki = program.command('pki').description('certificates for the links to the central side');
pki
  .command('init')
  .description('create a development CA, a server certificate and this kiosk\'s client certificate')
  .option('--dir <dir>', 'where to write them', 'var/pki')
  .option('--terminal-id <id>', 'common name of the kiosk certificate', 'KIOSK-0001')
  .option('--host <name...>', 'names and addresses the server certificate covers', ['localhost', '127.0.0.1'])
  .option('--force', 'replace certificates that already exist')
  .action(async (opts: { dir: string; terminalId: string; host: string[]; force?: boolean }) => {
    const { createDevPki } = await import('./pki/dev-pki.js');
    const { files, created } = await createDevPki(opts.dir, { terminalId: opts.terminalId, serverHosts: opts.host, force: opts.force === true });
    console.log(created ? `development certificates written to ${opts.dir}:` : `certificates already in ${opts.dir} (use --force to replace):`);
    for (const [what, path] of Object.entries(files)) console.log(`  ${what.padEnd(10)} ${path}`);
  });

const deviceCmd = program.command('device').description('run a wire-level device emulator on a serial port');
// One subcommand per validator emulator (hw-sim/devices/validators.ts).
for (const emulator of VALIDATOR_EMULATORS) {
  deviceCmd
    .command(emulator.model)
    .description(emulator.description)
    .requiredOption('--port <path>', 'serial device: one end of a socat pty pair or a USB-serial adapter')
    .action(async (opts: { port: string }) => {
      const device = await emulator.run({ port: opts.port, input: process.stdin, output: process.stdout });
      stopOnSignal(() => device.stop());
    });
}

deviceCmd
  .command('cctalk-coin')
  .description('ccTalk coin acceptor emulator (echoes the host like the single-wire bus); commands on standard input')
  .requiredOption('--port <path>', 'serial device: one end of a socat pty pair or a USB-serial adapter')
  .option('--address <n>', 'ccTalk address', parseAddress, 2)
  .option('--no-echo', 'do not echo the host bytes (a two-wire adapter)')
  .action(async (opts: { port: string; address: number; echo: boolean }) => {
    const { runCctalkCoinDevice } = await import('./devices/cctalk/console.js');
    const device = await runCctalkCoinDevice({ port: opts.port, address: opts.address, echo: opts.echo, input: process.stdin, output: process.stdout });
    stopOnSignal(() => device.stop());
  });

deviceCmd
  .command('cctalk-hopper')
  .description('ccTalk coin hopper emulator (event counter, paid/unpaid kept across power cycles); commands on standard input')
  .requiredOption('--port <path>', 'serial device: one end of a socat pty pair or a USB-serial adapter')
  .option('--address <n>', 'ccTalk address', parseAddress, 3)
  .option('--coin <fen>', 'value of its coin, for the reports', parseWhole, 100)
  .option('--level <coins>', 'coins inside at power-up', parseWhole, 200)
  .option('--serial <n>', 'serial number (3 bytes); dispense must carry it', parseWhole)
  .option('--no-echo', 'do not echo the host bytes (a two-wire adapter)')
  .action(async (opts: { port: string; address: number; coin: number; level: number; serial?: number; echo: boolean }) => {
    const { runCctalkHopperDevice } = await import('./devices/cctalk/console.js');
    const device = await runCctalkHopperDevice({
      port: opts.port,
      address: opts.address,
      coinValue: opts.coin,
      level: opts.level,
      echo: opts.echo,
      ...(opts.serial !== undefined ? { serial: opts.serial } : {}),
      input: process.stdin,
      output: process.stdout,
    });
    stopOnSignal(() => device.stop());
  });

deviceCmd
  .command('escpos')
  .description('ESC/POS receipt printer emulator: answers DLE EOT, writes each job as a UTF-8 text file; commands on standard input')
  .requiredOption('--port <path>', 'serial device: one end of a socat pty pair or a USB-serial adapter')
  .requiredOption('--out <dir>', 'folder for the printed receipts')
  .action(async (opts: { port: string; out: string }) => {
    const { runEscposDevice } = await import('./devices/escpos/console.js');
    const device = await runEscposDevice({ port: opts.port, outDir: opts.out, input: process.stdin, output: process.stdout });
    stopOnSignal(() => device.stop());
  });

deviceCmd
  .command('zvt')
  .description('ZVT payment terminal emulator on TCP or a serial port; commands on standard input choose the next outcome')
  .option('--tcp <port>', 'listen on this TCP port (ZVT terminals use 20007)', parseWhole)
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--port <path>', 'serial device instead: one end of a socat pty pair or a USB-serial adapter')
  .option('--password <digits>', 'the terminal password (6 digits)', '000000')
  .action(async (opts: { tcp?: number; host: string; port?: string; password: string }) => {
    if ((opts.tcp === undefined) === (opts.port === undefined)) throw new Error('device zvt: give either --tcp PORT or --port PATH');
    const { runZvtDevice } = await import('./devices/zvt/console.js');
    const device = await runZvtDevice({
      ...(opts.tcp !== undefined ? { tcp: opts.tcp, host: opts.host } : { port: opts.port! }),
      password: opts.password,
      input: process.stdin,
      output: process.stdout,
    });
    stopOnSignal(() => device.stop());
  });

deviceCmd
  .command('hid-card')
  .description('magnetic stripe reader emulator: HID reports on a unix socket (the kiosk reads it as card reader device socket:PATH)')
  .requiredOption('--socket <path>', 'unix socket to serve the reports on')
  .option('--kind <kind>', 'keyboard (boot-keyboard reports) or vendor (MagTek-style 337-byte reports)', 'keyboard')
  .option('--lrc', 'append the LRC after each track, as some readers do')
  .action(async (opts: { socket: string; kind: string; lrc?: boolean }) => {
    if (opts.kind !== 'keyboard' && opts.kind !== 'vendor') throw new Error('device hid-card: --kind is keyboard or vendor');
    const { runHidCardDevice } = await import('./devices/hid-card/console.js');
    const device = await runHidCardDevice({ socket: opts.socket, kind: opts.kind, lrc: opts.lrc === true, input: process.stdin, output: process.stdout });
    stopOnSignal(() => device.stop());
  });

deviceCmd
  .command('scanner')
  .description('2D code scanner emulator: HID keyboard reports on a unix socket (device socket:PATH), or serial on a port with SYN T/U CR trigger commands; shows test wallet codes from standard input')
  .option('--mode <mode>', 'keyboard or serial', 'keyboard')
  .option('--socket <path>', 'keyboard mode: unix socket to serve the reports on')
  .option('--port <path>', 'serial mode: serial device (one end of a socat pty pair)')
  .option('--commands <how>', 'serial mode: answer (ACK) | silent | ignore the enable/disable commands', 'answer')
  .action(async (opts: { mode: string; socket?: string; port?: string; commands: string }) => {
    const { runScannerDevice } = await import('./devices/scanner/console.js');
    const { COMMAND_HANDLING } = await import('./devices/scanner/emulator.js');
    if (opts.mode !== 'keyboard' && opts.mode !== 'serial') throw new Error('device scanner: --mode is keyboard or serial');
    if (opts.mode === 'keyboard' && !opts.socket) throw new Error('device scanner: keyboard mode needs --socket PATH');
    if (opts.mode === 'serial' && !opts.port) throw new Error('device scanner: serial mode needs --port PATH');
    const commands = COMMAND_HANDLING.find((c) => c === opts.commands);
    if (!commands) throw new Error(`device scanner: --commands is ${COMMAND_HANDLING.join(', ')}`);
    const device = await runScannerDevice({
      mode: opts.mode,
      ...(opts.socket ? { socket: opts.socket } : {}),
      ...(opts.port ? { port: opts.port } : {}),
      commands,
      input: process.stdin,
      output: process.stdout,
    });
    stopOnSignal(() => device.stop());
  });

program
  .command('run')
  .description('run scripted scenarios against the real runtime, emulators on ptys and the reference server')
  .argument('<files...>', 'scenario files (JSON)')
  .option('--json', 'print one result object per scenario, one per line')
  .option('--keep', 'keep each scenario folder (logs, journal) for inspection')
  .addOption(new Option('--validator <model>', 'the validator emulator the kiosk is fitted with').choices(EMULATED_VALIDATOR_MODELS).default('id003'))
  .action(async (files: string[], opts: { json?: boolean; keep?: boolean; validator: (typeof EMULATED_VALIDATOR_MODELS)[number] }) => {
    const { runScenarioFiles } = await import('./runner/run.js');
    const ok = await runScenarioFiles(files, { json: opts.json ?? false, keep: opts.keep ?? false, validator: opts.validator });
    process.exit(ok ? 0 : 1);
  });

program
  .command('soak')
  .description('cash payments back to back through the emulators and the real runtime: RSS, open fds, journal size; fails on growth or money not accounted for')
  .option('--transactions <n>', 'how many payments', '10000')
  .option('--printer', 'fit the receipt printer too (each receipt adds 1.5 s)')
  .option('--keep', 'keep the run folder (journal, receipts, last log lines)')
  .option('--json', 'print the report as one JSON object')
  .action(async (opts: { transactions: string; printer?: boolean; keep?: boolean; json?: boolean }) => {
    const { soakCommand } = await import('./soak/command.js');
    process.exit(await soakCommand(opts));
  });

program
  .command('chaos')
  .description('crash campaign: random cash sessions with faults, an outage and SIGKILLs of the runtime; checks every note, coin and payment afterwards')
  .option('--runs <n>', 'how many runs (run i uses seed S+i)', '10')
  .option('--seed <s>', 'seed of the first run', '1')
  .option('--validator <model>', 'bill validator protocol of every run: id003, essp, ccnet, or mixed (seed % 3 picks id003, essp, ccnet)', 'mixed')
  .option('--jobs <n>', 'runs under way at once (each its own kiosk); the report stays in seed order', '1')
  .option('--keep', 'keep every run folder (journal, plan, log); a failing run keeps its own anyway')
  .option('--json', 'print the report as one JSON object')
  .action(async (opts: import('./chaos/command.js').ChaosCommandOptions) => {
    const { chaosCommand } = await import('./chaos/command.js');
    process.exit(await chaosCommand(opts));
  });

program
  .command('matrix')
  .description('every emulator fault × every step of a payment, one fresh kiosk per cell: a table of outcomes; exits 1 if money goes unaccounted in any cell')
  .option('--faults <ids>', 'comma-separated fault ids (default: all)')
  .option('--steps <ids>', 'comma-separated step ids: idle,number,review,cash,escrow,partial,change,receipt (default: all)')
  .option('--out <file>', 'write the markdown table there (e.g. docs/reports/DATE-fault-matrix.md) instead of printing it')
  .option('--json', 'print the report as one JSON object')
  .option('--keep', "keep every cell's folder (journal, logs), not only the failing ones")
  .action(async (opts: import('./matrix/command.js').MatrixOptions) => {
    const { matrixCommand } = await import('./matrix/command.js');
    process.exit(await matrixCommand(opts));
  });

program
  .command('fleet')
  .description('N light simulated kiosks on a real Mosquitto with the management consumers: connected, msg/s, command round trip, memory per kiosk, lost and duplicated (must be none); faults on request')
  .requiredOption('--kiosks <n>', 'how many simulated kiosks')
  .option('--duration <s>', 'seconds to run once all are connected', '60')
  .option('--heartbeat <s>', 'seconds between two heartbeats of a kiosk', '5')
  .option('--faults <list>', 'comma-separated: broker-restart, consumer-kill, kiosk-drop (10 % of the kiosks), or all')
  .option('--alarm-mean <s>', 'mean seconds between two random alarms of one kiosk', '300')
  .option('--commands-per-s <n>', 'remote commands per second to the fleet (default: kiosks / 100)')
  .option('--pki <dir>', 'development PKI; the kiosk certificates are kept in its fleet/ folder between runs', 'var/fleet/pki')
  .option('--keep', 'keep the run folder (broker log, the consumers\' database)')
  .option('--json', 'print the report as one JSON object')
  .action(async (opts: import('./fleet/command.js').FleetCommandOptions) => {
    const { fleetCommand } = await import('./fleet/command.js');
    process.exit(await fleetCommand(opts));
  });

function stopOnSignal(stop: () => Promise<void>): void {
  const handler = () => void stop().then(() => process.exit(0));
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

function parseAddress(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new InvalidArgumentError('expected a ccTalk address 1-255');
  return n;
}

function parseWhole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a whole number 0-65535');
  return n;
}

registerReleaseCommand(program);

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`kiosk-sim: ${e.message}`);
  process.exit(1);
});
