/**
 * `kiosk diag`: checks every device of a configuration in turn, or one device named on the command
 * line, and reports. The devices are opened here, so the kiosk service must not be running.
 */
import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import { Category } from '../../drivers/cctalk/index.js';
import { randomBytes } from 'node:crypto';
import { derivePanKey } from '../../drivers/hid-card/mask.js';
import {
  DIAG_MODELS,
  createBillValidator,
  createCardReader,
  createCoinAcceptor,
  createHopper,
  createPaymentTerminal,
  createPrinter,
  createScanner,
} from '../../drivers/registry.js';
import type { DeviceKind } from '../../drivers/types.js';
import type { Config } from '../config/schema.js';
import {
  checkBillValidator,
  checkCardReader,
  checkCoinAcceptor,
  checkHopper,
  checkPaymentTerminal,
  checkPrinter,
  money,
  type CheckOptions,
  type DeviceReport,
} from './checks.js';
import type { DiagKind } from './kinds.js';
import { checkScanner } from './scanner-check.js';
import { PlainProgress, TtyProgress, formatReport, type Progress } from './render.js';
import { STOP_SERVICE, diagThroughService, serviceStatus } from './service.js';

export interface DiagOptions {
  config?: Config;
  /** With `kind`: check this one device instead of the configured ones. */
  port?: string;
  kind?: DiagKind;
  /** ccTalk address for `kind` cctalk-coin or cctalk-hopper; the driver's default without it. */
  address?: number;
  /** `kind` cctalk-hopper: the value of its coin in fen, for the payout's report. */
  coinValue?: number;
  json: boolean;
  /** Pay one real coin from each hopper. */
  payout: boolean;
  /** Print a test page. */
  print: boolean;
  /** Scanners: wait for one test code. */
  scan?: boolean;
  out: Writable;
  isTTY: boolean;
  /** Per device. Default 15 s. */
  timeoutMs?: number;
}

/** One device to check: created only when its turn comes. */
interface Planned {
  name: string;
  kind: DeviceKind;
  port: string;
  /** Model and port, for the progress line. */
  what: string;
  check(opts: CheckOptions): Promise<DeviceReport>;
  /** Hoppers: the value of one coin, when known. */
  coinValue?: number;
}

/**
 * Drivers of these models refuse to open unless the device reports this ccTalk equipment category
 * (header 245), so once open the category is a fact, not an assumption.
 */
const VERIFIED_CATEGORY: Partial<Record<DeviceKind, Record<string, string>>> = {
  'coin-acceptor': { cctalk: Category.coinAcceptor },
  'coin-hopper': { cctalk: Category.payout },
};

