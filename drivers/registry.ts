/**
 * Every device model the kiosk knows, one descriptor each (drivers/descriptor.ts), by device class.
 * A new model is a folder under drivers/ and one line in the list of its class: the configuration
 * schema, `kiosk diag --kind`, the runtime and the simulator take their model names from here.
 * Reading the lists loads no driver: each factory imports its model's code (see descriptor.ts).
 */
import { noOptions, type BillValidatorOptions, type DeviceDescriptor, type ValidatorDescriptor } from './descriptor.js';
import type { BillValidator, CardReader, CoinAcceptor, CoinHopper, DriverLog, PaymentTerminal, Printer } from './types.js';
import { id003Model } from './id003/model.js';
import { ccnetModel } from './ccnet/model.js';
import { esspModel } from './essp/model.js';
import { randomBytes } from 'node:crypto';
import type { HidCardOptions } from './hid-card/index.js';
import type { ZvtTerminalOptions } from './zvt/index.js';
import { hidKeyboardScannerModel, serialScannerModel } from './scanner/model.js';
import type { ScannerOptions } from './scanner/index.js';
import type { CodeScanner } from './scanner/contract.js';

export type { BillValidatorOptions } from './descriptor.js';
export type { ScannerOptions } from './scanner/index.js';

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
  /** Wait after a job before its status check (EscposPrinterOptions.settleMs). */
  settleMs?: number;
  log?: DriverLog;
}

// ---------------------------------------------------------------- the lists: one line per model

// Each model's code, imported when a driver of it is built.
const cctalk = () => import('./cctalk/index.js');
const escpos = () => import('./escpos/index.js');
const hidCard = () => import('./hid-card/index.js');
const zvt = () => import('./zvt/index.js');

export const VALIDATORS = [id003Model, esspModel, ccnetModel] as const;

export const COIN_ACCEPTORS: readonly DeviceDescriptor<CoinAcceptor, CoinAcceptorOptions>[] = [
  {
    model: 'cctalk',
    kind: 'coin-acceptor',
    options: noOptions,
    create: async (o) => (await cctalk()).createCctalkCoinAcceptor(o),
    diag: { kind: 'cctalk-coin', forPort: async (port, address) => (await cctalk()).createCctalkCoinAcceptor({ port, ...(address !== undefined ? { address } : {}) }) },
  },
];

export const HOPPERS: readonly DeviceDescriptor<CoinHopper, HopperOptions>[] = [
  {
    model: 'cctalk',
    kind: 'coin-hopper',
    options: noOptions,
    create: async (o) => (await cctalk()).createCctalkHopper(o),
    // The coin value only matters for planning change, which a diagnostic does not do.
    diag: {
      kind: 'cctalk-hopper',
      forPort: async (port, address) => (await cctalk()).createCctalkHopper({ port, ...(address !== undefined ? { address } : {}), coinValue: 1, name: 'hopper' }),
    },
  },
];

export const PRINTERS: readonly DeviceDescriptor<Printer, PrinterOptions>[] = [
  {
    model: 'escpos',
    kind: 'printer',
    options: noOptions,
    create: async (o) => (await escpos()).createEscposPrinter(o),
    diag: { kind: 'escpos', forPort: async (port) => (await escpos()).createEscposPrinter({ transport: port.startsWith('/dev/usb/lp') ? 'lp' : 'serial', port }) },
  },
];

// A diagnostic keeps no card data, so the key of the masked numbers' hashes is a throw-away one.
const diagReader = async (kind: 'keyboard' | 'vendor', device: string) => {
  const m = await hidCard();
  const opts = { device, panKey: m.derivePanKey(randomBytes(32)) };
  return kind === 'keyboard' ? m.createHidKeyboardReader(opts) : m.createHidVendorReader(opts);
};

export const CARD_READERS = [
  {
    model: 'hid-keyboard',
    kind: 'card-reader',
    options: noOptions,
    create: async (o: HidCardOptions) => (await hidCard()).createHidKeyboardReader(o),
    diag: { kind: 'hid-keyboard', forPort: (device: string) => diagReader('keyboard', device) },
  },
  {
    model: 'hid-vendor',
    kind: 'card-reader',
    options: noOptions,
    create: async (o: HidCardOptions) => (await hidCard()).createHidVendorReader(o),
    diag: { kind: 'hid-vendor', forPort: (device: string) => diagReader('vendor', device) },
  },
] as const satisfies readonly DeviceDescriptor<CardReader, HidCardOptions>[];

