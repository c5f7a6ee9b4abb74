import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../src/config/schema.js';
import { controlOnce } from '../src/control/client.js';
import type { ControlRequest, ControlResponse } from '../src/control/protocol.js';
import { startHost, type HostOptions } from './host/server.js';
import { devHostTls, readHostTls } from './host/dev-tls.js';
import { createDevPki, issueClientCert, type ClientCertFiles, type DevPkiFiles } from './pki/dev-pki.js';
import { DEFAULT_CENTRAL_USER, Mosquitto } from './broker/mosquitto.js';
import { EMULATED_VALIDATOR_MODELS, validatorEmulator, type EmulatedValidatorModel } from './devices/validators.js';
import type { ValidatorLineOptions } from './devices/validator-emulator.js';
import { runCctalkCoinDevice, runCctalkHopperDevice } from './devices/cctalk/console.js';
import { runEscposDevice } from './devices/escpos/console.js';
import { runZvtDevice, type ZvtDevice } from './devices/zvt/console.js';
import { runHidCardDevice, type HidCardDevice } from './devices/hid-card/console.js';
import type { ZvtEmulator } from './devices/zvt/emulator.js';
import { runScannerDevice, type ScannerDevice } from './devices/scanner/console.js';
import type { ScannerEmulator } from './devices/scanner/emulator.js';

/** `kiosk console hash-pin` of the demonstration engineer's PIN, 246810 (see docs/operations.md). */
export const DEMO_ENGINEER_PIN = '246810';
const DEMO_ENGINEER_PIN_HASH = 'scrypt$131072$8$1$K9qD4fbGqWXGAAijkk6IFw==$04rRtyK7BTQaLFA8z74j4ZCSP6YO8vPh+7nQlGrtlFw=';
import type { HidCardEmulator } from './devices/hid-card/emulator.js';

/** The repository root, found from this file whether it runs from source (tests) or from dist/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the kiosk repository root');
    dir = up;
  }
  return dir;
}

/** A compiled script of this checkout, e.g. 'hw-sim/cli.js' (kiosk-sim) or 'src/cli.js' (kiosk). */
export function distPath(script: string): string {
  const path = join(repoRoot(), 'dist', script);
  if (!existsSync(path)) throw new Error(`${path} is missing: run 'npm run build' first`);
  return path;
}

/** The bill validator protocols the simulator has emulators for. */
export const VALIDATOR_MODELS = EMULATED_VALIDATOR_MODELS;
export type ValidatorModel = EmulatedValidatorModel;

/** The optional devices a simulated kiosk can be fitted with (the validator is always there). */
export interface Fitted {
  coins?: boolean;
  hoppers?: boolean;
  printer?: boolean;
  /** A ZVT payment terminal emulator on loopback TCP (device name 'zvt'). */
  zvt?: boolean;
  /** A magnetic-stripe reader emulator on a unix socket (device name 'card-reader'). */
  cardReader?: 'keyboard' | 'vendor';
  /** A 2D code scanner emulator (device name 'scanner'): keyboard mode on a unix socket, or serial on a pty answering its commands. */
  scanner?: 'keyboard' | 'serial';
}

export interface StackOptions {
  /** Folder for the ptys, the databases, the config and the control socket. */
  dir: string;
  /** Loopback port for the reference server's business link (TLS); 0 picks a free one. */
  hostPort?: number;
  /** Merged over the generated runtime configuration. */
  config?: Partial<ConfigInput>;
  accounts?: { phone: string; amountDue: number; holder?: string }[];
  emulatorTiming?: { acceptingMs?: number; stackingMs?: number; stackedMs?: number; returningMs?: number };
  /** The validator emulator's line pacing and frame timings, for the benchmarks. */
  validatorLine?: ValidatorLineOptions;
  /** Which validator protocol the kiosk is fitted with: its emulator and the `validator.model` line. */
  validatorModel?: ValidatorModel;
  fitted?: Fitted;
  /** Each JSON log line of the runtime process, parsed. */
  onRuntimeLog?: (entry: Record<string, unknown>) => void;
  /** Each line an emulator reports, with the device's name. */
  onDeviceLine?: (device: string, line: string) => void;
  /** An update repository the management server serves under /v1/updates/ (kiosk-sim release publish). */
  updatesDir?: string;
  /** The runtime process ended without killRuntime() or stop() asking it to (a crash, a kill from outside). */
  onRuntimeDied?: (how: { code: number | null; signal: NodeJS.Signals | null }) => void;
  /**
   * The management link's transport: 'https' (default) to the reference management server, or
   * 'mqtt' through a Mosquitto started here (`broker`) to the reference consumer.
   */
  managementTransport?: 'https' | 'mqtt';
}

