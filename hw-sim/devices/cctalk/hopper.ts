import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { BusDevice, DeviceReply } from './bus.js';
import { H, NAK, ack, checkSerial, hexBytes, identify, nextEvent, serialBytes, type Identity } from './peripheral.js';

/**
 * How a dispense proves it is meant: the 3 serial-number bytes (Suzo Flow "ITA serial" and many
 * others) or 8 bytes after a fresh cipher key (SCH2 without encryption: any 8 bytes will do).
 */
export type HopperSecurity = 'serial' | 'cipher';

export interface HopperOptions {
  address?: number;
  serial?: number;
  /** Value of one coin in fen: only for the reports. */
  coinValue?: number;
  /** Coins inside at power-up. */
  level?: number;
  security?: HopperSecurity;
  /** Time one coin takes to leave the hopper. */
  coinIntervalMs?: number;
}

export type HopperEmulatorEvents = {
  report: [string];
};

/** The data byte of header 164 that enables the hopper; any other value disables it. */
export const ENABLE_CODE = 0xa5;
const CIPHER_KEY_LENGTH = 8;

/** Test hopper (163) register 1. */
export const FLAG1 = {
  payoutTimeout: 1 << 1,
  pathBlockedIdle: 1 << 3,
  optoBlockedDuringPayout: 1 << 5,
  powerUp: 1 << 6,
  payoutDisabled: 1 << 7,
} as const;

interface Payout {
  /** Coins asked for. */
  requested: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A ccTalk payout hopper as the host sees it, with the counters the SCH2 keeps in EEPROM.
 *
 * Behaviour chosen where the manuals leave room:
 * - Test hopper b6 (power-up detected) is set by a power cycle and stays set until a reset
 *   (header 1): the Flow manual says a reset returns every variable, status flags included, to its
 *   default. b1 (payout timeout) is set when a payout runs out of coins and cleared when the next
 *   dispense starts (SCH2). A jam sets b5 during a payout or b3 when idle; both stay latched until a
 *   reset or power cycle, while dispense is refused until the jam is cleared.
 * - Emergency stop keeps the event counter: only power-up and reset zero it.
 * - A reset behaves like a power cycle for a running payout (the Flow saves its counters to EEPROM
 *   before it resets): the payout stops, paid and unpaid survive, the counter goes to 0.
 */
export class HopperEmulator extends EventEmitter<HopperEmulatorEvents> implements BusDevice {
  readonly address: number;
  readonly coinValue: number;
  readonly security: HopperSecurity;
  readonly coinIntervalMs: number;
  private readonly identity: Identity;
  private coins: number;
  /** Coins that left the hopper over its life (all payouts). */
  private lifeDispensed = 0;
  private enabled = false;
  private counter = 0;
  private remaining = 0;
  private paid = 0;
  private unpaid = 0;
  /** What the EEPROM holds for the last payout, written at each step of it. */
  private saved = { paid: 0, unpaid: 0 };
  private flags1: number = FLAG1.powerUp;
  private cipherKey: Uint8Array | undefined;
  private payout: Payout | undefined;
  private jammed = false;
  private muted = false;

  constructor(options: HopperOptions = {}) {
    super();
    this.address = options.address ?? 3;
    this.coinValue = options.coinValue ?? 100;
    this.coins = options.level ?? 200;
    this.security = options.security ?? 'serial';
    this.coinIntervalMs = options.coinIntervalMs ?? 100;
    this.identity = {
      category: 'Payout',
      productCode: 'HOPPER-SIM',
      softwareRevision: 'HOPPER-SIM-1.0',
      // The serial of the Flow manual's dispense example, so its bytes work as they are.
      serial: checkSerial(options.serial ?? 0x0ad7df),
    };
    if (!Number.isSafeInteger(this.coinValue) || this.coinValue <= 0) throw new RangeError(`coin value must be positive fen, got ${this.coinValue}`);
    if (!Number.isSafeInteger(this.coins) || this.coins < 0) throw new RangeError(`level must be a whole count, got ${this.coins}`);
  }

  get answering(): boolean {
    return !this.muted;
  }

  get serial(): number {
    return this.identity.serial;
  }

