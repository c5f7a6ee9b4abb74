import type { Transport } from '../transport/types.js';
import type { DriverLog, Printer } from '../types.js';
import { EscposPrinter } from './driver.js';
import type { PaperWidth } from './encoder.js';
import { LpTransport, UsbPrinterTransport, serialPrinterTransport } from './transports.js';

export { EscposPrinter, type EscposPrinterOptions } from './driver.js';
export { CHINESE_MODE, encodeReceipt, encodeText, textColumns, wrap, type EncodeOptions, type PaperWidth } from './encoder.js';
export {
  buildReceipt,
  formatFen,
  formatTime,
  maskPhone,
  summarizeCash,
  type LayoutOptions,
  type ReceiptData,
} from './receipt.js';
export * from './status.js';
export * from './transports.js';

export interface EscposFactoryOptions {
  transport: 'serial' | 'lp' | 'usb';
  /** Serial device (serial) or character device (lp, default /dev/usb/lp0). */
  port?: string;
  /** Serial only; default 9600. */
  baudRate?: number;
  /** USB only; without them the first printer-class device is used. */
  vendorId?: number;
  productId?: number;
  width?: PaperWidth;
  settleMs?: number;
  log?: DriverLog;
}

function transportFor(opts: EscposFactoryOptions): Transport {
  switch (opts.transport) {
    case 'serial':
      if (!opts.port) throw new Error('escpos: a serial printer needs a port');
      return serialPrinterTransport(opts.port, opts.baudRate ?? 9600);
    case 'lp':
      return new LpTransport(opts.port ?? '/dev/usb/lp0');
    case 'usb':
      return new UsbPrinterTransport({
        ...(opts.vendorId !== undefined ? { vendorId: opts.vendorId } : {}),
        ...(opts.productId !== undefined ? { productId: opts.productId } : {}),
      });
  }
}

export function createEscposPrinter(opts: EscposFactoryOptions): Printer {
  return new EscposPrinter({
    transport: transportFor(opts),
    ...(opts.width !== undefined ? { width: opts.width } : {}),
    ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}
