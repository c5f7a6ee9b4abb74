/**
 * A 2D scanner in serial mode (USB CDC-ACM, /dev/ttyACM*, or a real UART), set to serial-trigger
 * mode: SYN T CR starts reading and SYN U CR stops it (codec.ts). The driver sends SYN U CR at
 * start-up, so the scanner is off until enable(), and SYN T CR on enable(). A scanner in this mode
 * stops after each good read, so the driver triggers it again after every code while still
 * enabled. Codes end with CR (or CR LF). A scanner set to `ack` answers each command with ACK or
 * NAK; one that does not answer in time is a fault (its enable() rejects). Either way the driver
 * gates what arrives itself, so a scanner that ignores commands still reports nothing while disabled.
 */
import type { Transport } from '../transport/types.js';
import { LineSplitter, TRIGGER_OFF, TRIGGER_ON } from './codec.js';
import type { CodeScannerCapabilities } from './contract.js';
import { ScannerBase, type ScannerBaseOptions } from './base.js';

export interface SerialScannerOptions extends ScannerBaseOptions {
  transport: Transport;
  /** The scanner answers each command with ACK (06) or NAK (15). Default false. */
  ack?: boolean;
  /** How long an answer may take, with `ack`; also how long the line may take to accept a command. Default 1000 ms. */
  ackTimeoutMs?: number;
}

class DeviceGone extends Error {}

export class SerialScanner extends ScannerBase {
  readonly capabilities: CodeScannerCapabilities = { commands: true };
  private readonly transport: Transport;
  private readonly ack: boolean;
  private readonly ackTimeoutMs: number;
  private readonly splitter: LineSplitter;
  private gone = false;
  /** Commands go one at a time: an answer belongs to the one in flight. */
  private queue: Promise<unknown> = Promise.resolve();
  private answer: ((ack: boolean | undefined) => void) | undefined;

  constructor(opts: SerialScannerOptions) {
    super({ ...opts, label: 'scanner serial', link: opts.transport });
    this.transport = opts.transport;
    this.ack = opts.ack ?? false;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 1000;
    this.splitter = new LineSplitter(this.maxLength, () => this.answer !== undefined);
    this.transport.on('data', (chunk) => this.onData(chunk));
    this.transport.on('close', () => {
      if (this.closed) return;
      this.gone = true;
      this.wakeLoop();
    });
    this.transport.on('error', (err) => this.log('warn', `${this.label}: line error`, { error: err.message }));
  }

  /** Opens the gate, then starts the scanner; rejects when a scanner set to `ack` does not answer. */
  async enable(): Promise<void> {
    this.drop();
    this.enabled = true;
    if (this.ready) await this.command(TRIGGER_ON, 'start reading');
  }

  /** Closes the gate at once; a scanner that fails to stop is a fault, but disable() does not throw. */
  async disable(): Promise<void> {
    this.enabled = false;
    this.drop();
    if (!this.ready) return;
    await this.command(TRIGGER_OFF, 'stop reading').catch((err: Error) => this.log('warn', `${this.label}: stop not confirmed`, { error: err.message }));
  }

  protected async startUp(): Promise<void> {
    this.gone = false;
    this.drop();
    await this.transport.open();
    // The known state: not reading, unless enable() was asked for before the scanner was there.
    await this.command(this.enabled ? TRIGGER_ON : TRIGGER_OFF, this.enabled ? 'start reading' : 'stop reading');
  }

  protected async step(): Promise<void> {
    if (!this.ready) {
      await this.start();
      return;
    }
    if (this.gone || !this.transport.isOpen) throw new DeviceGone('the scanner went away');
    // A scanner that stopped answering is asked again for what the kiosk wants now, so its health
    // comes back by itself once it answers (nothing else would send it a command while no code is wanted).
    if (this.current.health === 'fault') {
      await this.command(this.enabled ? TRIGGER_ON : TRIGGER_OFF, this.enabled ? 'start reading' : 'stop reading').catch(() => undefined);
    }
    await this.sleep(this.checkIntervalMs);
  }

  protected async failed(err: unknown): Promise<void> {
    const gone = err instanceof DeviceGone || !this.transport.isOpen;
    this.drop();
    // Said before the port is closed: closing a port whose device vanished can take its time.
    this.setStatus({ health: 'offline', code: gone ? 'no-device' : 'no-answer', detail: (err as Error).message });
    await this.transport.close();
  }

  protected async release(): Promise<void> {
    this.drop();
    this.answer?.(undefined);
    await this.transport.close();
  }

  /** In serial-trigger mode the scanner stopped after this read: start it again while a code is wanted. */
  protected override afterEntry(): void {
    if (!this.enabled || !this.ready) return;
    this.command(TRIGGER_ON, 'start reading').catch((err: Error) => this.log('warn', `${this.label}: re-trigger failed`, { error: err.message }));
  }

  private drop(): void {
    this.clearPartial();
    this.splitter.reset();
  }

  /** Sends one command; with `ack`, waits for its answer and sets the health from it. */
  private command(bytes: readonly number[], what: string): Promise<void> {
    const run = async (): Promise<void> => {
      const answered = this.ack ? this.nextAnswer() : undefined;
      const where = this.transport.description;
      // A line that went away may never call back: a command waits for it no longer than for an answer.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${this.label}: the line did not take "${what}" within ${this.ackTimeoutMs} ms`)), this.ackTimeoutMs);
      });
      try {
        await Promise.race([this.transport.write(Uint8Array.from(bytes)), stuck]);
      } catch (err) {
        this.answer?.(undefined);
        throw err;
      } finally {
        clearTimeout(timer);
      }
      // One steady detail while all is well: every command would otherwise be a new status (and a journal row).
      const ready = { health: 'ok', code: 'ok', detail: `ready on ${where} (${this.ack ? 'answers each command with ACK' : 'does not acknowledge commands'})` } as const;
      if (!answered) {
        this.setStatus(ready);
        return;
      }
      const ack = await answered;
      if (ack === undefined) {
        this.setStatus({ health: 'fault', code: 'no-answer', detail: `no answer to "${what}" within ${this.ackTimeoutMs} ms on ${where}` });
        throw new Error(`${this.label}: no answer to "${what}" within ${this.ackTimeoutMs} ms`);
      }
      if (!ack) {
        this.setStatus({ health: 'fault', code: 'refused', detail: `the scanner refused "${what}" (NAK) on ${where}` });
        throw new Error(`${this.label}: the scanner refused "${what}" (NAK)`);
      }
      this.setStatus(ready);
    };
    const done = this.queue.then(run, run);
    this.queue = done.catch(() => undefined);
    return done;
  }

  private nextAnswer(): Promise<boolean | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.answer = undefined;
        resolve(undefined);
      }, this.ackTimeoutMs);
      this.answer = (ack) => {
        clearTimeout(timer);
        this.answer = undefined;
        resolve(ack);
      };
    });
  }

  private onData(chunk: Buffer): void {
    try {
      for (const event of this.splitter.push(chunk)) {
        if (event.kind === 'answer') {
          if (this.answer) this.answer(event.ack);
          else this.log('info', `${this.label}: an answer nobody asked for`, { ack: event.ack });
          continue;
        }
        this.onEntry(event);
        this.afterEntry();
      }
      this.watchPartial(this.splitter.pending, () => {
        const entry = this.splitter.flush();
        return entry?.kind === 'answer' ? undefined : entry;
      });
    } finally {
      chunk.fill(0);
    }
  }
}
