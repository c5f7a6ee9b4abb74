/**
 * The three ways a receipt printer hangs off the kiosk: a serial line, the kernel's usblp character
 * device (/dev/usb/lp0), or raw USB bulk endpoints through libusb-style access (`usb` 3.x), which
 * needs usblp detached from the interface.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { constants, open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialTransport } from '../transport/serial.js';
import type { Transport, TransportEvents } from '../transport/types.js';

export const PRINTER_BAUD_RATES = [9600, 19200, 38400, 57600, 115200] as const;

/** A printer on a serial line, 8N1 (flow control, where the model needs it, is set on the printer). */
export function serialPrinterTransport(path: string, baudRate: number = 9600): Transport {
  if (!(PRINTER_BAUD_RATES as readonly number[]).includes(baudRate)) {
    throw new RangeError(`printer baud rate ${baudRate} not supported (use one of ${PRINTER_BAUD_RATES.join(', ')})`);
  }
  return new SerialTransport({ path, baudRate, dataBits: 8, parity: 'none', stopBits: 1 });
}

export interface LpOptions {
  /** Pause between reads while the printer has nothing to say. Default 20 ms. */
  idleReadMs?: number;
  /** How long a write may wait for the device to take the data. Default 10 s. */
  writeTimeoutMs?: number;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * The usblp character device. It is opened non-blocking: a printer that has nothing to send (no
 * request pending, or a unidirectional model) makes a blocking read hang a libuv worker thread
 * indefinitely, while a non-blocking one answers EAGAIN at once and the loop simply tries again.
 */
export class LpTransport extends EventEmitter<TransportEvents> implements Transport {
  private fh: FileHandle | undefined;
  private reader: Promise<void> | undefined;
  private readonly idleReadMs: number;
  private readonly writeTimeoutMs: number;

  constructor(
    readonly path = '/dev/usb/lp0',
    opts: LpOptions = {},
  ) {
    super();
    this.idleReadMs = opts.idleReadMs ?? 20;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 10_000;
  }

  get description(): string {
    return `lp:${this.path}`;
  }

  get isOpen(): boolean {
    return this.fh !== undefined;
  }

  async open(): Promise<void> {
    if (this.fh) return;
    try {
      this.fh = await open(this.path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      const hint = errno(err) === 'EACCES' ? ' (the user must be in group lp)' : '';
      throw new Error(`cannot open printer device ${this.path}: ${(err as Error).message}${hint}`);
    }
    this.reader = this.readLoop(this.fh);
  }

  async write(bytes: Uint8Array): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error(`${this.description}: write on a closed transport`);
    const deadline = Date.now() + this.writeTimeoutMs;
    let offset = 0;
    while (offset < bytes.length) {
      try {
        const { bytesWritten } = await fh.write(bytes, offset, bytes.length - offset, null);
        offset += bytesWritten;
      } catch (err) {
        if (errno(err) !== 'EAGAIN') throw new Error(`${this.description}: write failed: ${(err as Error).message}`);
        if (Date.now() > deadline) throw new Error(`${this.description}: the printer took no data for ${this.writeTimeoutMs} ms`);
        await sleep(this.idleReadMs);
      }
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = undefined;
    await this.reader;
    await fh.close().catch(() => undefined);
    this.emit('close');
  }

  private async readLoop(fh: FileHandle): Promise<void> {
    const buf = Buffer.alloc(256);
    while (this.fh === fh) {
      let n = 0;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (err) {
        if (errno(err) !== 'EAGAIN' && errno(err) !== 'EINTR') {
          if (this.fh !== fh) return;
          this.emit('error', new Error(`${this.description}: read failed: ${(err as Error).message}`));
          this.fh = undefined;
          await fh.close().catch(() => undefined);
          this.emit('close');
          return;
        }
      }
      // usblp returns 0 bytes (not an end of file) when the printer sent an empty packet.
      if (n > 0) this.emit('data', Buffer.from(buf.subarray(0, n)));
      else await sleep(this.idleReadMs);
    }
  }
}

// ------------------------------------------------------------------------------------------ USB

/** The parts of a USB configuration descriptor this transport looks at. */
export interface UsbConfigurationInfo {
  interfaces: ReadonlyArray<{
    interfaceNumber: number;
    alternate: {
      interfaceClass: number;
      endpoints: ReadonlyArray<{ endpointNumber: number; direction: 'in' | 'out'; type: string; packetSize: number }>;
    };
  }>;
}

export interface PrinterInterface {
  interfaceNumber: number;
  outEndpoint: number;
  /** Absent on unidirectional printers: then no status can be read. */
  inEndpoint?: number;
  inPacketSize: number;
}

const USB_CLASS_PRINTER = 0x07;

type UsbApi = (typeof import('usb'))['usb'];
// The package's main entry does not export its device class; its public methods return it.
type UsbDevice = NonNullable<Awaited<ReturnType<UsbApi['findDeviceByIds']>>>;

/** The first interface of the printer class with a bulk OUT endpoint (and its bulk IN, if any). */
export function pickPrinterInterface(config: UsbConfigurationInfo): PrinterInterface | undefined {
  for (const iface of config.interfaces) {
    if (iface.alternate.interfaceClass !== USB_CLASS_PRINTER) continue;
    const bulk = iface.alternate.endpoints.filter((e) => e.type === 'bulk');
    const out = bulk.find((e) => e.direction === 'out');
    const inp = bulk.find((e) => e.direction === 'in');
    if (!out) continue;
    return {
      interfaceNumber: iface.interfaceNumber,
      outEndpoint: out.endpointNumber,
      ...(inp ? { inEndpoint: inp.endpointNumber } : {}),
      inPacketSize: inp?.packetSize || 64,
    };
  }
  return undefined;
}

export interface UsbPrinterOptions {
  vendorId?: number;
  productId?: number;
  /** Where Linux lists USB devices; its absence means no USB access at all (e.g. a container). */
  sysfsPath?: string;
  /** How long one bulk IN read waits before the loop polls again. Default 200 ms. */
  readTimeoutMs?: number;
  /** How long one bulk OUT transfer (a whole job) may take. Default 10 s. */
  writeTimeoutMs?: number;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** Transfers that timed out come back as null or as an error that says so: both mean "no data yet". */
function isTimeout(err: unknown): boolean {
  return /timed? ?out/i.test((err as Error).message ?? '');
}

export class UsbPrinterTransport extends EventEmitter<TransportEvents> implements Transport {
  private device: UsbDevice | undefined;
  private iface: PrinterInterface | undefined;
  private reader: Promise<void> | undefined;
  private readonly sysfsPath: string;
  private readonly readTimeoutMs: number;
  private readonly writeTimeoutMs: number;

