import type { BillValidator, CardReader, CoinAcceptor, CoinHopper, DriverLog, PaymentTerminal, Printer } from './types.js';
import { createId003 } from './id003/index.js';
import { createCcnet } from './ccnet/index.js';
import { createEssp } from './essp/index.js';
import { createCctalkCoinAcceptor, createCctalkHopper } from './cctalk/index.js';
import { createEscposPrinter } from './escpos/index.js';
import { createHidKeyboardReader, createHidVendorReader, type HidCardOptions } from './hid-card/index.js';
import { createZvtTerminal, type ZvtTerminalOptions } from './zvt/index.js';

export interface BillValidatorOptions {
  port: string;
  pollIntervalMs?: number;
  /** Bus address, for protocols that have one (eSSP). */
  address?: number;
  /** eSSP: the fixed half of the encryption key, 16 hex digits. */
  fixedKey?: string;
  log?: DriverLog;
}

export interface CoinAcceptorOptions {
  port: string;
  address?: number;
  log?: DriverLog;
}

export interface HopperOptions {
  port: string;
  address?: number;
  coinValue: number;
  name: string;
  securityMode?: 'serial' | 'zero8';
  log?: DriverLog;
}

export interface PrinterOptions {
  transport: 'serial' | 'lp' | 'usb';
  port?: string;
  baudRate?: number;
  vendorId?: number;
  productId?: number;
  width?: 32 | 42 | 48;
  log?: DriverLog;
}

// Device models by configuration name (`validator.model`, `coinAcceptor.model`, `hoppers[].model`,
// `printer.model`). A new model is a folder under drivers/ and one line in the table of its class.
export const billValidatorModels: Record<string, (o: BillValidatorOptions) => BillValidator> = {
  id003: createId003,
  ccnet: createCcnet,
  essp: createEssp,
};
export const coinAcceptorModels: Record<string, (o: CoinAcceptorOptions) => CoinAcceptor> = {
  cctalk: createCctalkCoinAcceptor,
};
export const hopperModels: Record<string, (o: HopperOptions) => CoinHopper> = {
  cctalk: createCctalkHopper,
};
export const printerModels: Record<string, (o: PrinterOptions) => Printer> = {
  escpos: createEscposPrinter,
};
export const cardReaderModels: Record<string, (o: HidCardOptions) => CardReader> = {
  'hid-keyboard': createHidKeyboardReader,
  'hid-vendor': createHidVendorReader,
};
export const paymentTerminalModels: Record<string, (o: ZvtTerminalOptions) => PaymentTerminal> = {
  zvt: createZvtTerminal,
};

function pick<F>(table: Record<string, F>, model: string, what: string): F {
  const factory = table[model];
  if (!factory) throw new Error(`unknown ${what} model '${model}' (known: ${Object.keys(table).join(', ')})`);
  return factory;
}

export function createBillValidator(model: string, opts: BillValidatorOptions): BillValidator {
  return pick(billValidatorModels, model, 'validator')(opts);
}

export function createCoinAcceptor(model: string, opts: CoinAcceptorOptions): CoinAcceptor {
  return pick(coinAcceptorModels, model, 'coin acceptor')(opts);
}

export function createHopper(model: string, opts: HopperOptions): CoinHopper {
  return pick(hopperModels, model, 'hopper')(opts);
}

export function createPrinter(model: string, opts: PrinterOptions): Printer {
  return pick(printerModels, model, 'printer')(opts);
}

export function createCardReader(model: string, opts: HidCardOptions): CardReader {
  return pick(cardReaderModels, model, 'card reader')(opts);
}

export function createPaymentTerminal(model: string, opts: ZvtTerminalOptions): PaymentTerminal {
  return pick(paymentTerminalModels, model, 'payment terminal')(opts);
}
