/**
 * ccTalk coin acceptor, host side. The device keeps the last five events in a ring buffer with a
 * counter (header 229); the driver polls it and turns every new event into a coin or a log line.
 * The acceptor decides on its own whether a coin is genuine; the driver only says which coin
 * channels may be accepted and whether accepting is on at all (master inhibit).
 */
import type { Coin, CoinAcceptor, CoinAcceptorEvents, DeviceIdentity, DeviceStatus, DriverLog } from '../types.js';
import { CctalkBusError, type CctalkBus } from './bus.js';
import { CctalkDevice, ascii, type Backoff } from './device.js';
import { Address, Category, Header, coinErrorText, selfCheckFaultText, seriousCoinError } from './headers.js';

export interface CoinChannel {
  channel: number;
  /** Face value in minor units (fen). */
  value: number;
}

export interface CctalkCoinAcceptorOptions {
  bus: CctalkBus;
  /** Default 2. */
  address?: number;
  /** Channel → value. Without it the driver reads the coin ids from the device (header 184). */
  coins?: readonly CoinChannel[];
  /** ISO 4217 code of the coins. Default 'CNY'. */
  currency?: string;
  /** Default 200 ms. */
  pollIntervalMs?: number;
  reconnect?: Backoff;
  log?: DriverLog;
}

/** The ring buffer holds this many events; a counter step larger than this lost some. */
const RING_EVENTS = 5;
const CREDIT_REPLY_LENGTH = 1 + 2 * RING_EVENTS;
const CHANNELS = 16;
const COUNTER_WRAP = 255;

/** Country prefixes of ccTalk coin ids, by ISO 4217 currency. */
const COIN_ID_COUNTRY: Readonly<Record<string, string>> = {
  CNY: 'CN',
  EUR: 'EU',
  GBP: 'GB',
  USD: 'US',
  HKD: 'HK',
};

/** Events between two counter values; the counter skips 0 when it wraps from 255. */
export function counterDelta(from: number, to: number): number {
  if (to >= from) return to - from;
  return to + COUNTER_WRAP - from;
}

/** The counter `steps` events before `now` (now ≥ 1), skipping 0 as the device does. */
export function counterBefore(now: number, steps: number): number {
  return ((((now - 1 - steps) % COUNTER_WRAP) + COUNTER_WRAP) % COUNTER_WRAP) + 1;
}

/**
 * A coin id (header 184) such as "CN100A": two letters of country, three digits of value in minor
 * units, one letter of issue. Anything else (an empty channel, a token, a scaled value) is undefined.
 */
export function parseCoinId(id: string): { country: string; value: number } | undefined {
  const m = /^([A-Z]{2})(\d{3})[A-Z]$/.exec(id);
  if (!m) return undefined;
  const value = Number(m[2]);
  return value > 0 ? { country: m[1]!, value } : undefined;
}

/** Header 231 data: bit (channel - 1) set enables the channel; channels 1–8 in the first byte. */
export function inhibitMask(channels: Iterable<number>): Buffer {
  let bits = 0;
  for (const ch of channels) if (ch >= 1 && ch <= CHANNELS) bits |= 1 << (ch - 1);
  return Buffer.from([bits & 0xff, bits >>> 8]);
}

export class CctalkCoinAcceptor extends CctalkDevice<CoinAcceptorEvents> implements CoinAcceptor {
  readonly kind = 'coin-acceptor' as const;
  protected readonly tickMs: number;
  private readonly currency: string;
  private coinList: Coin[] = [];
  private serial: number | undefined;
  /** The last event counter seen; undefined until the first open. */
  private counter: number | undefined;
  /** The counter the last 'counter' event gave. */
  private reported: number | undefined;
  /** The device answered the self-check (header 232) with NAK or nothing once. */
  private selfCheckUnsupported = false;
  /** The host's journalled counter, for the first open only. */
  private resumeCounter: number | undefined;
  /** Reads of the buffer, one at a time: two replies handled out of order would look like a wrap. */
  private reads: Promise<unknown> = Promise.resolve();
  private desired: { accepting: boolean; values: readonly number[] } = { accepting: false, values: [] };

  constructor(opts: CctalkCoinAcceptorOptions) {
    const address = opts.address ?? Address.coinAcceptor;
    super(`cctalk coin acceptor@${address}`, { bus: opts.bus, address, reconnect: opts.reconnect, log: opts.log });
    this.tickMs = opts.pollIntervalMs ?? 200;
    this.currency = opts.currency ?? 'CNY';
    if (opts.coins) this.coinList = this.fromConfig(opts.coins);
  }

  identity(): DeviceIdentity {
    return {
      kind: 'coin-acceptor',
      model: 'ccTalk coin acceptor',
      ...(this.serial !== undefined ? { serial: String(this.serial) } : {}),
    };
  }

