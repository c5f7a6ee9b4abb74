/**
 * The life cycle of a polled device, without its protocol: open() → start-up → polling; a failure
 * makes it unavailable, and it is started up again after a back-off that doubles while it fails.
 * Also the health status and its event, which the loop and the protocol both change.
 */
import { EventEmitter } from 'node:events';
import type { DeviceEvents, DeviceStatus, DriverLog, Health } from './types.js';

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface PolledDeviceOptions {
  /** Prefix of log lines and errors, e.g. 'id003' or 'cctalk hopper@3'. */
  label: string;
  /** The line the device is on; its description goes into the error open() rejects with. */
  link: { readonly description: string };
  /** Back-off while the device is unavailable: starts at initialMs, doubles up to maxMs. */
  reconnect: Backoff | undefined;
  log: DriverLog | undefined;
  /** Log line after a failure, before the back-off. */
  unavailableMessage: string;
  /** Log line when the device leaves a fault or comes back online. */
  recoveredMessage(health: Health): string;
}

export abstract class PolledDevice<E extends DeviceEvents & Record<keyof E, any[]>> extends EventEmitter<E> {
  protected readonly label: string;
  protected readonly log: DriverLog;
  private readonly link: { readonly description: string };
  private readonly backoff: Backoff;
  private readonly unavailableMessage: string;
  private readonly recoveredMessage: (health: Health) => string;

  protected current: DeviceStatus = { health: 'offline', code: 'closed', detail: 'not opened' };
  /** The start-up sequence has completed and nothing has failed since. */
  protected ready = false;
  protected closed = true;
  private loop: Promise<void> | undefined;
  private opening: { resolve(): void; reject(err: Error): void } | undefined;
  private wake: (() => void) | undefined;
  private delay = 0;

  constructor(opts: PolledDeviceOptions) {
    super();
    this.label = opts.label;
    this.link = opts.link;
    this.log = opts.log ?? (() => {});
    this.backoff = opts.reconnect ?? { initialMs: 500, maxMs: 10_000 };
    this.unavailableMessage = opts.unavailableMessage;
    this.recoveredMessage = opts.recoveredMessage;
  }

  /** Brings the device to its known, safe state; throws when it cannot. */
  protected abstract startUp(): Promise<void>;
  /** One pass of the loop: start() when not ready, else poll; then the pause. Throws on a failure. */
  protected abstract step(): Promise<void>;
  /** Records what a failure of step() leaves: the health, and the link closed if it broke. */
  protected abstract failed(err: unknown): Promise<void> | void;
  /** Gives up the link once the loop has ended. */
  protected abstract release(): Promise<void>;

  status(): DeviceStatus {
    return this.current;
  }

  open(): Promise<void> {
    if (this.loop) return this.ready ? Promise.resolve() : this.waitForOpen();
    this.closed = false;
    const opened = this.waitForOpen();
    this.loop = this.run();
    return opened;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ready = false;
    this.wake?.();
    this.settleOpen(new Error(`${this.label}: closed before the device was ready`));
    try {
      await this.loop;
    } catch {
      // run() handles its own errors; nothing useful to add on the way out
    }
    this.loop = undefined;
    await this.release();
    this.setStatus({ health: 'offline', code: 'closed', detail: 'closed by the host' });
  }

  /** Runs the start-up and, unless close() came meanwhile, marks the device ready; returns whether it is. */
  protected async start(): Promise<boolean> {
    await this.startUp();
    if (this.closed) return false;
    this.ready = true;
    this.delay = this.backoff.initialMs;
    this.settleOpen();
    return true;
  }

  protected setStatus(next: DeviceStatus): void {
    const prev = this.current;
    if (prev.health === next.health && prev.code === next.code && prev.detail === next.detail) return;
    this.current = next;
    if (next.health === 'fault') this.log('error', `${this.label}: fault`, { code: next.code, detail: next.detail });
    else if (prev.health === 'fault' || prev.health === 'offline') {
      this.log('info', this.recoveredMessage(next.health), { was: prev.code, now: next.code });
    }
    this.tell(() => (this as unknown as EventEmitter<DeviceEvents>).emit('status', next));
  }

  /** A throwing listener must not stop the poll loop. */
  protected tell(emit: () => void): void {
    try {
      emit();
    } catch (err) {
      this.log('error', `${this.label}: event listener threw`, { error: String(err) });
    }
  }

  /** A pause that close() and wakeLoop() cut short. */
  protected sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Ends the current pause, so that a device found silent outside the loop is started up again at once. */
  protected wakeLoop(): void {
    this.wake?.();
  }

  private waitForOpen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const previous = this.opening;
      this.opening = {
        resolve: () => {
          previous?.resolve();
          resolve();
        },
        reject: (err) => {
          previous?.reject(err);
          reject(err);
        },
      };
    });
  }

  private settleOpen(err?: Error): void {
    const opening = this.opening;
    this.opening = undefined;
    if (!opening) return;
    if (err) opening.reject(err);
    else opening.resolve();
  }

  private async run(): Promise<void> {
    this.delay = this.backoff.initialMs;
    while (!this.closed) {
      try {
        await this.step();
      } catch (err) {
        if (this.closed) break;
        this.ready = false;
        const message = (err as Error).message;
        await this.failed(err);
        this.settleOpen(new Error(`${this.label} on ${this.link.description}: ${message}`));
        this.log('warn', this.unavailableMessage, { error: message, retryInMs: this.delay });
        await this.sleep(this.delay);
        this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
      }
    }
  }
}
