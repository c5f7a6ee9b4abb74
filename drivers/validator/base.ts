/**
 * What every polled bill validator driver shares outside its protocol: the public API of the
 * device class (hooks, denominations, enable/disable kept as the caller's wish and applied when the
 * device is ready), the serial link's open/close/failure handling, and the note's escrow cycle.
 */
import { PolledDevice, type Backoff } from '../lifecycle.js';
import { CommandQueue, NoAnswerError, NoiseReporter } from '../line/request-line.js';
import type { Transport } from '../transport/types.js';
import type {
  BillValidator,
  BillValidatorCapabilities,
  BillValidatorEvents,
  BillValidatorHooks,
  DeviceIdentity,
  DriverLog,
  Note,
} from '../types.js';
import { EscrowCycle, type EscrowCycleOptions, type NoteCycle } from './escrow-cycle.js';

export interface ValidatorBaseOptions {
  /** Log prefix and model name in configuration, e.g. 'id003'. */
  label: string;
  transport: Transport;
  reconnect: Backoff | undefined;
  log: DriverLog | undefined;
  escrow: Pick<EscrowCycleOptions, 'codeFields' | 'unknownNote'>;
}

export abstract class ValidatorBase<C extends NoteCycle> extends PolledDevice<BillValidatorEvents> implements BillValidator {
  readonly kind = 'bill-validator' as const;
  readonly capabilities: BillValidatorCapabilities = { hold: true };

  protected readonly transport: Transport;
  protected readonly queue = new CommandQueue();
  protected readonly noise: NoiseReporter;
  protected readonly cycles: EscrowCycle<C>;
  protected hooks: BillValidatorHooks | undefined;
  protected notes: Note[] = [];
  protected desired: { accepting: boolean; values: number[] | undefined } = { accepting: false, values: undefined };

  constructor(opts: ValidatorBaseOptions) {
    const { label, transport } = opts;
    super({
      label,
      link: transport,
      reconnect: opts.reconnect,
      log: opts.log,
      unavailableMessage: `${label}: device unavailable, retrying`,
      recoveredMessage: () => `${label}: device healthy again`,
    });
    this.transport = transport;
    this.noise = new NoiseReporter(label, this.log);
    this.cycles = new EscrowCycle<C>(
      { label, log: this.log, hooks: () => this.hooks!, running: () => this.decisionsGo(), ...opts.escrow },
      { decided: (cycle) => this.decided(cycle), credited: (cycle) => this.creditDurable(cycle) },
    );
    transport.on('data', (chunk) => this.onData(chunk));
    transport.on('close', () => {
      if (this.closed) return;
      this.log('warn', `${label}: serial link closed`, { port: transport.description });
      this.abortWait();
    });
    transport.on('error', (err) => this.log('warn', `${label}: serial link error`, { error: err.message }));
  }

  abstract identity(): DeviceIdentity;
  /** The escrow hook decided this note, still the current one: tell the device (see EscrowAdapter). */
  protected abstract decided(cycle: C): void;
  /** The credit of this note is durable: acknowledge it to the device (see EscrowAdapter). */
  protected abstract creditDurable(cycle: C): void;
  /** Whether a decision that arrives now may still go to the device. */
  protected decisionsGo(): boolean {
    return !this.closed;
  }
  /** Bytes from the line. */
  protected abstract onData(chunk: Buffer): void;
  /** Ends the wait for the reply on the line now (link closed). */
  protected abstract abortWait(): void;
  /** Forgets a half-received frame (the link is opened again). */
  protected abstract resetLine(): void;
  /** Sends the caller's enable/disable wish to the device. */
  protected abstract applyDesired(): Promise<void>;
  /** Stops the device accepting notes. */
  protected abstract inhibit(): Promise<void>;

  setHooks(hooks: BillValidatorHooks): void {
    this.hooks = hooks;
  }

  denominations(): readonly Note[] {
    return this.notes;
  }

  override open(): Promise<void> {
    if (!this.hooks) return Promise.reject(new Error(`${this.label}: setHooks() must be called before open()`));
    return super.open();
  }

  override close(): Promise<void> {
    // A command on the line would otherwise hold up the close until its reply time-out.
    this.abortWait();
    return super.close();
  }

  async enable(values: readonly number[]): Promise<void> {
    const known = new Set(this.notes.map((n) => n.value));
    const unknown = values.filter((v) => !known.has(v));
    if (unknown.length > 0 && this.notes.length > 0) {
      this.log('warn', `${this.label}: enable() asked for values the device does not have`, { values: unknown });
    }
    this.desired = { accepting: true, values: [...values] };
    if (!this.ready) {
      throw new Error(`${this.label}: validator not ready (offline or starting); the setting is kept and applied when it is`);
    }
    await this.applyDesired();
  }

  async disable(): Promise<void> {
    this.desired = { ...this.desired, accepting: false };
    // Every start-up leaves the device accepting nothing, so a device that is not ready needs nothing more.
    if (!this.ready) return;
    await this.inhibit();
  }

  /** Opens the link when it is down, and runs the start-up when the device is not ready; false when closed meanwhile. */
  protected async connect(): Promise<boolean> {
    if (!this.transport.isOpen) {
      this.resetLine();
      await this.transport.open();
    }
    return this.ready || (await this.start());
  }

  protected async failed(err: unknown): Promise<void> {
    const message = (err as Error).message;
    if (err instanceof NoAnswerError && err.linkBroken) {
      await this.transport.close().catch(() => undefined);
    }
    if (err instanceof NoAnswerError || !this.transport.isOpen) {
      this.setStatus({ health: 'offline', code: 'no-answer', detail: message });
    } else {
      this.setStatus({ health: 'fault', code: 'start-up-failed', detail: message });
    }
  }

  protected async release(): Promise<void> {
    try {
      await this.transport.close();
    } catch (err) {
      this.log('warn', `${this.label}: closing the transport failed`, { error: (err as Error).message });
    }
  }
}