  constructor(private readonly opts: UsbPrinterOptions = {}) {
    super();
    this.sysfsPath = opts.sysfsPath ?? '/sys/bus/usb/devices';
    this.readTimeoutMs = opts.readTimeoutMs ?? 200;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 10_000;
  }

  get description(): string {
    const { vendorId, productId } = this.opts;
    return vendorId !== undefined && productId !== undefined ? `usb:${hex4(vendorId)}:${hex4(productId)}` : 'usb:printer-class';
  }

  get isOpen(): boolean {
    return this.device !== undefined;
  }

  async open(): Promise<void> {
    if (this.device) return;
    if (!existsSync(this.sysfsPath)) {
      throw new Error(
        `${this.description}: ${this.sysfsPath} does not exist, so no USB device can be reached from here ` +
          `(no USB bus visible, e.g. inside a container); use the 'lp' or 'serial' printer transport instead`,
      );
    }
    const { usb } = await import('usb');
    const device = await this.find(usb);
    await device.open();
    try {
      if (!device.configuration) await device.selectConfiguration(1);
      const picked = pickPrinterInterface(device.configuration as unknown as UsbConfigurationInfo);
      if (!picked) throw new Error('the device has no printer-class interface with a bulk OUT endpoint');
      // usblp owns the interface when /dev/usb/lp0 exists; it has to let go before a claim succeeds.
      await device.detachKernelDriver(picked.interfaceNumber).catch(() => undefined);
      await device.claimInterface(picked.interfaceNumber);
      this.device = device;
      this.iface = picked;
    } catch (err) {
      await device.close().catch(() => undefined);
      throw new Error(`${this.description}: cannot claim the printer interface: ${(err as Error).message}`);
    }
    if (this.iface.inEndpoint !== undefined) this.reader = this.readLoop(device, this.iface.inEndpoint);
  }

  private async find(usb: UsbApi): Promise<UsbDevice> {
    const { vendorId, productId } = this.opts;
    try {
      if (vendorId !== undefined && productId !== undefined) {
        const found = await usb.findDeviceByIds(vendorId, productId);
        if (found) return found;
      } else {
        const found = (await usb.getDevices()).find(
          (d) => d.configuration && pickPrinterInterface(d.configuration as unknown as UsbConfigurationInfo),
        );
        if (found) return found;
      }
    } catch (err) {
      throw new Error(`${this.description}: cannot list USB devices: ${(err as Error).message}`);
    }
    throw new Error(`${this.description}: no such printer connected`);
  }

  async write(bytes: Uint8Array): Promise<void> {
    const device = this.device;
    const iface = this.iface;
    if (!device || !iface) throw new Error(`${this.description}: write on a closed transport`);
    try {
      const written = await device.nativeTransferOut(iface.outEndpoint, this.writeTimeoutMs, bytes);
      if (written !== bytes.length) throw new Error(`only ${written} of ${bytes.length} bytes taken`);
    } catch (err) {
      throw new Error(`${this.description}: write failed: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    const device = this.device;
    const iface = this.iface;
    if (!device || !iface) return;
    this.device = undefined;
    this.iface = undefined;
    await this.reader;
    await device.releaseInterface(iface.interfaceNumber).catch(() => undefined);
    await device.close().catch(() => undefined);
    this.emit('close');
  }

  private async readLoop(device: UsbDevice, endpoint: number): Promise<void> {
    const size = this.iface?.inPacketSize ?? 64;
    while (this.device === device) {
      try {
        const data = await device.nativeTransferIn(endpoint, this.readTimeoutMs, size);
        // An empty packet returns at once; pausing keeps a chatty printer from spinning this loop.
        if (data && data.length > 0) this.emit('data', Buffer.from(data));
        else await sleep(20);
      } catch (err) {
        if (this.device !== device) return;
        if (isTimeout(err)) continue;
        this.emit('error', new Error(`${this.description}: read failed: ${(err as Error).message}`));
        this.device = undefined;
        this.iface = undefined;
        await device.close().catch(() => undefined);
        this.emit('close');
        return;
      }
    }
  }
}
