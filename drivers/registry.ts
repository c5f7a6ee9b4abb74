import type { BillValidator, CoinAcceptor, CoinHopper, DriverLog, Printer } from './types.js';
import { createId003 } from './id003/index.js';
import { createCctalkCoinAcceptor, createCctalkHopper } from './cctalk/index.js';
import { createEscposPrinter } from './escpos/index.js';

export interface BillValidatorOptions {
  port: string;
  pollIntervalMs?: number;
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
