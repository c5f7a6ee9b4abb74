/**
 * ccTalk coin hopper, host side (SCH2/SCH3, Suzo Flow and their kin). The hopper's event counter
 * (header 166) is what keeps change from being paid twice: a dispense (167) is sent once, and
 * when its answer is lost the driver reads the counter instead of sending it again.
 */
import { nextHopperEvent, type CoinHopper, type DeviceEvents, type DeviceIdentity, type DeviceStatus, type DriverLog, type HopperStatus } from '../types.js';
import { CctalkBusError, type CctalkBus } from './bus.js';
import { CctalkDevice, WrongDeviceError, type Backoff } from './device.js';
import { Address, Category, HOPPER_ENABLE_CODE, Header, hopperTestFlags, type HopperFlag } from './headers.js';

/**
 * What goes before the coin count in a dispense. 'serial': the hopper's 3-byte serial number,
 * least significant byte first (Suzo Flow and other "ITA serial" hoppers). 'zero8': eight zero
 * bytes after a fresh cipher key request (SCH2 without encryption).
 */
export type HopperSecurityMode = 'serial' | 'zero8';

export interface CctalkHopperOptions {
  bus: CctalkBus;
  /** Default 3. */
  address?: number;
  /** Value of one coin in minor units (fen). */
  coinValue: number;
  /** Configuration name, e.g. 'hopper-100'. */
  name: string;
  /** Default 'serial'. */
  securityMode?: HopperSecurityMode;
  /** Status polling during a payout. Default 100 ms. */
  statusPollMs?: number;
  /** Simple poll while idle, to notice a silent hopper. Default 1000 ms. */
  keepAliveMs?: number;
  /** awaitPayout gives up after baseMs + perCoinMs × coins. Default 30 s + 2 s per coin. */
  payoutTimeout?: { baseMs: number; perCoinMs: number };
  reconnect?: Backoff;
  log?: DriverLog;
}

/** The hopper refused the dispense, or never got it: nothing was paid and a new dispense is safe. */
export class DispenseNotAcceptedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DispenseNotAcceptedError';
  }
}

/** The driver cannot tell whether the hopper took the dispense: settle from readStatus(). */
export class DispenseOutcomeUnknownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DispenseOutcomeUnknownError';
  }
}

const MAX_COINS = 255;
const COUNTER_WRAP = 255;
/** Dispenses remembered for awaitPayout (count asked, emergency stop result). */
const REMEMBERED_DISPENSES = 8;
const HOPPER_FAULT_PRIORITY: readonly NonNullable<HopperFlag['code']>[] = ['hopper-jam', 'hopper-empty', 'hopper-sensor', 'hopper-memory'];

/** The counter value after `event` once one more dispense is accepted: 255 wraps to 1. */
export { nextHopperEvent as nextEvent };

export function parseHopperStatus(data: Uint8Array): HopperStatus {
  return { event: data[0]!, remaining: data[1]!, paid: data[2]!, unpaid: data[3]! };
}

export class CctalkHopper extends CctalkDevice<DeviceEvents> implements CoinHopper {
  readonly kind = 'coin-hopper' as const;
  readonly coinValue: number;
  readonly name: string;
  protected readonly tickMs: number;
  private readonly securityMode: HopperSecurityMode;
  private readonly statusPollMs: number;
  private readonly payoutTimeout: { baseMs: number; perCoinMs: number };

  private serial: number | undefined;
  /** The serial number the first time the hopper answered; another one later is another hopper. */
  private firstSerial: number | undefined;
  private serialMismatch = false;
  /** A payout or self-test showed the hopper cannot pay; kept across reconnects until cleared. */
  private payoutFault: DeviceStatus | undefined;
  private readonly dispenses = new Map<number, { count: number; stopRemaining?: number }>();
  private dispenseQueue: Promise<unknown> = Promise.resolve();

