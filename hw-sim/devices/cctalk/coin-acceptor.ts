import { EventEmitter } from 'node:events';
import type { BusDevice, DeviceReply } from './bus.js';
import { H, NAK, ack, ascii, checkSerial, identify, nextEvent, type Identity } from './peripheral.js';

export interface CoinChannel {
  channel: number;
  /** Face value in fen. */
  value: number;
  /** The 6-character id header 184 returns: country, value in minor units, issue. */
  id: string;
}

export const CNY_COINS: readonly CoinChannel[] = [
  { channel: 1, value: 100, id: 'CN100A' },
  { channel: 2, value: 50, id: 'CN050A' },
  { channel: 3, value: 10, id: 'CN010A' },
];

const CHANNELS = 16;
const EMPTY_CHANNEL_ID = '......';
const RING_SIZE = 5;
/** Result B of a credit: the sorter path the coin took. */
const SORTER_PATH = 1;
/** Self-check (header 232) fault code: fault on credit sensor. */
const CREDIT_SENSOR_FAULT = 3;
/** Result B of an error event (A = 0). */
export const COIN_ERROR = { rejectCoin: 1, inhibitedCoin: 2, unspecifiedAlarm: 255 } as const;

export interface CoinAcceptorOptions {
  address?: number;
  serial?: number;
}

export type CoinAcceptorEmulatorEvents = {
  report: [string];
};

/**
 * A ccTalk coin acceptor (CNY table) as the host sees it. Coins go in through insert(); the host
 * learns about them only by reading the buffered credit (229), as with the real device.
 */
export class CoinAcceptorEmulator extends EventEmitter<CoinAcceptorEmulatorEvents> implements BusDevice {
  readonly address: number;
  /** Face values (fen) of the coins credited, in order. */
  readonly accepted: number[] = [];
  private readonly identity: Identity;
  private counter = 0;
  /** [A, B] results, newest first. */
  private ring: Array<[number, number]> = emptyRing();
  private inhibitMask = 0;
  private masterEnabled = false;
  private jammed = false;
  private muted = false;

  constructor(options: CoinAcceptorOptions = {}) {
    super();
    this.address = options.address ?? 2;
    this.identity = {
      category: 'Coin Acceptor',
      productCode: 'CA-SIM-CNY',
      softwareRevision: 'CA-SIM-1.0',
      serial: checkSerial(options.serial ?? 0x01e240),
    };
  }

  get answering(): boolean {
    return !this.muted;
  }

  /** The event counter header 229 reports now. */
  get eventCounter(): number {
    return this.counter;
  }

  describe(): string {
    const enabled = CNY_COINS.filter((c) => this.channelEnabled(c.channel)).map((c) => c.value);
    return (
      `coin acceptor at address ${this.address}: ${this.masterEnabled ? 'accepting' : 'master inhibited'}, ` +
      `channels enabled: ${enabled.join(', ') || 'none'}, event ${this.counter}, ` +
      `fault: ${this.jammed ? 'jam' : 'none'}${this.muted ? ', silent' : ''}; ` +
      `accepted ${this.accepted.length} coin(s), total ${this.accepted.reduce((a, b) => a + b, 0)} fen`
    );
  }

  // ------------------------------------------------------------------ the customer and the technician