/** Runs the checks and writes the report to `out`. Resolves true when every check passed. */
export async function runDiag(opts: DiagOptions): Promise<boolean> {
  const isSingle = opts.port !== undefined || opts.kind !== undefined;
  if (!isSingle && opts.config) {
    const socket = opts.config.control.socket;
    const status = await serviceStatus(socket);
    if (status) {
      if (!opts.json) {
        opts.out.write(
          `the kiosk service is running (its control socket ${socket} answered) and holds the device ports:\n` +
            `each device is tested by the service itself. To test them from here instead, stop it first: ${STOP_SERVICE}\n`,
        );
      }
      const progress = opts.json ? undefined : new PlainProgress(opts.out);
      const reports = await diagThroughService(socket, status, opts.print, progress);
      return finish(opts, reports, 'service');
    }
  }
  const plan = isSingle ? [single(opts)] : configured(opts.config);
  const progress: Progress | undefined = opts.json ? undefined : opts.isTTY ? new TtyProgress(opts.out) : new PlainProgress(opts.out);
  const terminalId = opts.config?.terminalId ?? hostname();

  const reports: DeviceReport[] = [];
  for (const device of plan) {
    progress?.start(device.name, device.what);
    let report: DeviceReport;
    try {
      report = await device.check({
        name: device.name,
        port: device.port,
        payout: opts.payout,
        print: opts.print,
        ...(opts.scan ? { scan: true } : {}),
        terminalId,
        ...(opts.config ? { timeZone: opts.config.timeZone } : {}),
        ...(device.coinValue !== undefined ? { coinValue: device.coinValue } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(progress ? { onStep: (p) => progress.step(p) } : {}),
      });
    } catch (err) {
      report = notChecked(device, err as Error);
    }
    progress?.done(report);
    reports.push(report);
  }

  return finish(opts, reports, 'direct');
}

function finish(opts: DiagOptions, reports: DeviceReport[], via: 'direct' | 'service'): boolean {
  const ok = reports.length > 0 && reports.every((r) => r.ok);
  if (opts.json) opts.out.write(JSON.stringify({ devices: reports, ok, via }, null, 2) + '\n');
  else opts.out.write(formatReport(reports));
  return ok;
}

function configured(config: Config | undefined): Planned[] {
  if (!config) throw new Error('kiosk diag needs a configuration, or --port and --kind for a single device');
  const plan: Planned[] = [];
  const v = config.validator;
  plan.push({
    name: 'validator',
    kind: 'bill-validator',
    port: v.port,
    what: `${v.model} on ${v.port}`,
    check: async (o) => checkBillValidator(await createBillValidator(v.model, { port: v.port, pollIntervalMs: v.pollIntervalMs }), o),
  });
  const c = config.coinAcceptor;
  if (c) {
    plan.push({
      name: 'coin',
      kind: 'coin-acceptor',
      port: c.port,
      what: `${c.model} @${c.address} on ${c.port}`,
      check: async (o) => checkCoinAcceptor(await createCoinAcceptor(c.model, { port: c.port, address: c.address }), withCategory(o, 'coin-acceptor', c.model)),
    });
  }
  for (const h of config.hoppers) {
    plan.push({
      name: h.name,
      kind: 'coin-hopper',
      coinValue: h.coinValue,
      port: h.port,
      what: `${h.model} @${h.address} on ${h.port}, coins of ${money(h.coinValue)}`,
      check: async (o) =>
        checkHopper(
          await createHopper(h.model, { port: h.port, address: h.address, coinValue: h.coinValue, name: h.name, securityMode: h.securityMode }),
          withCategory(o, 'coin-hopper', h.model),
        ),
    });
  }
  const p = config.printer;
  if (p) {
    const where = p.transport === 'usb' ? usbName(p.vendorId, p.productId) : p.port!;
    plan.push({
      name: 'printer',
      kind: 'printer',
      port: where,
      what: `${p.model} (${p.transport}) on ${where}`,
      check: async (o) =>
        checkPrinter(
          await createPrinter(p.model, {
            transport: p.transport,
            baudRate: p.baudRate,
            width: p.width,
            ...(p.port !== undefined ? { port: p.port } : {}),
            ...(p.vendorId !== undefined ? { vendorId: p.vendorId } : {}),
            ...(p.productId !== undefined ? { productId: p.productId } : {}),
          }),
          o,
        ),
    });
  }
  const r = config.cardReader;
  if (r) {
    plan.push({
      name: 'card-reader',
      kind: 'card-reader',
      port: r.device,
      what: `${r.model} on ${r.device}`,
      // Diag keeps no card data: a throw-away key for the masked numbers' hashes.
      check: async (o) => checkCardReader(await createCardReader(r.model, { device: r.device, panKey: derivePanKey(randomBytes(32)) }), o),
    });
  }
  const t = config.paymentTerminal;
  if (t) {
    const where = t.transport === 'tcp' ? `${t.host}:${t.tcpPort}` : t.port!;
    plan.push({
      name: 'payment-terminal',
      kind: 'payment-terminal',
      port: where,
      what: `${t.model} (${t.transport}) on ${where}`,
      check: async (o) =>
        checkPaymentTerminal(
          await createPaymentTerminal(t.model, {
            transport: t.transport,
            tcpPort: t.tcpPort,
            baudRate: t.baudRate,
            password: t.password,
            currency: t.currency,
            ...(t.host !== undefined ? { host: t.host } : {}),
            ...(t.port !== undefined ? { port: t.port } : {}),
          }),
          o,
        ),
    });
  }
  const sc = config.scanner;
  if (sc) {
    plan.push({
      name: 'scanner',
      kind: 'code-scanner',
      port: sc.device,
      what: `${sc.model} scanner on ${sc.device}`,
      check: async (o) =>
        checkScanner(
          await createScanner(sc.model, {
            device: sc.device,
            maxLength: sc.maxLength,
            partialTimeoutMs: sc.partialTimeoutMs,
            ...(sc.baudRate !== undefined ? { baudRate: sc.baudRate } : {}),
            ...(sc.ack !== undefined ? { ack: sc.ack } : {}),
          }),
          o,
        ),
    });
  }
  return plan;
}

function single(opts: DiagOptions): Planned {
  const { port, kind, address } = opts;
  if (port === undefined || kind === undefined) throw new Error('--port and --kind go together');
  const found = DIAG_MODELS.find((m) => m.diag.kind === kind);
  if (!found) throw new Error(`unknown --kind '${kind}'`);
  const { model } = found;
  const where = address !== undefined ? ` @${address}` : '';
  const what =
    found.kind === 'printer'
      ? `${model} (${port.startsWith('/dev/usb/lp') ? 'lp' : 'serial'}) on ${port}`
      : `${model}${found.kind === 'coin-acceptor' || found.kind === 'coin-hopper' ? where : ''} on ${port}`;
  const check = async (o: CheckOptions): Promise<DeviceReport> => {
    const device = await found.diag.forPort(port, address);
    switch (device.kind) {
      case 'bill-validator':
        return checkBillValidator(device, o);
      case 'coin-acceptor':
        return checkCoinAcceptor(device, withCategory(o, device.kind, model));
      case 'coin-hopper':
        return checkHopper(device, withCategory(o, device.kind, model));
      case 'printer':
        return checkPrinter(device, o);
      case 'card-reader':
        return checkCardReader(device, o);
      case 'payment-terminal':
        return checkPaymentTerminal(device, o);
      case 'code-scanner':
        return checkScanner(device, o);
      default:
        throw new Error(`kiosk diag cannot check a ${(device as { kind: string }).kind}`);
    }
  };
  const coinValue = found.kind === 'coin-hopper' ? opts.coinValue : undefined;
  return { name: SINGLE_NAMES[found.kind], kind: found.kind, port, what, check, ...(coinValue !== undefined ? { coinValue } : {}) };
}

/** The name of the one device's report, by class. */
const SINGLE_NAMES: Record<DeviceKind, string> = {
  'bill-validator': 'validator',
  'coin-acceptor': 'coin',
  'coin-hopper': 'hopper',
  printer: 'printer',
  'card-reader': 'card-reader',
  'payment-terminal': 'payment-terminal',
  'code-scanner': 'scanner',
};

function withCategory(o: CheckOptions, kind: DeviceKind, model: string): CheckOptions {
  const category = VERIFIED_CATEGORY[kind]?.[model];
  return category ? { ...o, category } : o;
}

function usbName(vendorId: number | undefined, productId: number | undefined): string {
  if (vendorId === undefined) return 'usb (first printer found)';
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `usb ${hex(vendorId)}:${productId !== undefined ? hex(productId) : '*'}`;
}

/** The driver could not even be created (unknown model, incomplete settings). */
function notChecked(device: Planned, err: Error): DeviceReport {
  return {
    name: device.name,
    kind: device.kind,
    port: device.port,
    identity: { kind: device.kind, model: 'unknown' },
    status: { health: 'offline', code: 'not-checked', detail: err.message },
    facts: {},
    steps: [{ name: 'open', outcome: 'failed', detail: `cannot check: ${err.message}`, ms: 0 }],
    ok: false,
    ms: 0,
  };
}