type Host = Awaited<ReturnType<typeof startHost>>;

/** The simulated hoppers: a 1 yuan hopper and a 5 jiao hopper, each on its own line. */
export const SIM_HOPPERS = [
  { name: 'h100', coinValue: 100, address: 3, serial: 0x0a0b01, level: 200 },
  { name: 'h50', coinValue: 50, address: 4, serial: 0x0a0b02, level: 200 },
] as const;

interface Slot {
  name: string;
  /** false: the device is not on a serial line (TCP, unix socket), so no pty pair is made. */
  pty?: false;
  socat: ChildProcess | undefined;
  input: PassThrough;
  stop: (() => Promise<void>) | undefined;
  run: (port: string, input: PassThrough, output: PassThrough) => Promise<{ stop(): Promise<void> }>;
}

/**
 * The simulated world around one kiosk: for each device a socat pseudo-terminal pair with its
 * emulator on one end, the reference central server, and the real runtime as a child process on
 * the other ends (so it can be SIGKILLed and started again like on a board).
 */
export class SimStack {
  readonly dir: string;
  readonly validatorModel: ValidatorModel;
  readonly configPath: string;
  readonly socketPath: string;
  /** The development PKI (CA, server and kiosk certificates) both ends of the links use. */
  readonly pkiDir: string;
  pki!: DevPkiFiles;
  host!: Host;
  /** The broker, with `managementTransport: 'mqtt'`. */
  broker: Mosquitto | undefined;
  private readonly slots = new Map<string, Slot>();
  /** Coins each hopper emulator reported dropping, counted from its own output lines. */
  readonly coinsPaid = new Map<string, number>();
  private runtime: ChildProcess | undefined;
  /** Runtime processes asked to stop: their exit is expected, not a death. */
  private readonly killing = new WeakSet<ChildProcess>();
  private runtimeExit: Promise<number | null> | undefined;
  private logWaiters: { match: (e: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  private deviceWaiters: { device: string; match: (line: string) => boolean; resolve: () => void }[] = [];
  /** What each device said since it was last typed to, plugged in, or matched by a wait. */
  private readonly recentLines = new Map<string, string[]>();

  constructor(private readonly opts: StackOptions) {
    this.validatorModel = opts.validatorModel ?? 'id003';
    this.dir = resolve(opts.dir);
    this.configPath = join(this.dir, 'config.json');
    this.socketPath = join(this.dir, 'kiosk.sock');
    this.pkiDir = join(this.dir, 'pki');
    const timing = opts.emulatorTiming;
    const validator = validatorEmulator(this.validatorModel);
    this.addSlot('validator', (port, input, output) => validator.run({ port, input, output, ...(timing ? { timing } : {}) }, opts.validatorLine));
    const fitted = opts.fitted ?? {};
    if (fitted.coins) this.addSlot('coin', (port, input, output) => runCctalkCoinDevice({ port, input, output, address: 2 }));
    if (fitted.hoppers) {
      for (const h of SIM_HOPPERS) {
        this.addSlot(h.name, (port, input, output) =>
          runCctalkHopperDevice({ port, input, output, address: h.address, serial: h.serial, coinValue: h.coinValue, level: h.level }),
        );
      }
    }
    if (fitted.printer) {
      this.addSlot('printer', (port, input, output) => runEscposDevice({ port, input, output, outDir: this.receiptsDir }));
    }
    if (fitted.zvt) {
      this.addSlot(
        'zvt',
        async (_port, input, output) => {
          // The same TCP port after a replug, so the kiosk's configuration stays right.
          const device = await runZvtDevice({ tcp: this.zvtPort ?? 0, input, output });
          this.zvt = device;
          this.zvtPort = device.tcpPort;
          return device;
        },
        false,
      );
    }
    const reader = fitted.cardReader;
    if (reader) {
      this.addSlot(
        'card-reader',
        async (_port, input, output) => {
          const device = await runHidCardDevice({ socket: this.cardReaderSocket, kind: reader, input, output });
          this.reader = device;
          return device;
        },
        false,
      );
    }
    const scanner = fitted.scanner;
    if (scanner) {
      this.addSlot(
        'scanner',
        async (port, input, output) => {
          const device = await runScannerDevice(scanner === 'keyboard' ? { mode: 'keyboard', socket: this.scannerSocket, input, output } : { mode: 'serial', port, input, output });
          this.scanner = device;
          return device;
        },
        scanner === 'keyboard' ? false : undefined,
      );
    }
  }

  private scanner: ScannerDevice | undefined;
  private zvt: ZvtDevice | undefined;
  private zvtPort: number | undefined;
  private reader: HidCardDevice | undefined;

  /** The payment terminal emulator (fitted.zvt): choose() the next outcome, describe() its bookings. */
  get zvtEmulator(): ZvtEmulator {
    if (!this.zvt) throw new Error('no ZVT terminal is fitted (or it is unplugged)');
    return this.zvt.emulator;
  }

  /** The card reader emulator (fitted.cardReader): swipe() a test card, good or bad. */
  get cardReaderEmulator(): HidCardEmulator {
    if (!this.reader) throw new Error('no card reader is fitted (or it is unplugged)');
    return this.reader.emulator;
  }

  /** The code scanner emulator (fitted.scanner): show() a test wallet code, garbage, a partial read. */
  get scannerEmulator(): ScannerEmulator {
    if (!this.scanner) throw new Error('no code scanner is fitted (or it is unplugged)');
    return this.scanner.emulator;
  }

  get scannerSocket(): string {
    return join(this.dir, 'scanner.sock');
  }

  get cardReaderSocket(): string {
    return join(this.dir, 'card-reader.sock');
  }

  /** Where the simulated printer writes each receipt as a text file. */
  get receiptsDir(): string {
    return join(this.dir, 'receipts');
  }

  /** The devices fitted, by name: validator, coin, h100, h50, printer. */
  get deviceNames(): string[] {
    return [...this.slots.keys()];
  }

  hostPort(device: string): string {
    return join(this.dir, `${device}-host`);
  }

  devicePort(device: string): string {
    return join(this.dir, `${device}-device`);
  }

  private addSlot(name: string, run: Slot['run'], pty?: false): void {
    this.slots.set(name, { name, socat: undefined, input: new PassThrough(), stop: undefined, run, ...(pty === false ? { pty } : {}) });
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    for (const slot of this.slots.values()) await this.plug(slot);
    this.pki = (await devHostTls(this.pkiDir, this.opts.config?.terminalId ?? 'SIM-0001')).files;
    if (this.opts.managementTransport === 'mqtt') {
      this.broker = await Mosquitto.start({
        dir: join(this.dir, 'broker'),
        tls: { ca: this.pki.ca, cert: this.pki.serverCert, key: this.pki.serverKey },
        centralListener: true,
      });
      this.central = await issueClientCert(this.pkiDir, DEFAULT_CENTRAL_USER);
    }
    this.host = await startHost(this.hostOptions(this.opts.hostPort ?? 0, 0));
    this.writeConfig();
  }

  private hostOptions(port: number, adminPort: number, managementPort = 0): HostOptions {
    const tls = readHostTls({ ca: this.pki.ca, cert: this.pki.serverCert, key: this.pki.serverKey });
    return {
      port,
      adminPort,
      tls,
      management: { port: managementPort, tls, ...(this.opts.updatesDir ? { updatesDir: resolve(this.opts.updatesDir) } : {}) },
      ...(this.broker && this.central
        ? { managementMqtt: { url: this.broker.centralUrl, tls: readHostTls({ ca: this.pki.ca, cert: this.central.cert, key: this.central.key }), instance: '1', resendMs: 5000 } }
        : {}),
      dbPath: join(this.dir, 'host.db'),
      ...(this.opts.accounts ? { accounts: this.opts.accounts } : {}),
    };
  }

  private central: ClientCertFiles | undefined;

  /** Stops the reference server and starts it again on the same ports and database. */
  async restartHost(): Promise<void> {
    const { port, adminPort } = this.host;
    const managementPort = this.host.management?.port;
    await this.host.close();
    this.host = await startHost(this.hostOptions(port, adminPort, managementPort));
  }

  /**
   * 'wrong': the server presents a certificate from a CA the kiosk does not trust (an impostor, or
   * a certificate change the kiosk was not told about); 'right': its own again.
   */
  async serverCertificate(which: 'wrong' | 'right'): Promise<void> {
    const files = which === 'right' ? this.pki : (await createDevPki(join(this.dir, 'pki-other'), { terminalId: 'OTHER' })).files;
    const { cert, key } = readHostTls({ ca: files.ca, cert: files.serverCert, key: files.serverKey });
    this.host.setServerCertificate({ cert, key });
  }

  private async plug(slot: Slot): Promise<void> {
    if (slot.pty !== false) slot.socat = await startPtyPair(this.hostPort(slot.name), this.devicePort(slot.name));
    const output = new PassThrough();
    createInterface({ input: output }).on('line', (line) => {
      this.opts.onDeviceLine?.(slot.name, line);
      if (/^paid coin \d+\/\d+/.test(line)) this.coinsPaid.set(slot.name, (this.coinsPaid.get(slot.name) ?? 0) + 1);
      const recent = this.recentLines.get(slot.name) ?? [];
      recent.push(line);
      this.recentLines.set(slot.name, recent.slice(-200));
      this.deviceWaiters = this.deviceWaiters.filter((w) => {
        if (w.device !== slot.name || !w.match(line)) return true;
        this.recentLines.set(slot.name, []);
        w.resolve();
        return false;
      });
    });
    this.recentLines.set(slot.name, []);
    slot.input = new PassThrough();
    const handle = await slot.run(this.devicePort(slot.name), slot.input, output);
    slot.stop = () => handle.stop();
  }

  private slot(device: string): Slot {
    const slot = this.slots.get(device);
    if (!slot) throw new Error(`no simulated device '${device}' (fitted: ${this.deviceNames.join(', ')})`);
    return slot;
  }

  /** Pulls a device's cable: the emulator stops and the pty pair disappears. */
  async unplug(device: string): Promise<void> {
    const slot = this.slot(device);
    await slot.stop?.();
    slot.stop = undefined;
    const socat = slot.socat;
    slot.socat = undefined;
    if (socat && socat.exitCode === null) {
      await new Promise<void>((resolveExit) => {
        socat.once('exit', () => resolveExit());
        socat.kill('SIGTERM');
      });
    }
  }

  /** Plugs a device back in: a fresh pty pair on the same paths and a freshly powered device. */
  async replug(device: string): Promise<void> {
    await this.plug(this.slot(device));
  }

  private writeConfig(): void {
    const extra = this.opts.config ?? {};
    const config: ConfigInput = {
      terminalId: 'SIM-0001',
      dataDir: this.dir,
      ...extra,
      validator: { model: this.validatorModel, port: this.hostPort('validator'), ...extra.validator },
      server: { host: '127.0.0.1', port: this.host.port, serverName: 'localhost', timeoutMs: 2000, probeIntervalMs: 1000, ...extra.server },
      tls: { ca: this.pki.ca, cert: this.pki.clientCert, key: this.pki.clientKey, ...extra.tls },
      management: {
        ...(this.broker ? { transport: 'mqtt' as const } : {}),
        host: '127.0.0.1',
        serverName: 'localhost',
        // On MQTT the kiosks' listener, not the one the central consumer uses.
        port: this.broker ? this.broker.port : this.host.management!.port,
        heartbeatMs: 1000,
        countersMs: 10_000,
        timeoutMs: 2000,
        ...extra.management,
      },
      forwarder: { batchSize: 20, idleMs: 500, backoffInitialMs: 200, backoffMaxMs: 2000, ...extra.forwarder },
      control: { ...extra.control, socket: this.socketPath },
      // A demonstration engineer for `kiosk console` against the simulated kiosk: PIN 246810. The
      // hash is made once (hash-pin's full cost takes half a second), not at every start.
      console: { engineers: [{ name: 'engineer', pin: DEMO_ENGINEER_PIN_HASH }], ...extra.console },
    };
    if (this.slots.has('coin')) config.coinAcceptor = { model: 'cctalk', port: this.hostPort('coin'), address: 2 };
    if (this.slots.has('h100')) {
      config.hoppers = SIM_HOPPERS.map((h) => ({ name: h.name, model: 'cctalk', port: this.hostPort(h.name), address: h.address, coinValue: h.coinValue }));
    }
    if (this.slots.has('printer')) config.printer = { model: 'escpos', transport: 'serial', port: this.hostPort('printer'), ...extra.printer };
    if (this.zvtPort !== undefined) {
      config.paymentTerminal = { model: 'zvt', transport: 'tcp', host: '127.0.0.1', tcpPort: this.zvtPort, reversalRetryMs: 1000, ...extra.paymentTerminal };
    }
    const reader = this.opts.fitted?.cardReader;
    if (reader) config.cardReader = { model: reader === 'keyboard' ? 'hid-keyboard' : 'hid-vendor', device: `socket:${this.cardReaderSocket}` };
    const scanner = this.opts.fitted?.scanner;
    if (scanner) {
      // The serial emulator answers its commands with ACK, so the kiosk is told to expect it.
      config.scanner =
        scanner === 'keyboard'
          ? { model: 'hid-keyboard', device: `socket:${this.scannerSocket}`, ...extra.scanner }
          : { model: 'serial', device: this.hostPort('scanner'), ack: true, ...extra.scanner };
    }
    writeFileSync(this.configPath, JSON.stringify(config, null, 2) + '\n');
  }

  /**
   * Starts the runtime of a configuration with an `api` section and gives the customer screen's
   * URL, once the screen listens.
   */
  async startRuntimeWithScreen(env: Record<string, string> = {}): Promise<string> {
    let url = '';
    const listening = this.waitForLog((e) => {
      if (e.msg !== 'screen listening') return false;
      url = String(e.url);
      return true;
    }, 30_000);
    await this.startRuntime(env);
    await listening;
    return url;
  }

  /** Starts the runtime process; resolves once it accepts control requests. */
  async startRuntime(env: Record<string, string> = {}): Promise<void> {
    if (this.runtime) throw new Error('the runtime is already running');
    // The service as `kiosk run` starts it, plus the simulator's crash seam (KIOSK_CRASH_AFTER in env).
    // Node's own flags for the runtime alone, e.g. "--cpu-prof --cpu-prof-dir=DIR" (NODE_OPTIONS refuses --cpu-prof).
    const nodeArgs = process.env.KIOSK_SIM_RUNTIME_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, distPath('hw-sim/runtime-entry.js'), '--config', this.configPath], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.runtime = child;
    this.runtimeExit = new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    child.once('exit', (code, signal) => {
      if (this.killing.has(child)) return;
      this.opts.onRuntimeDied?.({ code, signal });
    });
    const onLine = (line: string) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { level: 50, msg: line };
      }
      this.opts.onRuntimeLog?.(entry);
      this.logWaiters = this.logWaiters.filter((w) => {
        if (!w.match(entry)) return true;
        w.resolve();
        return false;
      });
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      // A process killed by a signal (its own crash seam) keeps exitCode null.
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the runtime exited (${child.signalCode ?? `code ${child.exitCode}`}) while starting`);
      }
      try {
        await controlOnce(this.socketPath, { cmd: 'status' });
        await this.seedHopperLevels();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('the runtime did not open its control socket within 20 s');
  }

  /** A technician's first fill: tells a new journal how many coins each simulated hopper holds. */
  private async seedHopperLevels(): Promise<void> {
    if (!this.slots.has('h100')) return;
    const st = await controlOnce(this.socketPath, { cmd: 'hoppers' });
    const known = st.ok ? (st.hoppers as { name: string }[]).map((h) => h.name) : [];
    for (const h of SIM_HOPPERS) {
      if (known.includes(h.name)) continue;
      const r = await controlOnce(this.socketPath, { cmd: 'hopper-level', name: h.name, level: h.level });
      if (!r.ok) throw new Error(`cannot set the level of ${h.name}: ${r.error}`);
    }
  }

  get runtimeRunning(): boolean {
    return this.runtime !== undefined;
  }

  /** The runtime process's id while it runs (the soak and the benchmarks read its /proc entry). */
  get runtimePid(): number | undefined {
    return this.runtime?.pid;
  }

  /** Resolves when the runtime logs an entry that matches. */
  waitForLog(match: (e: Record<string, unknown>) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolveWait, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching runtime log line within ${timeoutMs} ms`)), timeoutMs);
      this.logWaiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolveWait();
        },
      });
    });
  }

  /**
   * Resolves when a device's emulator reports a line that matches. With `recent`, a line the device
   * reported since it was last typed to, plugged in, or matched by such a wait counts too (the
   * scenarios use it: emulators of different protocols say the same things in different orders
   * relative to the runtime's own log lines).
   */
  waitForDeviceLine(device: string, match: (line: string) => boolean, timeoutMs: number, opts: { recent?: boolean } = {}): Promise<void> {
    this.slot(device);
    const recent = this.recentLines.get(device) ?? [];
    const seen = opts.recent ? recent.findIndex(match) : -1;
    if (seen >= 0) {
      this.recentLines.set(device, recent.slice(seen + 1));
      return Promise.resolve();
    }
    return new Promise((resolveWait, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching ${device} line within ${timeoutMs} ms`)), timeoutMs);
      this.deviceWaiters.push({
        device,
        match,
        resolve: () => {
          clearTimeout(timer);
          resolveWait();
        },
      });
    });
  }

  /** Waits for the runtime to exit by itself (e.g. killed by its crash seam). */
  async runtimeExited(timeoutMs: number): Promise<number | null> {
    const exit = this.runtimeExit;
    if (!exit) return null;
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exit,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the runtime did not exit')), timeoutMs))),
    ]);
    clearTimeout(timer);
    this.runtime = undefined;
    return code;
  }

  async killRuntime(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.runtime;
    if (!child) return;
    this.killing.add(child);
    child.kill(signal);
    await this.runtimeExited(15_000);
  }

  control(req: ControlRequest): Promise<ControlResponse> {
    return controlOnce(this.socketPath, req);
  }

  /** One line to a device's emulator, as typed on its standard input. */
  deviceCommand(line: string, device = 'validator'): void {
    const slot = this.slot(device);
    this.recentLines.set(device, []);
    slot.input.write(line + '\n');
  }

  async stop(): Promise<void> {
    await this.killRuntime('SIGTERM').catch(() => this.killRuntime('SIGKILL'));
    for (const name of this.slots.keys()) await this.unplug(name);
    await this.host?.close();
    await this.broker?.stop();
  }
}

/** A linked pty pair made by socat; resolves once both links exist. */
export async function startPtyPair(a: string, b: string): Promise<ChildProcess> {
  const links = [a, b];
  const socat = spawn('socat', links.map((l) => `pty,raw,echo=0,link=${l}`), { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => {
    socat.once('error', (e) => reject(new Error(`cannot start socat (${e.message}); install it with 'apt-get install socat'`)));
    socat.once('exit', (code) => reject(new Error(`socat exited with code ${code} before the ptys were ready`)));
  });
  failed.catch(() => undefined);
  const ready = (async () => {
    for (let i = 0; i < 200 && !links.every((l) => existsSync(l)); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!links.every((l) => existsSync(l))) throw new Error('socat did not create the pty links');
  })();
  await Promise.race([ready, failed]);
  return socat;
}