  coins(): readonly Coin[] {
    return this.coinList;
  }

  async enable(values: readonly number[]): Promise<void> {
    this.desired = { accepting: true, values: [...values] };
    const known = new Set(this.coinList.map((c) => c.value));
    const unknown = values.filter((v) => !known.has(v));
    if (unknown.length > 0 && this.coinList.length > 0) {
      this.log('warn', `${this.label}: enable() asked for values the device does not take`, { values: unknown });
    }
    if (!this.ready) {
      throw new Error(`${this.label}: not ready (offline or starting); the setting is kept and applied when it is`);
    }
    try {
      await this.applyDesired();
    } catch (err) {
      throw this.noteFailure(err);
    }
  }

  resumeFrom(counter: number): void {
    if (!Number.isInteger(counter) || counter < 0 || counter > COUNTER_WRAP) {
      throw new Error(`${this.label}: an event counter is 0..255, got ${counter}`);
    }
    if (this.counter === undefined) this.resumeCounter = counter;
  }

  async drain(): Promise<void> {
    if (!this.ready) return;
    try {
      await this.readEvents();
    } catch (err) {
      throw this.noteFailure(err);
    }
  }

  async disable(): Promise<void> {
    this.desired = { ...this.desired, accepting: false };
    // Every start-up leaves the device inhibited, so a device that is not ready needs nothing more.
    if (!this.ready) return;
    try {
      await this.request(Header.modifyMasterInhibit, Buffer.of(0), { replyLength: 0 });
    } catch (err) {
      throw this.noteFailure(err);
    }
  }

  // ------------------------------------------------------------------------------ life cycle

  protected async startUp(): Promise<void> {
    this.log('info', `${this.label}: start-up`, { port: this.bus.description });
    await this.simplePoll();
    await this.checkCategory(Category.coinAcceptor);
    this.serial = await this.readSerial();
    // Inhibit first: nothing may be accepted while the driver is not yet following the counter.
    await this.request(Header.modifyMasterInhibit, Buffer.of(0), { replyLength: 0 });
    if (this.coinList.length === 0) this.coinList = await this.readCoinIds();
    const credit = await this.readCredit();
    if (this.counter === undefined && this.resumeCounter !== undefined) {
      // The host went down with the device still accepting: what it took since is in its buffer.
      this.counter = this.resumeCounter;
      this.resumeCounter = undefined;
      this.log('info', `${this.label}: resuming from the host's event counter`, { from: this.counter, device: credit[0] });
    }
    if (this.counter === undefined) {
      this.counter = credit[0]!;
      this.log('info', `${this.label}: event counter baseline`, { counter: this.counter, buffer: credit.subarray(1).toString('hex') });
    } else {
      // Coins the device took while we could not hear it are still in its buffer.
      this.takeEvents(credit, true);
    }
    this.reportCounter(this.counter);
    const fault = await this.selfCheck();
    if (fault) {
      // A lasting fault (a blocked sensor, a corrupt memory): it stays inhibited until serviced.
      this.setStatus(fault);
      this.log('info', `${this.label}: open, but the self-check reports a fault`, { code: fault.code, detail: fault.detail });
      return;
    }
    if (this.desired.accepting) await this.applyDesired();
    this.setStatus(this.readyStatus());
    this.log('info', `${this.label}: ready`, { serial: this.serial, coins: this.coinList.map((c) => `${c.code}:${c.value}`) });
  }

  protected async tick(): Promise<void> {
    if (this.current.health === 'fault') {
      // Asked again each poll: once the technician fixed it, the device is enabled as wanted.
      const fault = await this.selfCheck();
      if (fault) return this.setStatus(fault);
      if (this.desired.accepting) await this.applyDesired();
      this.setStatus(this.readyStatus());
    }
    await this.readEvents();
  }

  /**
   * Header 232: a fault the device found in itself, or undefined. Some acceptors do not implement
   * it and answer NAK or nothing (it already answered the simple poll): that is taken as no fault
   * and it is not asked again. Asked once, without re-sends.
   */
  private async selfCheck(): Promise<DeviceStatus | undefined> {
    if (this.selfCheckUnsupported) return undefined;
    let reply: Buffer;
    try {
      reply = await this.request(Header.performSelfCheck, undefined, { retry: false });
    } catch (err) {
      if (!(err instanceof CctalkBusError) || (err.reason !== 'nak' && err.reason !== 'no-reply')) throw err;
      this.selfCheckUnsupported = true;
      this.log('info', `${this.label}: no answer to the self-check (header 232); not asked again`, { reason: err.reason });
      return undefined;
    }
    const code = reply[0] ?? 0;
    if (code === 0) return undefined;
    return { health: 'fault', code: 'self-check', detail: `self-check: ${selfCheckFaultText(code)} (fault code ${code})` };
  }

