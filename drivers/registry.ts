/**
 * Every device model the kiosk knows, one descriptor each (drivers/descriptor.ts), by device class.
 * A new model is a folder under drivers/ and one line in the list of its class: the configuration
 * schema, `kiosk diag --kind`, the runtime and the simulator take their model names from here.
 */
import { noOptions, type BillValidatorOptions, type DeviceDescriptor, type ValidatorDescriptor } from './descriptor.js';
import type { CardReader, CoinAcceptor, CoinHopper, DriverLog, PaymentTerminal, Printer } from './types.js';
import { id003Model } from './id003/index.js';
import { ccnetModel } from './ccnet/index.js';
import { esspModel } from './essp/index.js';
import { createCctalkCoinAcceptor, createCctalkHopper } from './cctalk/index.js';
import { createEscposPrinter } from './escpos/index.js';
import { randomBytes } from 'node:crypto';
import { createHidKeyboardReader, createHidVendorReader, derivePanKey, type HidCardOptions } from './hid-card/index.js';
import { createZvtTerminal, type ZvtTerminalOptions } from './zvt/index.js';
import { hidKeyboardScannerModel, serialScannerModel, type ScannerOptions } from './scanner/index.js';
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

export const VALIDATORS = [id003Model, esspModel, ccnetModel] as const;

export const COIN_ACCEPTORS: readonly DeviceDescriptor<CoinAcceptor, CoinAcceptorOptions>[] = [
  {
    model: 'cctalk',
    kind: 'coin-acceptor',
    options: noOptions,
    create: createCctalkCoinAcceptor,
    diag: { kind: 'cctalk-coin', forPort: (port, address) => createCctalkCoinAcceptor({ port, ...(address !== undefined ? { address } : {}) }) },
  },
];

export const HOPPERS: readonly DeviceDescriptor<CoinHopper, HopperOptions>[] = [
  {
    model: 'cctalk',
    kind: 'coin-hopper',
    options: noOptions,
    create: createCctalkHopper,
    // The coin value only matters for planning change, which a diagnostic does not do.
    diag: {
      kind: 'cctalk-hopper',
      forPort: (port, address) => createCctalkHopper({ port, ...(address !== undefined ? { address } : {}), coinValue: 1, name: 'hopper' }),
    },
  },
];

export const PRINTERS: readonly DeviceDescriptor<Printer, PrinterOptions>[] = [
  {
    model: 'escpos',
    kind: 'printer',
    options: noOptions,
    create: createEscposPrinter,
    diag: { kind: 'escpos', forPort: (port) => createEscposPrinter({ transport: port.startsWith('/dev/usb/lp') ? 'lp' : 'serial', port }) },
  },
];

// A diagnostic keeps no card data, so the key of the masked numbers' hashes is a throw-away one.
const diagPanKey = () => derivePanKey(randomBytes(32));

export const CARD_READERS = [
  {
    model: 'hid-keyboard',
    kind: 'card-reader',
    options: noOptions,
    create: createHidKeyboardReader,
    diag: { kind: 'hid-keyboard', forPort: (device: string) => createHidKeyboardReader({ device, panKey: diagPanKey() }) },
  },
  {
    model: 'hid-vendor',
    kind: 'card-reader',
    options: noOptions,
    create: createHidVendorReader,
    diag: { kind: 'hid-vendor', forPort: (device: string) => createHidVendorReader({ device, panKey: diagPanKey() }) },
  },
] as const satisfies readonly DeviceDescriptor<CardReader, HidCardOptions>[];

export const PAYMENT_TERMINALS = [
  {
    model: 'zvt',
    kind: 'payment-terminal',
    options: noOptions,
    create: createZvtTerminal,
    // HOST:PORT is the terminal on the network, anything else a serial line.
    diag: {
      kind: 'zvt',
      forPort: (port: string) => {
        const tcp = /^(.+):(\d{1,5})$/.exec(port);
        return createZvtTerminal(tcp && !port.startsWith('/') ? { transport: 'tcp', host: tcp[1]!, tcpPort: Number(tcp[2]) } : { transport: 'serial', port });
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

export function createBillValidator(model: string, opts: BillValidatorOptions) {
  return validatorDescriptor(model).create(opts);
}

export function createCoinAcceptor(model: string, opts: CoinAcceptorOptions): CoinAcceptor {
  return pick(COIN_ACCEPTORS, model, 'coin acceptor').create(opts);
}

export function createHopper(model: string, opts: HopperOptions): CoinHopper {
  return pick(HOPPERS, model, 'hopper').create(opts);
}

export function createPrinter(model: string, opts: PrinterOptions): Printer {
  return pick(PRINTERS, model, 'printer').create(opts);
}

export function createCardReader(model: string, opts: HidCardOptions): CardReader {
  return pick<DeviceDescriptor<CardReader, HidCardOptions>>(CARD_READERS, model, 'card reader').create(opts);
}

export function createPaymentTerminal(model: string, opts: ZvtTerminalOptions): PaymentTerminal {
  return pick<DeviceDescriptor<PaymentTerminal, ZvtTerminalOptions>>(PAYMENT_TERMINALS, model, 'payment terminal').create(opts);
}

export function createScanner(model: string, opts: ScannerOptions): CodeScanner {
  return pick<DeviceDescriptor<CodeScanner, ScannerOptions>>(SCANNERS, model, 'scanner').create(opts);
}

/** Every model `kiosk diag --kind` can check on a bare port, by its diag name. */
export const DIAG_MODELS = [...VALIDATORS, ...COIN_ACCEPTORS, ...HOPPERS, ...PRINTERS, ...CARD_READERS, ...PAYMENT_TERMINALS, ...SCANNERS].flatMap((d) => (d.diag ? [{ model: d.model, kind: d.kind, diag: d.diag }] : []));
