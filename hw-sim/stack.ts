import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../src/config/schema.js';
import { controlOnce } from '../src/control/client.js';
import type { ControlRequest, ControlResponse } from '../src/control/protocol.js';
import { startHost } from './host/server.js';
import { runId003Device } from './devices/id003/console.js';

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

export function cliPath(): string {
  const path = join(repoRoot(), 'dist', 'src', 'cli.js');
  if (!existsSync(path)) throw new Error(`${path} is missing: run 'npm run build' first`);
  return path;
}

export interface StackOptions {
  /** Folder for the ptys, the databases, the config and the control socket. */
  dir: string;
  /** Loopback port for the reference server; 0 picks a free one. */
  hostPort?: number;
  /** Merged over the generated runtime configuration. */
  config?: Partial<ConfigInput>;
  accounts?: { phone: string; amountDue: number; holder?: string }[];
  emulatorTiming?: { acceptingMs?: number; stackingMs?: number; stackedMs?: number; returningMs?: number };
  /** Each JSON log line of the runtime process, parsed. */
  onRuntimeLog?: (entry: Record<string, unknown>) => void;
  /** Each line the validator emulator reports. */
  onDeviceLine?: (line: string) => void;
}

type Host = Awaited<ReturnType<typeof startHost>>;
type Device = Awaited<ReturnType<typeof runId003Device>>;

/**
 * The simulated world around one kiosk: a socat pseudo-terminal pair, the ID-003 emulator on one
 * end, the reference central server, and the real runtime as a child process on the other end
 * (so it can be SIGKILLed and started again like on a board).
 */
export class SimStack {
  readonly dir: string;
  readonly configPath: string;
  readonly socketPath: string;
  host!: Host;
  private socat: ChildProcess | undefined;
  private device: Device | undefined;
  private deviceInput = new PassThrough();
  private runtime: ChildProcess | undefined;
  private runtimeExit: Promise<number | null> | undefined;
  private logWaiters: { match: (e: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  private deviceWaiters: { match: (line: string) => boolean; resolve: () => void }[] = [];

  constructor(private readonly opts: StackOptions) {
    this.dir = resolve(opts.dir);
    this.configPath = join(this.dir, 'config.json');
    this.socketPath = join(this.dir, 'kiosk.sock');
  }

  get validatorHostPort(): string {
    return join(this.dir, 'validator-host');
  }

  get validatorDevicePort(): string {
    return join(this.dir, 'validator-device');
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    await this.startSocat();
    this.host = await startHost({
      port: this.opts.hostPort ?? 0,
      dbPath: join(this.dir, 'host.db'),
      ...(this.opts.accounts ? { accounts: this.opts.accounts } : {}),
    });
    await this.startDevice();
    this.writeConfig();
  }

  private async startDevice(): Promise<void> {
    const output = new PassThrough();
    createInterface({ input: output }).on('line', (line) => {
      this.opts.onDeviceLine?.(line);
      this.deviceWaiters = this.deviceWaiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve();
        return false;
      });
    });
    this.deviceInput = new PassThrough();
    this.device = await runId003Device({
      port: this.validatorDevicePort,
      input: this.deviceInput,
      output,
      ...(this.opts.emulatorTiming ? { timing: this.opts.emulatorTiming } : {}),
    });
  }

  /** Pulls the validator's cable: the emulator stops and the pty pair disappears. */
  async unplugValidator(): Promise<void> {
    await this.device?.stop();
    this.device = undefined;
    const socat = this.socat;
    this.socat = undefined;
    if (socat && socat.exitCode === null) {
      await new Promise<void>((resolveExit) => {
        socat.once('exit', () => resolveExit());
        socat.kill('SIGTERM');
      });
    }
  }

  /** Plugs a validator back in: a fresh pty pair on the same paths and a freshly powered device. */
  async replugValidator(): Promise<void> {
    await this.startSocat();
    await this.startDevice();
  }

  private writeConfig(): void {
    const extra = this.opts.config ?? {};
    const config: ConfigInput = {
      terminalId: 'SIM-0001',
      dataDir: this.dir,
      ...extra,
      validator: { model: 'id003', port: this.validatorHostPort, ...extra.validator },
      server: { baseUrl: this.host.url, timeoutMs: 2000, probeIntervalMs: 1000, ...extra.server },
      forwarder: { batchSize: 20, idleMs: 500, backoffInitialMs: 200, backoffMaxMs: 2000, ...extra.forwarder },
      control: { socket: this.socketPath },
    };
    writeFileSync(this.configPath, JSON.stringify(config, null, 2) + '\n');
  }

  private async startSocat(): Promise<void> {
    const links = [this.validatorHostPort, this.validatorDevicePort];
    const socat = spawn('socat', ['-d', '-d', ...links.map((l) => `pty,raw,echo=0,link=${l}`)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.socat = socat;
    const failed = new Promise<never>((_, reject) => {
      socat.once('error', (e) =>
        reject(new Error(`cannot start socat (${e.message}); install it with 'apt-get install socat'`)),
      );
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
  }

  /** Starts the runtime process; resolves once it accepts control requests. */
  async startRuntime(env: Record<string, string> = {}): Promise<void> {
    if (this.runtime) throw new Error('the runtime is already running');
    const child = spawn(process.execPath, [cliPath(), 'run', '--config', this.configPath], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.runtime = child;
    this.runtimeExit = new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));
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
      if (child.exitCode !== null) throw new Error(`the runtime exited with code ${child.exitCode} while starting`);
      try {
        await controlOnce(this.socketPath, { cmd: 'status' });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('the runtime did not open its control socket within 20 s');
  }

  get runtimeRunning(): boolean {
    return this.runtime !== undefined;
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

  /** Resolves when the validator emulator reports a line that matches. */
  waitForDeviceLine(match: (line: string) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolveWait, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching validator line within ${timeoutMs} ms`)), timeoutMs);
      this.deviceWaiters.push({
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
    child.kill(signal);
    await this.runtimeExited(15_000);
  }

  control(req: ControlRequest): Promise<ControlResponse> {
    return controlOnce(this.socketPath, req);
  }

  /** One line to the validator emulator, as typed on its standard input. */
  deviceCommand(line: string): void {
    this.deviceInput.write(line + '\n');
  }

  async stop(): Promise<void> {
    await this.killRuntime('SIGTERM').catch(() => this.killRuntime('SIGKILL'));
    await this.device?.stop();
    await this.host?.close();
    this.socat?.kill('SIGTERM');
  }
}
