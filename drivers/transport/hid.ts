import { EventEmitter } from 'node:events';

export interface HidSourceEvents {
  /** One input report, as the device sent it (no report-ID byte unless the device numbers its reports). */
  report: [Buffer];
  /** The device went away (unplugged) or the link broke. The source may be opened again. */
  close: [];
  error: [Error];
}

/**
 * Where a HID reader's input reports come from: node-hid on a hidraw node, a socket from the reader
 * emulator, or memory in tests. Protocol-free: decoding belongs to the driver.
 */
export interface HidSource extends EventEmitter<HidSourceEvents> {
  readonly description: string;
  readonly isOpen: boolean;
  /** Rejects with a clear Error naming the device when it cannot be opened. */
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Which device: a hidraw path (`/dev/hidraw3`, or node-hid's path from `devices()`), or USB ids. */
export type HidDeviceSelector = { path: string } | { vendorId: number; productId: number };

interface NodeHidDevice extends EventEmitter {
  close(): Promise<void>;
}
interface NodeHidModule {
  HIDAsync: {
    open(path: string): Promise<NodeHidDevice>;
    open(vendorId: number, productId: number): Promise<NodeHidDevice>;
  };
}

function describe(selector: HidDeviceSelector): string {
  if ('path' in selector) return `hid:${selector.path}`;
  const hex4 = (n: number): string => n.toString(16).padStart(4, '0');
  return `hid:${hex4(selector.vendorId)}:${hex4(selector.productId)}`;
}

/** A USB HID device through node-hid (hidraw on Linux). The native module loads on first open. */
export class NodeHidSource extends EventEmitter<HidSourceEvents> implements HidSource {
  readonly description: string;
  private device: NodeHidDevice | undefined;

  constructor(private readonly selector: HidDeviceSelector) {
    super();
    this.description = describe(selector);
  }

  get isOpen(): boolean {
    return this.device !== undefined;
  }

  async open(): Promise<void> {
    if (this.device) return;
    let device: NodeHidDevice;
    try {
      const mod = (await import('node-hid')) as unknown as NodeHidModule & { default?: NodeHidModule };
      const hid = mod.default ?? mod;
      device = 'path' in this.selector ? await hid.HIDAsync.open(this.selector.path) : await hid.HIDAsync.open(this.selector.vendorId, this.selector.productId);
    } catch (err) {
      throw new Error(`cannot open HID device ${this.description}: ${(err as Error).message}`);
    }
    this.device = device;
    // The driver zeroes the report it is given; node-hid's own buffer is zeroed here.
    device.on('data', (data: Buffer) => {
      const report = Buffer.from(data);
      data.fill(0);
      this.emit('report', report);
    });
    // hidapi reports an unplugged device as a read error; the device is unusable from then on.
    device.on('error', (err: Error) => {
      if (this.device !== device) return;
      this.device = undefined;
      void device.close().catch(() => undefined);
      this.emit('error', err);
      this.emit('close');
    });
  }

  async close(): Promise<void> {
    const device = this.device;
    this.device = undefined;
    if (device) await device.close().catch(() => undefined);
  }
}