  /** Coins inside now. */
  get level(): number {
    return this.coins;
  }

  /** What header 166 would answer now. */
  status(): { event: number; remaining: number; paid: number; unpaid: number } {
    return { event: this.counter, remaining: this.remaining, paid: this.paid, unpaid: this.unpaid };
  }

  describe(): string {
    const s = this.status();
    return (
      `hopper at address ${this.address}: ${this.enabled ? 'enabled' : 'disabled'}, ` +
      `${this.payout ? 'paying out' : 'idle'}, level ${this.coins} coin(s) of ${this.coinValue} fen, ` +
      `event ${s.event}, remaining ${s.remaining}, paid ${s.paid}, unpaid ${s.unpaid}, ` +
      `test flags ${hexBytes(this.testRegisters())}, fault: ${this.jammed ? 'jam' : 'none'}` +
      `${this.muted ? ', silent' : ''}, security ${this.security}` +
      (this.security === 'serial' ? ` (${hexBytes(serialBytes(this.serial))})` : '') +
      `, life dispensed ${this.lifeDispensed}`
    );
  }

  // ------------------------------------------------------------------ the technician

  empty(): void {
    this.coins = 0;
    this.report('empty: no coins left in the hopper');
  }

  refill(count: number): void {
    if (!Number.isSafeInteger(count) || count <= 0) throw new Error(`refill needs a positive whole count, got ${count}`);
    this.coins += count;
    this.report(`refill: +${count}, level ${this.coins}`);
  }

  /** A coin sticks in the exit: a running payout ends short, and dispense is refused until clear(). */
  jam(): void {
    this.jammed = true;
    if (this.payout) {
      this.flags1 |= FLAG1.optoBlockedDuringPayout;
      this.report('jam: exit blocked during the payout');
      this.endPayout();
    } else {
      this.flags1 |= FLAG1.pathBlockedIdle;
      this.report('jam: exit blocked');
    }
  }

  silent(): void {
    this.muted = true;
    this.report('silent: no more replies until clear');
  }

  clear(): void {
    this.jammed = false;
    this.muted = false;
    this.report(`cleared: ${this.enabled ? 'enabled' : 'disabled'}, level ${this.coins}`);
  }

  /** Power cut and back: a payout stops for good, the EEPROM's paid/unpaid come back, counter 0. */
  powerCycle(): void {
    const interrupted = this.payout !== undefined;
    this.restart();
    this.jammed = false;
    this.muted = false;
    this.flags1 = FLAG1.powerUp;
    this.report(
      `power up${interrupted ? ' (payout interrupted, not resumed)' : ''}: event 0, ` +
        `last payout paid ${this.paid}, unpaid ${this.unpaid}`,
    );
  }

  /** Stops timers; the owner calls it when the emulator goes away. */
  shutdown(): void {
    clearTimeout(this.payout?.timer);
    this.payout = undefined;
  }

  // ------------------------------------------------------------------ the host

  handle(header: number, data: Uint8Array): DeviceReply | undefined {
    const identified = identify(this.identity, header, data);
    if (identified) return identified;
    switch (header) {
      case H.enableHopper:
        if (data.length !== 1) return NAK;
        this.enabled = data[0] === ENABLE_CODE;
        this.report(`host: ${this.enabled ? 'enable' : 'disable'}`);
        return ack();
      case H.dispense:
        return this.dispense(data);
      case H.hopperStatus:
        return data.length === 0 ? ack([this.counter, this.remaining, this.paid, this.unpaid]) : NAK;
      case H.testHopper:
        return data.length === 0 ? ack(this.testRegisters()) : NAK;
      case H.emergencyStop:
        return data.length === 0 ? this.emergencyStop() : NAK;
      case H.requestCipherKey:
        if (data.length !== 0) return NAK;
        this.cipherKey = Uint8Array.from(randomBytes(CIPHER_KEY_LENGTH));
        return ack(this.cipherKey);
      case H.reset:
        if (data.length !== 0) return NAK;
        this.restart();
        this.flags1 = 0;
        this.report(`host: reset (event 0, disabled, last payout paid ${this.paid}, unpaid ${this.unpaid})`);
        return ack();
      default:
        return NAK;
    }
  }

