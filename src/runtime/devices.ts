import type { AnyDevice, BillValidator, CoinAcceptor, CoinHopper, Printer } from '../../drivers/types.js';
import { createBillValidator, createCoinAcceptor, createHopper, createPrinter } from '../../drivers/registry.js';
import { COIN_ACCEPTOR, HOPPER_PREFIX, PRINTER } from '../../states/terminal.js';
import type { Config } from '../config/schema.js';
import { driverLog, type Logger } from '../log.js';

/** The cash and printing hardware the configuration fits; only the validator is mandatory. */
export interface Devices {
  readonly validator: BillValidator;
  readonly coinAcceptor: CoinAcceptor | undefined;
  readonly hoppers: ReadonlyMap<string, CoinHopper>;
  readonly printer: Printer | undefined;
}

/** Builds the drivers named in the configuration; nothing is opened yet. */
export function createDevices(config: Config, log: Logger): Devices {
  const validator = createBillValidator(config.validator.model, {
    port: config.validator.port,
    pollIntervalMs: config.validator.pollIntervalMs,
    ...(config.validator.address !== undefined ? { address: config.validator.address } : {}),
    ...(config.validator.fixedKey !== undefined ? { fixedKey: config.validator.fixedKey } : {}),
    log: driverLog(log.child({ device: 'validator' })),
  });
  const c = config.coinAcceptor;
  const coinAcceptor = c
    ? createCoinAcceptor(c.model, {
        port: c.port,
        address: c.address,
        log: driverLog(log.child({ device: COIN_ACCEPTOR })),
      })
    : undefined;
  const hoppers = new Map<string, CoinHopper>();
  for (const h of config.hoppers) {
    hoppers.set(
      h.name,
      createHopper(h.model, {
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
    ? createPrinter(p.model, {
        transport: p.transport,
        baudRate: p.baudRate,
        width: p.width,
        ...(p.port ? { port: p.port } : {}),
        ...(p.vendorId !== undefined ? { vendorId: p.vendorId } : {}),
        ...(p.productId !== undefined ? { productId: p.productId } : {}),
        log: driverLog(log.child({ device: PRINTER })),
      })
    : undefined;
  return { validator, coinAcceptor, hoppers, printer };
}

/** Every fitted device with its name in the terminal machine. */
export function fittedDevices(d: Devices): [string, AnyDevice][] {
  const list: [string, AnyDevice][] = [['validator', d.validator]];
  if (d.coinAcceptor) list.push([COIN_ACCEPTOR, d.coinAcceptor]);
  for (const [name, h] of d.hoppers) list.push([`${HOPPER_PREFIX}${name}`, h]);
  if (d.printer) list.push([PRINTER, d.printer]);
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
