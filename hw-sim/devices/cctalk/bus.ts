import { EventEmitter } from 'node:events';
import type { Transport } from '../../../drivers/transport/types.js';
import {
  BROADCAST_ADDRESS,
  HostFrameParser,
  encodeReply,
  type CctalkFrame,
  type CheckMode,
} from './wire.js';

const ADDRESS_POLL = 253;
/** Bytes of one frame arrive well within this; a longer silence means the host gave up on it. */
const INTER_BYTE_GAP_MS = 50;
/** Each device answers an address poll after 4 ms times its address, so the answers never collide. */
const ADDRESS_POLL_STEP_MS = 4;

export interface DeviceReply {
  header: number;
  data?: Uint8Array | readonly number[];
}

/** An emulated peripheral as the bus sees it. */
export interface BusDevice {
  readonly address: number;
  /** False while the device plays dead: it answers nothing, not even an address poll. */
  readonly answering: boolean;
  /** The reply to a frame addressed to this device, or undefined to stay silent. */
  handle(header: number, data: Uint8Array): DeviceReply | undefined;
}

export interface CctalkBusOptions {
  transport: Transport;
  /** A single-wire bus hands every byte the host sends back to the host; a pty does not. */
  echo?: boolean;
  /** How long a device "thinks" before it answers. */
  replyDelayMs?: number;
  checkMode?: CheckMode;
}

export type CctalkBusEvents = {
  report: [string];
};

/**
 * The device side of a ccTalk line: echoes the host's bytes, cuts them into frames and hands each
 * frame to the attached device with that address. Frames for an address nobody has, broadcasts
 * other than the address poll and frames with a bad check get no answer at all.
 */
export class CctalkBus extends EventEmitter<CctalkBusEvents> {
  readonly echo: boolean;
  private readonly transport: Transport;
  private readonly replyDelayMs: number;
  private readonly checkMode: CheckMode;
  private readonly devices = new Map<number, BusDevice>();
  private readonly parser: HostFrameParser;
  private lastByteAt = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private writing: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onClose = (): void => this.report('serial line closed');
  private readonly onError = (err: Error): void => this.report(`serial line error: ${err.message}`);

  constructor(options: CctalkBusOptions) {
    super();
    this.transport = options.transport;
    this.echo = options.echo ?? true;
    this.replyDelayMs = options.replyDelayMs ?? 10;
    this.checkMode = options.checkMode ?? 'checksum8';
    this.parser = new HostFrameParser(this.checkMode);
  }

  attach(device: BusDevice): void {
    if (device.address <= 1 || device.address > 255) {
      throw new RangeError(`a ccTalk peripheral address is 2..255, got ${device.address}`);
    }
    if (this.devices.has(device.address)) throw new Error(`address ${device.address} is already taken on this bus`);
    this.devices.set(device.address, device);
  }

  async start(): Promise<void> {
    if (!this.transport.isOpen) await this.transport.open();
    this.transport.on('data', this.onData);
    this.transport.on('close', this.onClose);
    this.transport.on('error', this.onError);
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.transport.off('data', this.onData);
    this.transport.off('close', this.onClose);
    this.transport.off('error', this.onError);
    await this.writing;
    await this.transport.close();
  }

  /** Parser counters, for checking that line noise was survived. */
  lineErrors(): { badChecks: number; skippedBytes: number } {
    return { badChecks: this.parser.badChecks, skippedBytes: this.parser.skippedBytes };
  }

  private receive(chunk: Buffer): void {
    if (this.echo) this.send(chunk);
    const now = Date.now();
    if (this.parser.pending && now - this.lastByteAt > INTER_BYTE_GAP_MS) this.parser.discardPartial();
    this.lastByteAt = now;
    const badBefore = this.parser.badChecks;
    const frames = this.parser.push(chunk);
    const bad = this.parser.badChecks - badBefore;
    if (bad > 0) this.report(`line: ${bad} frame(s) with a bad ${this.checkMode === 'crc16' ? 'CRC' : 'checksum'} ignored`);
    for (const frame of frames) this.dispatch(frame);
  }

  private dispatch(frame: CctalkFrame): void {
    if (frame.dest === BROADCAST_ADDRESS) {
      if (frame.header === ADDRESS_POLL && frame.data.length === 0) this.addressPoll();
      return;
    }
    const device = this.devices.get(frame.dest);
    if (!device?.answering) return;
    const reply = device.handle(frame.header, frame.data);
    if (!reply) return;
    const bytes = encodeReply(device.address, reply.header, reply.data ?? [], this.checkMode);
    this.later(this.replyDelayMs, () => this.send(bytes));
  }

  /** The only broadcast a device answers: one raw byte, its address, not a frame. */
  private addressPoll(): void {
    for (const device of this.devices.values()) {
      if (!device.answering) continue;
      this.later(ADDRESS_POLL_STEP_MS * device.address, () => this.send(Uint8Array.of(device.address)));
    }
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private send(bytes: Uint8Array): void {
    this.writing = this.writing
      .then(() => this.transport.write(bytes))
      .catch((err: Error) => this.report(`write failed: ${err.message}`));
  }

  private report(line: string): void {
    this.emit('report', line);
  }
}
