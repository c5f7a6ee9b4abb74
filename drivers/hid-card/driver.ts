/**
 * USB HID magnetic stripe reader, either kind: a keyboard wedge (boot-keyboard reports typed into
 * characters until Enter) or a vendor-report reader (one report per swipe with the tracks in fields).
 * The reader only reports; it has no commands. Card data exists only in the SealedCard of a read and
 * in zero-filled scratch buffers; it is never logged.
 */
import { PolledDevice } from '../lifecycle.js';
import type { HidSource } from '../transport/hid.js';
import type { BadReadReason, CardReader, CardReaderCapabilities, CardReaderEvents, DeviceIdentity, DriverLog } from '../types.js';
import { KeyboardDecoder, type KeyboardEvent } from '../keyboard/boot-keyboard.js';
import { seal } from './mask.js';
import { TrackError, readSwipe, readTracks, type CardData } from './tracks.js';
import { VendorReportError, parseVendorReport } from './vendor.js';

export type HidReportKind = 'keyboard' | 'vendor';

export interface HidCardReaderOptions {
  source: HidSource;
  kind: HidReportKind;
  /** Model name for identity(), e.g. 'hid-keyboard'. */
  model: string;
  /** Key of the card-number hash (derivePanKey of the terminal secret). */
  panKey: Uint8Array;
  /** A keyboard swipe whose Enter never comes is ended after this quiet time. Default 500 ms. */
  swipeGapMs?: number;
  /** How often the loop looks at an open device. Default 1000 ms. */
  checkIntervalMs?: number;
  reconnect?: { initialMs: number; maxMs: number };
  log?: DriverLog;
}

class DeviceGone extends Error {}

export class HidCardReader extends PolledDevice<CardReaderEvents> implements CardReader {
  readonly kind = 'card-reader' as const;
  readonly capabilities: CardReaderCapabilities = { presence: false };

  private readonly source: HidSource;
  private readonly reportKind: HidReportKind;
  private readonly model: string;
  private readonly panKey: Buffer;
  private readonly swipeGapMs: number;
  private readonly checkIntervalMs: number;
  private readonly keyboard = new KeyboardDecoder();
  private enabled = false;
  private gone = false;
  private gapTimer: NodeJS.Timeout | undefined;

  constructor(opts: HidCardReaderOptions) {
    super({
      label: `hid-card ${opts.kind}`,
      link: opts.source,
      reconnect: opts.reconnect,
      log: opts.log,
      unavailableMessage: 'hid-card: reader unavailable, retrying',
      recoveredMessage: () => 'hid-card: reader back',
    });
    this.source = opts.source;
    this.reportKind = opts.kind;
    this.model = opts.model;
    this.panKey = Buffer.from(opts.panKey);
    this.swipeGapMs = opts.swipeGapMs ?? 500;
    this.checkIntervalMs = opts.checkIntervalMs ?? 1000;
    this.source.on('report', (report) => this.onReport(report));
    this.source.on('close', () => {
      if (this.closed) return;
      this.gone = true;
      this.wakeLoop();
    });
    this.source.on('error', (err) => this.log('warn', 'hid-card: device error', { error: err.message }));
  }

  identity(): DeviceIdentity {
    return { kind: 'card-reader', model: this.model };
  }

  async enable(): Promise<void> {
    this.keyboard.reset();
    this.enabled = true;
  }

  async disable(): Promise<void> {
    this.enabled = false;
    this.keyboard.reset();
  }

  protected async startUp(): Promise<void> {
    this.gone = false;
    this.keyboard.reset();
    await this.source.open();
    this.setStatus({ health: 'ok', code: 'ok', detail: `reading ${this.reportKind} reports on ${this.source.description}` });
  }

  protected async step(): Promise<void> {
    if (!this.ready) {
      await this.start();
      return;
    }
    if (this.gone || !this.source.isOpen) throw new DeviceGone('the reader went away');
    await this.sleep(this.checkIntervalMs);
  }

  protected async failed(err: unknown): Promise<void> {
    this.clearGap();
    this.keyboard.reset();
    await this.source.close();
    this.setStatus({ health: 'offline', code: 'no-device', detail: (err as Error).message });
  }

  protected async release(): Promise<void> {
    this.clearGap();
    this.keyboard.reset();
    await this.source.close();
  }

  private onReport(report: Buffer): void {
    try {
      if (this.reportKind === 'keyboard') {
        for (const event of this.keyboard.push(report)) this.onSwipe(event);
        this.clearGap();
        if (this.keyboard.pending > 0) this.gapTimer = setTimeout(() => this.onGap(), this.swipeGapMs);
      } else {
        this.onVendorReport(report);
      }
    } finally {
      report.fill(0);
    }
  }

  private onGap(): void {
    this.gapTimer = undefined;
    const event = this.keyboard.flush();
    if (event) this.onSwipe(event);
  }

  private clearGap(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }

  private onSwipe(event: KeyboardEvent): void {
    if (event.kind === 'overflow') {
      this.badRead('too-long', `${event.length} characters before Enter`);
      return;
    }
    try {
      this.deliver(() => readSwipe(event.bytes));
    } finally {
      event.bytes.fill(0);
    }
  }

  private onVendorReport(report: Buffer): void {
    let swipe;
    try {
      swipe = parseVendorReport(report);
    } catch (err) {
      if (!(err instanceof VendorReportError)) throw err;
      this.badRead('device-error', err.message);
      return;
    }
    if (swipe.encodeType === 'blank' || swipe.encodeType === 'none') {
      this.badRead('empty', `the reader found no data (${swipe.encodeType})`);
      return;
    }
    const tracks: { track1?: Uint8Array | TrackError; track2?: Uint8Array | TrackError } = {};
    if (swipe.track1 !== undefined) tracks.track1 = swipe.track1;
    if (swipe.track2 !== undefined) tracks.track2 = swipe.track2;
    this.deliver(() => readTracks(tracks));
  }

  /** Parses, then hands the card out, or reports why not; a swipe while disabled is dropped unread. */
  private deliver(parse: () => CardData): void {
    if (!this.enabled) {
      this.log('info', 'hid-card: swipe while not taking cards, ignored');
      return;
    }
    let card: CardData;
    try {
      card = parse();
    } catch (err) {
      if (!(err instanceof TrackError)) throw err;
      this.badRead(err.reason, err.message);
      return;
    }
    const read = seal(card, this.panKey);
    this.log('info', 'hid-card: card read', { tracks: read.card.tracks });
    let taken = false;
    this.tell(() => {
      taken = this.emit('read', read);
    });
    if (!taken) read.sensitive.wipe();
  }

  private badRead(reason: BadReadReason, detail: string): void {
    if (!this.enabled) return;
    this.log('info', 'hid-card: bad read', { reason, detail });
    this.tell(() => this.emit('bad-read', { reason, detail }));
  }
}