  private readEvents(): Promise<void> {
    const read = this.reads.then(async () => this.takeEvents(await this.readCredit(), false));
    this.reads = read.catch(() => undefined);
    return read;
  }

  private async readCredit(): Promise<Buffer> {
    return this.request(Header.readBufferedCredit, undefined, { replyLength: CREDIT_REPLY_LENGTH });
  }

  private async applyDesired(): Promise<void> {
    const { accepting, values } = this.desired;
    const wanted = new Set(values);
    const channels = this.coinList.filter((c) => wanted.has(c.value)).map((c) => c.code);
    await this.request(Header.modifyInhibitStatus, inhibitMask(channels), { replyLength: 0 });
    await this.request(Header.modifyMasterInhibit, Buffer.of(accepting ? 1 : 0), { replyLength: 0 });
  }

  private fromConfig(channels: readonly CoinChannel[]): Coin[] {
    return channels
      .filter((c) => {
        const ok = Number.isInteger(c.channel) && c.channel >= 1 && c.channel <= CHANNELS && Number.isSafeInteger(c.value) && c.value > 0;
        if (!ok) this.log('error', `${this.label}: invalid coin channel in the configuration, ignored`, { ...c });
        return ok;
      })
      .map((c) => ({ value: c.value, currency: this.currency, code: c.channel }));
  }

  private async readCoinIds(): Promise<Coin[]> {
    const country = COIN_ID_COUNTRY[this.currency];
    const coins: Coin[] = [];
    for (let channel = 1; channel <= CHANNELS; channel++) {
      const id = ascii(await this.request(Header.requestCoinId, Buffer.of(channel)));
      const parsed = parseCoinId(id);
      if (!parsed) continue;
      if (parsed.country !== country) {
        this.log('warn', `${this.label}: coin of another currency left inhibited`, { channel, id });
        continue;
      }
      coins.push({ value: parsed.value, currency: this.currency, code: channel });
    }
    if (coins.length === 0) this.log('error', `${this.label}: the device reports no coins of ${this.currency}`);
    return coins;
  }

  // ------------------------------------------------------------------------------ events

  /**
   * Handles a 229 reply: `[counter][A1][B1]…[A5][B5]`, newest first. `opening`: the device is being
   * (re)opened, so a counter at 0 needs no further re-open.
   */
  private takeEvents(credit: Buffer, opening: boolean): void {
    const last = this.counter ?? 0;
    const now = credit[0]!;
    if (now === last) return;
    if (now === 0) {
      this.log('warn', `${this.label}: event counter back to 0: the device was reset or power-cycled`, { last });
      this.counter = 0;
      if (!opening) this.ready = false;
      this.reportCounter(0);
      return;
    }
    const delta = counterDelta(last, now);
    this.counter = now;
    if (delta > RING_EVENTS) {
      const count = delta - RING_EVENTS;
      this.log('error', `${this.label}: ${count} events lost between polls; coins may have been taken without credit`, {
        last,
        now,
      });
      this.tell(() => this.emit('events-lost', { count }));
    }
    for (let i = Math.min(delta, RING_EVENTS) - 1; i >= 0; i--) this.takeEvent(credit[1 + 2 * i]!, credit[2 + 2 * i]!, counterBefore(now, i));
    this.reportCounter(now);
  }

  private reportCounter(counter: number): void {
    if (counter === this.reported) return;
    this.reported = counter;
    this.tell(() => this.emit('counter', { counter }));
  }

  private takeEvent(a: number, b: number, counter: number): void {
    if (a > 0) {
      const coin = this.coinList.find((c) => c.code === a);
      if (!coin) {
        this.log('error', `${this.label}: coin accepted on a channel with no known value`, { channel: a });
        this.tell(() => this.emit('events-lost', { count: 1 }));
        return;
      }
      this.log('info', `${this.label}: coin accepted`, { value: coin.value, channel: a });
      if (this.current.health === 'degraded') this.setStatus(this.readyStatus());
      this.tell(() => this.emit('coin', coin, { counter }));
      return;
    }
    if (b === 0) return;
    const text = coinErrorText(b);
    const serious = seriousCoinError(b);
    if (!serious) {
      this.log('info', `${this.label}: ${text}`, { code: b });
      return;
    }
    this.log('warn', `${this.label}: ${text}`, { code: b });
    // An event, not a lasting state: the device goes on working, so it is reported as degraded
    // until a coin is accepted again.
    this.setStatus({ health: 'degraded', code: serious, detail: `${text} (code ${b})` });
  }

  private readyStatus(): DeviceStatus {
    return { health: 'ok', code: 'ready', detail: 'answering' };
  }
}
