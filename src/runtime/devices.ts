import type { AnyDevice, BillValidator, CardReader, CoinAcceptor, CoinHopper, PaymentTerminal, Printer } from '../../drivers/types.js';
import type { CodeScanner } from '../../drivers/scanner/contract.js';
import {
  createBillValidator,
  createCardReader,
  createCoinAcceptor,
  createHopper,
  createPaymentTerminal,
  createPrinter,
  createScanner,
} from '../../drivers/registry.js';
import { derivePanKey } from '../../drivers/hid-card/mask.js';
import { CARD_READER, COIN_ACCEPTOR, HOPPER_PREFIX, PAYMENT_TERMINAL, PRINTER, SCANNER } from '../../states/terminal.js';
import type { Config } from '../config/schema.js';
import { driverLog, type Logger } from '../log.js';

/** The cash and printing hardware the configuration fits; only the validator is mandatory. */
export interface Devices {
  readonly validator: BillValidator;
  readonly coinAcceptor: CoinAcceptor | undefined;
  readonly hoppers: ReadonlyMap<string, CoinHopper>;
  readonly printer: Printer | undefined;
  readonly cardReader: CardReader | undefined;
  readonly paymentTerminal: PaymentTerminal | undefined;
  /** The 2D code scanner for wallet payment codes; disabled until a flow enables it. */
  readonly scanner: CodeScanner | undefined;
}

/**
 * Builds the drivers named in the configuration (loading only their models' code); nothing is opened yet. `terminalSecret` keys the
 * card reader's PAN hashes (the journal key).
 */
export async function createDevices(config: Config, log: Logger, terminalSecret?: Uint8Array): Promise<Devices> {
  // The section's keys are the model's options (drivers/registry.ts); boot's wait is the runtime's.
  const { model, bootWaitMs: _bootWait, ...options } = config.validator;
  const validator = await createBillValidator(model, { ...options, log: driverLog(log.child({ device: 'validator' })) });
  const c = config.coinAcceptor;
  const coinAcceptor = c
    ? await createCoinAcceptor(c.model, {
        port: c.port,
        address: c.address,
        log: driverLog(log.child({ device: COIN_ACCEPTOR })),
      })
    : undefined;
  const hoppers = new Map<string, CoinHopper>();
  for (const h of config.hoppers) {
    hoppers.set(
      h.name,
      await createHopper(h.model, {
        port: h.port,
        address: h.address,
        coinValue: h.coinValue,
        name: h.name,
        securityMode: h.securityMode,
        log: driverLog(log.child({ device: `${HOPPER_PREFIX}${h.name}` })),
      }),
    );
  }
  const p = config.printer;
  const printer = p
    ? await createPrinter(p.model, {
        transport: p.transport,
        baudRate: p.baudRate,
        width: p.width,
        settleMs: p.settleMs,
        ...(p.port ? { port: p.port } : {}),
        ...(p.vendorId !== undefined ? { vendorId: p.vendorId } : {}),
        ...(p.productId !== undefined ? { productId: p.productId } : {}),
        log: driverLog(log.child({ device: PRINTER })),
      })
    : undefined;
  const r = config.cardReader;
  if (r && !terminalSecret) throw new Error('a card reader needs the terminal secret for its PAN hashes');
  const cardReader =
    r && terminalSecret
      ? await createCardReader(r.model, { device: r.device, panKey: derivePanKey(terminalSecret), log: driverLog(log.child({ device: CARD_READER })) })
      : undefined;
  const t = config.paymentTerminal;
  const timeouts = t && {
    ...(t.ackTimeoutMs !== undefined ? { ackTimeoutMs: t.ackTimeoutMs } : {}),
    ...(t.idleTimeoutMs !== undefined ? { idleTimeoutMs: t.idleTimeoutMs } : {}),
    ...(t.commandTimeoutMs !== undefined ? { commandTimeoutMs: t.commandTimeoutMs } : {}),
    ...(t.abortWaitMs !== undefined ? { abortWaitMs: t.abortWaitMs } : {}),
    ...(t.healthIntervalMs !== undefined ? { healthIntervalMs: t.healthIntervalMs } : {}),
  };
  const paymentTerminal = t
    ? await createPaymentTerminal(t.model, {
        transport: t.transport,
        tcpPort: t.tcpPort,
        baudRate: t.baudRate,
        password: t.password,
        currency: t.currency,
        ...(t.host !== undefined ? { host: t.host } : {}),
        ...(t.port !== undefined ? { port: t.port } : {}),
        ...(timeouts ? { timeouts } : {}),
        log: driverLog(log.child({ device: PAYMENT_TERMINAL })),
      })
    : undefined;
  const sc = config.scanner;
  const scanner = sc
    ? await createScanner(sc.model, {
        device: sc.device,
        maxLength: sc.maxLength,
        partialTimeoutMs: sc.partialTimeoutMs,
        ...(sc.baudRate !== undefined ? { baudRate: sc.baudRate } : {}),
        ...(sc.ack !== undefined ? { ack: sc.ack } : {}),
        log: driverLog(log.child({ device: SCANNER })),
      })
    : undefined;
  return { validator, coinAcceptor, hoppers, printer, cardReader, paymentTerminal, scanner };
}

/** Every fitted device with its name in the terminal machine. */
export function fittedDevices(d: Devices): [string, AnyDevice][] {
  const list: [string, AnyDevice][] = [['validator', d.validator]];
  if (d.coinAcceptor) list.push([COIN_ACCEPTOR, d.coinAcceptor]);
  for (const [name, h] of d.hoppers) list.push([`${HOPPER_PREFIX}${name}`, h]);
  if (d.printer) list.push([PRINTER, d.printer]);
  if (d.cardReader) list.push([CARD_READER, d.cardReader]);
  if (d.paymentTerminal) list.push([PAYMENT_TERMINAL, d.paymentTerminal]);
  if (d.scanner) list.push([SCANNER, d.scanner]);
  return list;
}

/**
 * Opens a device, giving up waiting after `waitMs`: a device that is slow or absent at boot must
 * not hold up recovery, and its driver keeps retrying on its own.
 */
export async function openWithin(device: AnyDevice, waitMs: number, failed: (e: Error) => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const opened = device.open().then(
    () => true,
    (e: Error) => {
      failed(e);
      return false;
    },
  );
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)));
  const ready = await Promise.race([opened, timedOut]);
  clearTimeout(timer);
  return ready;
}