  constructor(opts: CctalkHopperOptions) {
    const address = opts.address ?? Address.hopper;
    super(`cctalk hopper '${opts.name}'@${address}`, { bus: opts.bus, address, reconnect: opts.reconnect, log: opts.log });
    if (!Number.isSafeInteger(opts.coinValue) || opts.coinValue <= 0) {
      throw new RangeError(`hopper '${opts.name}': coinValue must be a positive integer in minor units, got ${opts.coinValue}`);
    }
    this.coinValue = opts.coinValue;
    this.name = opts.name;
    this.securityMode = opts.securityMode ?? 'serial';
    this.statusPollMs = opts.statusPollMs ?? 100;
    this.tickMs = opts.keepAliveMs ?? 1000;
    this.payoutTimeout = opts.payoutTimeout ?? { baseMs: 30_000, perCoinMs: 2_000 };
  }

  identity(): DeviceIdentity {
    return {
      kind: 'coin-hopper',
      model: 'ccTalk hopper',
      ...(this.serial !== undefined ? { serial: String(this.serial) } : {}),
    };
  }

  async readStatus(): Promise<HopperStatus> {
    try {
      const status = await this.readHopperStatus();
      if (status.remaining === 0 && status.unpaid === 0) this.clearPayoutFault();
      return status;
    } catch (err) {
      throw this.noteFailure(err);
    }
  }

