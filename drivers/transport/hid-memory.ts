import { EventEmitter } from 'node:events';
import type { HidSource, HidSourceEvents } from './hid.js';

/** A HID source fed by the test: reports pushed arrive asynchronously (next macrotask), as from a device. */
export class MemoryHidSource extends EventEmitter<HidSourceEvents> implements HidSource {
  private opened = false;
  /** open() fails while set, as for a device that is not plugged in. */
  unplugged = false;

  constructor(readonly description = 'hid:memory') {
    super();
  }

  get isOpen(): boolean {
    return this.opened;
  }

  async open(): Promise<void> {
    if (this.unplugged) throw new Error(`cannot open HID device ${this.description}: not plugged in`);
    this.opened = true;
  }

  async close(): Promise<void> {
    this.opened = false;
  }

  /** Delivers reports in order; reports pushed while closed are lost, as on a real line. */
  push(...reports: Uint8Array[]): Promise<void> {
    const copies = reports.map((r) => Buffer.from(r));
    return new Promise((resolve) =>
      setImmediate(() => {
        for (const r of copies) if (this.opened) this.emit('report', r);
        resolve();
      }),
    );
  }

  /** The device goes away. */
  unplug(): void {
    this.unplugged = true;
    if (!this.opened) return;
    this.opened = false;
    this.emit('close');
  }
}