  /** A customer drops a coin of this face value (fen) into the slot. */
  insert(value: number): void {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`insert needs a positive whole amount in fen, got ${value}`);
    if (this.jammed) throw new Error('cannot insert: the coin path is jammed');
    const coin = CNY_COINS.find((c) => c.value === value);
    if (!coin) {
      const event = this.record(0, COIN_ERROR.rejectCoin);
      this.report(`coin ${value} fen rejected: unknown coin (event ${event})`);
      return;
    }
    if (!this.masterEnabled || !this.channelEnabled(coin.channel)) {
      const event = this.record(0, COIN_ERROR.inhibitedCoin);
      const why = this.masterEnabled ? `channel ${coin.channel} inhibited` : 'master inhibit';
      this.report(`coin ${value} fen rejected: ${why} (event ${event})`);
      return;
    }
    const event = this.record(coin.channel, SORTER_PATH);
    this.accepted.push(value);
    this.report(`coin ${value} fen accepted (channel ${coin.channel}, event ${event})`);
  }

  /** `count` coins of 1 yuan in a burst, faster than the host polls: more than 5 loses events. */
  flood(count: number): void {
    if (!Number.isSafeInteger(count) || count <= 0) throw new Error(`flood needs a positive whole count, got ${count}`);
    if (this.jammed) throw new Error('cannot flood: the coin path is jammed');
    this.report(`flood: ${count} coins of 100 fen at once`);
    for (let i = 0; i < count; i++) this.insert(100);
  }

  /** A coin sticks in the path: an alarm event, and no coin gets through until clear(). */
  jam(): void {
    this.jammed = true;
    const event = this.record(0, COIN_ERROR.unspecifiedAlarm);
    this.report(`jam: coin path blocked (error event ${COIN_ERROR.unspecifiedAlarm}, event ${event})`);
  }

  silent(): void {
    this.muted = true;
    this.report('silent: no more replies until clear');
  }

  clear(): void {
    this.jammed = false;
    this.muted = false;
    this.report(`cleared: ${this.masterEnabled ? 'accepting' : 'master inhibited'}`);
  }

  /** Power cut and back: the event buffer and the inhibits are volatile. */
  powerCycle(): void {
    this.jammed = false;
    this.muted = false;
    this.restart();
    this.report('power up: event counter 0, master inhibited');
  }

  // ------------------------------------------------------------------ the host

  handle(header: number, data: Uint8Array): DeviceReply | undefined {
    const identified = identify(this.identity, header, data);
    if (identified) return identified;
    switch (header) {
      case H.readBufferedCredit:
        return data.length === 0 ? ack([this.counter, ...this.ring.flat()]) : NAK;
      case H.modifyInhibits:
        if (data.length !== 2) return NAK;
        this.inhibitMask = data[0]! | (data[1]! << 8);
        this.report(`host: inhibits ${this.describeMask()}`);
        return ack();
      case H.requestInhibits:
        return data.length === 0 ? ack([this.inhibitMask & 0xff, this.inhibitMask >>> 8]) : NAK;
      case H.modifyMasterInhibit:
        if (data.length !== 1) return NAK;
        this.masterEnabled = (data[0]! & 1) === 1;
        this.report(`host: master ${this.masterEnabled ? 'enabled (accepting)' : 'inhibited'}`);
        return ack();
      case H.requestMasterInhibit:
        return data.length === 0 ? ack([this.masterEnabled ? 1 : 0]) : NAK;
      case H.coinId:
        return this.coinId(data);
      case H.performSelfCheck:
        // A coin stuck in the path blocks the credit sensor: fault code 3 until cleared.
        return data.length === 0 ? ack([this.jammed ? CREDIT_SENSOR_FAULT : 0]) : NAK;
      case H.reset:
        if (data.length !== 0) return NAK;
        this.restart();
        this.report('host: reset (event counter 0, master inhibited)');
        return ack();
      default:
        return NAK;
    }
  }

  private coinId(data: Uint8Array): DeviceReply {
    const channel = data[0];
    if (data.length !== 1 || channel === undefined || channel < 1 || channel > CHANNELS) return NAK;
    return ack(ascii(CNY_COINS.find((c) => c.channel === channel)?.id ?? EMPTY_CHANNEL_ID));
  }

  // ------------------------------------------------------------------ inside

  private channelEnabled(channel: number): boolean {
    return (this.inhibitMask & (1 << (channel - 1))) !== 0;
  }

  private describeMask(): string {
    const enabled = CNY_COINS.filter((c) => this.channelEnabled(c.channel)).map((c) => `${c.value}`);
    return `${this.inhibitMask.toString(16).padStart(4, '0')} (enabled: ${enabled.join(', ') || 'none'})`;
  }

  private record(a: number, b: number): number {
    this.counter = nextEvent(this.counter);
    this.ring = [[a, b] as [number, number], ...this.ring].slice(0, RING_SIZE);
    return this.counter;
  }

  private restart(): void {
    this.counter = 0;
    this.ring = emptyRing();
    this.inhibitMask = 0;
    this.masterEnabled = false;
  }

  private report(line: string): void {
    this.emit('report', line);
  }
}

function emptyRing(): Array<[number, number]> {
  return Array.from({ length: RING_SIZE }, () => [0, 0] as [number, number]);
}