  async dispense(count: number): Promise<{ event: number }> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_COINS) {
      throw new RangeError(`${this.label}: dispense count must be an integer from 1 to ${MAX_COINS}, got ${count}`);
    }
    // One at a time: two dispenses reading the same counter before either is sent could each
    // take the other's counter step for their own.
    const job = this.dispenseQueue.then(() => this.dispenseOnce(count));
    this.dispenseQueue = job.catch(() => undefined);
    return job;
  }

  private async dispenseOnce(count: number): Promise<{ event: number }> {
    if (this.serialMismatch) {
      throw new Error(`${this.label}: refusing to dispense: the hopper's serial number changed (${this.current.detail})`);
    }
    if (!this.ready) throw new Error(`${this.label}: not ready (${this.current.code}: ${this.current.detail})`);

    let before: HopperStatus;
    let security: Buffer;
    try {
      // A reset since the last look disables the hopper; enabling again is harmless otherwise.
      await this.enableHopper();
      before = await this.readHopperStatus();
      security = await this.securityBytes();
    } catch (err) {
      throw this.noteFailure(err);
    }
    if (before.remaining > 0) {
      throw new DispenseNotAcceptedError(`${this.label}: a payout is still running (${before.remaining} coins to go); not sending another`);
    }

    this.log('info', `${this.label}: dispense`, { count, eventBefore: before.event });
    try {
      const reply = await this.request(Header.dispenseHopperCoins, Buffer.concat([security, Buffer.of(count)]), {
        retry: false,
        replyLength: 1,
      });
      const event = reply[0]!;
      if (event !== nextHopperEvent(before.event)) {
        this.log('warn', `${this.label}: dispense accepted with an unexpected event counter`, { before: before.event, event });
      }
      this.remember(event, count);
      return { event };
    } catch (err) {
      return this.settleLostReply(before, count, err);
    }
  }

  async awaitPayout(event: number): Promise<{ paid: number; unpaid: number }> {
    if (!Number.isInteger(event) || event < 0 || event > COUNTER_WRAP) {
      throw new RangeError(`${this.label}: event counter out of range: ${event}`);
    }
    const count = this.dispenses.get(event)?.count;
    const started = Date.now();
    let limitMs = count !== undefined ? this.payoutLimit(count) : undefined;
    let problem = 'no status yet';
    for (;;) {
      if (this.closed) throw new Error(`${this.label}: closed while waiting for payout ${event}`);
      let status: HopperStatus | undefined;
      try {
        status = await this.readHopperStatus();
      } catch (err) {
        this.noteFailure(err);
        problem = `hopper not answering: ${(err as Error).message}`;
      }
      if (status) {
        limitMs ??= this.payoutLimit(status.remaining);
        if (status.event !== event) return this.endPayout(event, status, status.event === 0 ? 'power-cut' : 'other');
        if (status.remaining === 0) return this.endPayout(event, status, 'ended');
        problem = `${status.remaining} coins still to pay`;
      }
      const waited = Date.now() - started;
      if (waited > (limitMs ?? this.payoutTimeout.baseMs)) {
        throw new Error(`${this.label}: payout ${event} did not end within ${waited} ms (${problem}); settle from readStatus()`);
      }
      await delay(this.statusPollMs);
    }
  }

  async emergencyStop(): Promise<number> {
    let remaining: number;
    try {
      remaining = (await this.request(Header.emergencyStop, undefined, { replyLength: 1 }))[0]!;
    } catch (err) {
      throw this.noteFailure(err);
    }
    // After a power cut that follows a stop the hopper reports 0 unpaid: the host has to remember.
    const latest = [...this.dispenses.values()].at(-1);
    if (latest) latest.stopRemaining = remaining;
    this.log('warn', `${this.label}: emergency stop`, { remaining });
    return remaining;
  }

  async selfTest(): Promise<string[]> {
    let flags: HopperFlag[];
    try {
      flags = hopperTestFlags(await this.request(Header.testHopper));
    } catch (err) {
      throw this.noteFailure(err);
    }
    const faults = flags.filter((f) => f.fault);
    const names = faults.map((f) => f.name);
    const code = HOPPER_FAULT_PRIORITY.find((c) => faults.some((f) => f.code === c));
    if (code) this.setPayoutFault({ health: 'fault', code, detail: `test hopper: ${names.join(', ')}` });
    else this.clearPayoutFault();
    if (faults.some((f) => f.name === 'power-up detected' || f.name === 'payout disabled')) {
      this.log('info', `${this.label}: hopper reset or disabled; enabling it again`, { flags: names });
      try {
        await this.enableHopper();
      } catch (err) {
        throw this.noteFailure(err);
      }
    }
    return names;
  }

  // ------------------------------------------------------------------------------ life cycle

  protected async startUp(): Promise<void> {
    this.log('info', `${this.label}: start-up`, { port: this.bus.description });
    await this.simplePoll();
    await this.checkCategory(Category.payout);
    const serial = await this.readSerial();
    this.serial = serial;
    this.firstSerial ??= serial;
    if (serial !== this.firstSerial) {
      this.serialMismatch = true;
      throw new WrongDeviceError(
        'serial-mismatch',
        `serial number ${serial} answers at address ${this.address}, but it was ${this.firstSerial}: another hopper? dispensing is refused`,
      );
    }
    this.serialMismatch = false;
    await this.enableHopper();
    const status = await this.readHopperStatus();
    if (status.remaining > 0) {
      this.log('warn', `${this.label}: a payout is running at start-up`, { ...status });
    } else if (status.unpaid > 0) {
      this.log('warn', `${this.label}: the last payout left coins unpaid`, { ...status });
    }
    this.setStatus(this.payoutFault ?? readyStatus());
    this.log('info', `${this.label}: ready`, { serial, event: status.event, coinValue: this.coinValue });
  }

  protected async tick(): Promise<void> {
    await this.simplePoll();
  }

  // ------------------------------------------------------------------------------ helpers

  private async readHopperStatus(): Promise<HopperStatus> {
    return parseHopperStatus(await this.request(Header.requestHopperStatus, undefined, { replyLength: 4 }));
  }

  private async enableHopper(): Promise<void> {
    await this.request(Header.enableHopper, Buffer.of(HOPPER_ENABLE_CODE), { replyLength: 0 });
  }

  private async securityBytes(): Promise<Buffer> {
    if (this.securityMode === 'zero8') {
      // An unencrypted SCH2 takes any 8 bytes, but only after a fresh cipher key request.
      await this.request(Header.requestCipherKey);
      return Buffer.alloc(8);
    }
    const s = this.serial ?? 0;
    return Buffer.of(s & 0xff, (s >>> 8) & 0xff, (s >>> 16) & 0xff);
  }

  /** The dispense reply was lost, garbled or a NAK: the event counter says what happened. */
  private async settleLostReply(before: HopperStatus, count: number, err: unknown): Promise<{ event: number }> {
    const why = (err as Error).message;
    const nak = err instanceof CctalkBusError && err.reason === 'nak';
    let after: HopperStatus;
    try {
      after = await this.readHopperStatus();
    } catch (statusErr) {
      this.noteFailure(statusErr);
      throw new DispenseOutcomeUnknownError(
        `${this.label}: outcome of the dispense of ${count} coins unknown: ${why}, and the status cannot be read (${(statusErr as Error).message})`,
      );
    }
    const fields = { count, before: before.event, after: after.event, reply: why };
    if (after.event === nextHopperEvent(before.event)) {
      this.log('warn', `${this.label}: dispense reply lost, but the event counter shows it was accepted`, fields);
      this.remember(after.event, count);
      return { event: after.event };
    }
    // A hopper that was power-cycled after taking the dispense is back at 0 as well, so from 0 only
    // a NAK proves that nothing happened.
    if (after.event === before.event && (before.event !== 0 || nak)) {
      this.log('warn', `${this.label}: dispense not accepted; nothing paid`, fields);
      throw new DispenseNotAcceptedError(`${this.label}: dispense of ${count} coins not accepted (nothing paid): ${why}`);
    }
    this.log('error', `${this.label}: dispense outcome unknown`, fields);
    throw new DispenseOutcomeUnknownError(
      `${this.label}: outcome of the dispense of ${count} coins unknown: ${why}; event counter went from ${before.event} to ${after.event} (reset or power cycle?); settle from readStatus()`,
    );
  }

  private endPayout(event: number, status: HopperStatus, how: 'ended' | 'power-cut' | 'other'): { paid: number; unpaid: number } {
    const asked = this.dispenses.get(event);
    let { paid, unpaid } = status;
    if (how === 'other') {
      this.log('error', `${this.label}: event counter moved on to another payout; reporting the hopper's last payout`, {
        event,
        now: status.event,
        paid,
        unpaid,
      });
    } else {
      if (how === 'power-cut') {
        this.log('warn', `${this.label}: hopper reset during payout ${event}; using the counts it kept`, { paid, unpaid });
      }
      // The hopper zeroes unpaid when a stop precedes a power cut; what was asked is the truth.
      if (asked && paid + unpaid < asked.count) {
        this.log('warn', `${this.label}: paid + unpaid is less than asked; the rest counts as unpaid`, {
          event,
          asked: asked.count,
          paid,
          unpaid,
          stopRemaining: asked.stopRemaining,
        });
        unpaid = asked.count - paid;
      }
    }
    this.log('info', `${this.label}: payout ended`, { event, paid, unpaid });
    if (unpaid > 0) void this.classifyShortfall(unpaid);
    else this.clearPayoutFault();
    return { paid, unpaid };
  }

  /** Coins left unpaid: empty or jammed? The test-hopper flags tell; without them, empty. */
  private async classifyShortfall(unpaid: number): Promise<void> {
    this.setPayoutFault({ health: 'fault', code: 'hopper-empty', detail: `last payout left ${unpaid} coins unpaid` });
    try {
      const faults = hopperTestFlags(await this.request(Header.testHopper)).filter((f) => f.code === 'hopper-jam');
      if (faults.length > 0) {
        this.setPayoutFault({
          health: 'fault',
          code: 'hopper-jam',
          detail: `last payout left ${unpaid} coins unpaid: ${faults.map((f) => f.name).join(', ')}`,
        });
      }
    } catch (err) {
      this.noteFailure(err);
    }
  }

  private payoutLimit(coins: number): number {
    return this.payoutTimeout.baseMs + this.payoutTimeout.perCoinMs * coins;
  }

  private remember(event: number, count: number): void {
    this.dispenses.delete(event);
    this.dispenses.set(event, { count });
    while (this.dispenses.size > REMEMBERED_DISPENSES) this.dispenses.delete(this.dispenses.keys().next().value!);
  }

  private setPayoutFault(status: DeviceStatus): void {
    this.payoutFault = status;
    if (this.ready) this.setStatus(status);
  }

  private clearPayoutFault(): void {
    if (!this.payoutFault) return;
    this.log('info', `${this.label}: fault cleared`, { was: this.payoutFault.code });
    this.payoutFault = undefined;
    if (this.ready) this.setStatus(readyStatus());
  }
}

function readyStatus(): DeviceStatus {
  return { health: 'ok', code: 'ready', detail: 'answering' };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