export const PAYMENT_TERMINALS = [
  {
    model: 'zvt',
    kind: 'payment-terminal',
    options: noOptions,
    create: async (o: ZvtTerminalOptions) => (await zvt()).createZvtTerminal(o),
    // HOST:PORT is the terminal on the network, anything else a serial line.
    diag: {
      kind: 'zvt',
      forPort: async (port: string) => {
        const tcp = /^(.+):(\d{1,5})$/.exec(port);
        return (await zvt()).createZvtTerminal(tcp && !port.startsWith('/') ? { transport: 'tcp', host: tcp[1]!, tcpPort: Number(tcp[2]) } : { transport: 'serial', port });
      },
    },
  },
] as const satisfies readonly DeviceDescriptor<PaymentTerminal, ZvtTerminalOptions>[];

/** 2D code scanners (wallet payment codes): USB HID keyboard mode, or serial (CDC-ACM) with trigger commands. */
export const SCANNERS = [hidKeyboardScannerModel, serialScannerModel] as const satisfies readonly DeviceDescriptor<CodeScanner, ScannerOptions>[];

// ---------------------------------------------------------------- derived

/** The model names of a list, as a tuple for z.enum and commander choices. */
export function modelNames<L extends readonly { model: string }[]>(list: L): [L[number]['model'], ...L[number]['model'][]] {
  return list.map((d) => d.model) as [L[number]['model'], ...L[number]['model'][]];
}

export const VALIDATOR_MODELS = modelNames(VALIDATORS);
export type ValidatorModel = (typeof VALIDATORS)[number]['model'];

function pick<D extends { model: string }>(list: readonly D[], model: string, what: string): D {
  const found = list.find((d) => d.model === model);
  if (!found) throw new Error(`unknown ${what} model '${model}' (known: ${list.map((d) => d.model).join(', ')})`);
  return found;
}

export function validatorDescriptor(model: string): ValidatorDescriptor {
  return pick<ValidatorDescriptor>(VALIDATORS, model, 'validator');
}

export function createBillValidator(model: string, opts: BillValidatorOptions): Promise<BillValidator> {
  return validatorDescriptor(model).create(opts);
}

export function createCoinAcceptor(model: string, opts: CoinAcceptorOptions): Promise<CoinAcceptor> {
  return pick(COIN_ACCEPTORS, model, 'coin acceptor').create(opts);
}

export function createHopper(model: string, opts: HopperOptions): Promise<CoinHopper> {
  return pick(HOPPERS, model, 'hopper').create(opts);
}

export function createPrinter(model: string, opts: PrinterOptions): Promise<Printer> {
  return pick(PRINTERS, model, 'printer').create(opts);
}

export function createCardReader(model: string, opts: HidCardOptions): Promise<CardReader> {
  return pick<DeviceDescriptor<CardReader, HidCardOptions>>(CARD_READERS, model, 'card reader').create(opts);
}

export function createPaymentTerminal(model: string, opts: ZvtTerminalOptions): Promise<PaymentTerminal> {
  return pick<DeviceDescriptor<PaymentTerminal, ZvtTerminalOptions>>(PAYMENT_TERMINALS, model, 'payment terminal').create(opts);
}

export function createScanner(model: string, opts: ScannerOptions): Promise<CodeScanner> {
  return pick<DeviceDescriptor<CodeScanner, ScannerOptions>>(SCANNERS, model, 'scanner').create(opts);
}

/** Every model `kiosk diag --kind` can check on a bare port, by its diag name. */
export const DIAG_MODELS = [...VALIDATORS, ...COIN_ACCEPTORS, ...HOPPERS, ...PRINTERS, ...CARD_READERS, ...PAYMENT_TERMINALS, ...SCANNERS].flatMap((d) => (d.diag ? [{ model: d.model, kind: d.kind, diag: d.diag }] : []));
