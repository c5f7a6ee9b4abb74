/**
 * What the ccTalk coin acceptor and hopper drivers share: their life cycle on a shared bus, how a
 * failure sets their health, and the few requests every ccTalk device answers the same way.
 */
import { PolledDevice, type Backoff } from '../lifecycle.js';
import type { DeviceEvents, DriverLog } from '../types.js';
import { CctalkBusError, type CctalkBus, type RequestOptions } from './bus.js';
import { Header } from './headers.js';

export type { Backoff };

/** The device answered, but is not what the configuration says is at that address. */
export class WrongDeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface CctalkDeviceOptions {
  bus: CctalkBus;
  address: number;
  /** Back-off while the device is silent: starts at initialMs, doubles up to maxMs. */
  reconnect?: Backoff | undefined;
  log?: DriverLog | undefined;
}

export abstract class CctalkDevice<E extends DeviceEvents & Record<keyof E, any[]>> extends PolledDevice<E> {
  readonly address: number;
  protected readonly bus: CctalkBus;

  constructor(
    /** Prefix of log lines, e.g. 'cctalk coin acceptor@2'. */
    label: string,
    opts: CctalkDeviceOptions,
  ) {
    super({
      label,
      link: opts.bus,
      reconnect: opts.reconnect,
      log: opts.log,
      unavailableMessage: `${label}: unavailable, retrying`,
      recoveredMessage: (health) => `${label}: ${health}`,
    });
    this.bus = opts.bus;
    this.address = opts.address;
  }

  /** One round of the routine polling once ready. */
  protected abstract tick(): Promise<void>;
  /** Pause between ticks. */
  protected abstract readonly tickMs: number;

  override open(): Promise<void> {
    // The bus keeps its port open while any device is attached; attaching twice is harmless.
    this.bus.attach(this);
    return super.open();
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
      this.wakeLoop();
    }
    return err;
  }

  // ------------------------------------------------------------------------------ life cycle

  protected async step(): Promise<void> {
    if (!this.ready) await this.start();
    else await this.tick();
    if (this.ready) await this.sleep(this.tickMs);
  }

  protected failed(err: unknown): void {
    const message = (err as Error).message;
    if (isSilence(err)) this.setStatus({ health: 'offline', code: 'no-answer', detail: message });
    else if (err instanceof WrongDeviceError) this.setStatus({ health: 'fault', code: err.code, detail: message });
    else this.setStatus({ health: 'fault', code: 'start-up-failed', detail: message });
  }

  protected release(): Promise<void> {
    return this.bus.detach(this);
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
