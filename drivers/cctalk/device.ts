/**
 * What the ccTalk coin acceptor and hopper drivers share: the life cycle (open → start-up → poll,
 * silent → offline → reconnect with back-off), the health status and its event, and the few
 * requests every ccTalk device answers the same way.
 */
import { EventEmitter } from 'node:events';
import type { DriverLog } from '../../src/log.js';
import type { DeviceEvents, DeviceStatus } from '../types.js';
import { CctalkBusError, type CctalkBus, type RequestOptions } from './bus.js';
import { Header } from './headers.js';

/** The device answered, but is not what the configuration says is at that address. */
export class WrongDeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface CctalkDeviceOptions {
  bus: CctalkBus;
  address: number;
  /** Back-off while the device is silent: starts at initialMs, doubles up to maxMs. */
  reconnect?: Backoff | undefined;
  log?: DriverLog | undefined;
}

export abstract class CctalkDevice<E extends DeviceEvents & Record<keyof E, any[]>> extends EventEmitter<E> {
  readonly address: number;
  protected readonly bus: CctalkBus;
  protected readonly log: DriverLog;
  private readonly backoff: Backoff;

  protected current: DeviceStatus = { health: 'offline', code: 'closed', detail: 'not opened' };
  /** The start-up sequence has completed and the device has not gone silent since. */
  protected ready = false;
  protected closed = true;
  private loop: Promise<void> | undefined;
  private opening: { resolve(): void; reject(err: Error): void } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    /** Prefix of log lines, e.g. 'cctalk coin acceptor@2'. */
    protected readonly label: string,
    opts: CctalkDeviceOptions,
  ) {
    super();
    this.bus = opts.bus;
    this.address = opts.address;
    this.log = opts.log ?? (() => {});
    this.backoff = opts.reconnect ?? { initialMs: 500, maxMs: 10_000 };
  }

  /** Brings the device to its known, safe state; throws when it cannot. */
  protected abstract startUp(): Promise<void>;
  /** One round of the routine polling once ready. */
  protected abstract tick(): Promise<void>;
  /** Pause between ticks. */
  protected abstract readonly tickMs: number;

  status(): DeviceStatus {
    return this.current;
  }

  open(): Promise<void> {
    if (this.loop) return this.ready ? Promise.resolve() : this.waitForOpen();
    this.closed = false;
    this.bus.attach(this);
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
      // run() handles its own errors
    }
    this.loop = undefined;
    await this.bus.detach(this);
    this.setStatus({ health: 'offline', code: 'closed', detail: 'closed by the host' });
  }

  // ------------------------------------------------------------------------------ requests

  protected request(header: number, data?: Uint8Array, opts?: RequestOptions): Promise<Buffer> {
    return this.bus.request(this.address, header, data, opts);
  }

  protected async simplePoll(): Promise<void> {
    await this.request(Header.simplePoll, undefined, { replyLength: 0 });
  }

  protected async checkCategory(expected: string): Promise<void> {
    const category = ascii(await this.request(Header.requestEquipmentCategory));
    if (category.toLowerCase() !== expected.toLowerCase()) {
      throw new WrongDeviceError(
        'wrong-device',
        `address ${this.address} is a '${category}', not a '${expected}' (check the address configuration)`,
      );
    }
  }

  /** Header 242: three bytes, least significant first. */
  protected async readSerial(): Promise<number> {
    const d = await this.request(Header.requestSerialNumber, undefined, { replyLength: 3 });
    return d[0]! | (d[1]! << 8) | (d[2]! << 16);
  }

  /**
   * A request made on behalf of a caller failed: when the device has gone silent, mark it offline
   * and let the loop reconnect. Returns the error for rethrowing.
   */
  protected noteFailure(err: unknown): unknown {
    if (isSilence(err) && !this.closed) {
      this.ready = false;
      this.setStatus({ health: 'offline', code: 'no-answer', detail: (err as Error).message });
      this.wake?.();
    }
    return err;
  }

  // ------------------------------------------------------------------------------ status

  protected setStatus(next: DeviceStatus): void {
    const prev = this.current;
    if (prev.health === next.health && prev.code === next.code && prev.detail === next.detail) return;
    this.current = next;
    if (next.health === 'fault') this.log('error', `${this.label}: fault`, { code: next.code, detail: next.detail });
    else if (prev.health === 'fault' || prev.health === 'offline') {
      this.log('info', `${this.label}: ${next.health}`, { was: prev.code, now: next.code });
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

  // ------------------------------------------------------------------------------ life cycle

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
    let delay = this.backoff.initialMs;
    while (!this.closed) {
      try {
        if (!this.ready) {
          await this.startUp();
          if (this.closed) break;
          this.ready = true;
          delay = this.backoff.initialMs;
          this.settleOpen();
        } else {
          await this.tick();
        }
        if (this.ready) await this.sleep(this.tickMs);
      } catch (err) {
        if (this.closed) break;
        this.ready = false;
        const message = (err as Error).message;
        if (isSilence(err)) this.setStatus({ health: 'offline', code: 'no-answer', detail: message });
        else if (err instanceof WrongDeviceError) this.setStatus({ health: 'fault', code: err.code, detail: message });
        else this.setStatus({ health: 'fault', code: 'start-up-failed', detail: message });
        this.settleOpen(new Error(`${this.label} on ${this.bus.description}: ${message}`));
        this.log('warn', `${this.label}: unavailable, retrying`, { error: message, retryInMs: delay });
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.backoff.maxMs);
      }
    }
  }
}

/** The device or the line said nothing usable (as opposed to answering NAK or the wrong thing). */
export function isSilence(err: unknown): boolean {
  return err instanceof CctalkBusError && (err.reason === 'no-reply' || err.reason === 'garbled' || err.reason === 'link');
}

/** ASCII reply data with trailing NULs and blanks removed. */
export function ascii(data: Uint8Array): string {
  return Buffer.from(data).toString('latin1').replace(/[\0\s]+$/, '').trim();
}