  private dispense(data: Uint8Array): DeviceReply {
    const refused = this.refusal(data);
    if (refused) {
      this.report(`host: dispense refused (NAK): ${refused}`);
      return NAK;
    }
    const count = data[data.length - 1]!;
    this.cipherKey = undefined;
    this.counter = nextEvent(this.counter);
    this.flags1 &= ~FLAG1.payoutTimeout;
    this.remaining = count;
    this.paid = 0;
    this.unpaid = 0;
    this.saved = { paid: 0, unpaid: count };
    this.report(`dispense ${count} coin${count === 1 ? '' : 's'} (event ${this.counter})`);
    if (count === 0) {
      this.report('payout done: paid 0, unpaid 0');
    } else {
      this.payout = { requested: count, timer: undefined };
      this.nextCoin();
    }
    return ack([this.counter]);
  }

  private refusal(data: Uint8Array): string | undefined {
    const proofLength = this.security === 'serial' ? 3 : CIPHER_KEY_LENGTH;
    if (data.length !== proofLength + 1) return `expected ${proofLength + 1} data bytes, got ${data.length}`;
    if (!this.enabled) return 'hopper not enabled';
    if (this.payout) return 'already dispensing';
    if (this.jammed) return 'exit blocked';
    if (this.security === 'cipher') {
      if (!this.cipherKey) return 'no cipher key requested (header 160) before this dispense';
      return undefined;
    }
    const expected = serialBytes(this.serial);
    if (expected.some((b, i) => data[i] !== b)) {
      return `wrong serial bytes ${hexBytes(data.subarray(0, 3))} (expected ${hexBytes(expected)})`;
    }
    return undefined;
  }

  private emergencyStop(): DeviceReply {
    const left = this.remaining;
    if (!this.payout) return ack([left]);
    clearTimeout(this.payout.timer);
    this.payout = undefined;
    this.remaining = 0;
    this.unpaid = left;
    // SCH2 and Flow: after a stop the EEPROM says unpaid 0; the host must keep the stop's answer.
    this.saved = { paid: this.paid, unpaid: 0 };
    this.enabled = false;
    this.cipherKey = undefined;
    this.report(`host: emergency stop with ${left} coin(s) left: paid ${this.paid}, hopper disabled`);
    return ack([left]);
  }

  // ------------------------------------------------------------------ the motor

  private nextCoin(): void {
    const payout = this.payout!;
    payout.timer = setTimeout(() => {
      payout.timer = undefined;
      if (this.coins === 0) {
        this.flags1 |= FLAG1.payoutTimeout;
        this.report('payout timeout: hopper empty');
        this.endPayout();
        return;
      }
      this.coins -= 1;
      this.lifeDispensed += 1;
      this.remaining -= 1;
      this.paid += 1;
      this.saved = { paid: this.paid, unpaid: this.remaining };
      this.report(`paid coin ${this.paid}/${payout.requested}`);
      if (this.remaining === 0) this.endPayout();
      else this.nextCoin();
    }, this.coinIntervalMs);
  }

  /** The payout is over, complete or short: what is left becomes unpaid. */
  private endPayout(): void {
    clearTimeout(this.payout?.timer);
    this.payout = undefined;
    this.unpaid = this.remaining;
    this.remaining = 0;
    this.saved = { paid: this.paid, unpaid: this.unpaid };
    this.report(`payout done: paid ${this.paid}, unpaid ${this.unpaid}`);
  }

  /** Power-up or reset: RAM is gone, the EEPROM's record of the last payout comes back. */
  private restart(): void {
    clearTimeout(this.payout?.timer);
    this.payout = undefined;
    this.enabled = false;
    this.cipherKey = undefined;
    this.counter = 0;
    this.remaining = 0;
    this.paid = this.saved.paid;
    this.unpaid = this.saved.unpaid;
  }

  private testRegisters(): [number, number] {
    const register1 = this.flags1 | (this.enabled ? 0 : FLAG1.payoutDisabled);
    return [register1, 0];
  }

  private report(line: string): void {
    this.emit('report', line);
  }
}
