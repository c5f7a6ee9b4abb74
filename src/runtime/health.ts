import type { DeviceStatus } from '../../drivers/types.js';
import { CARD_READER, COIN_ACCEPTOR, HOPPER_PREFIX, PAYMENT_TERMINAL, PRINTER, SCANNER, VALIDATOR } from '../../states/terminal.js';
import { deviceAlarms, type AlarmBook } from '../management/index.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { Devices } from './devices.js';

/**
 * Every device's health, the validator's included, reported the same way: journalled, logged at
 * a level that fits, turned into alarms, then handed to `changed` (the terminal machine, and for
 * the validator the transaction and recovery).
 */
export function watchHealth(d: {
  devices: Devices;
  journal: Journal;
  alarms: AlarmBook;
  log: Logger;
  changed: (device: string, s: DeviceStatus) => void;
}): void {
  const watch = (name: string) => (s: DeviceStatus) => {
    d.journal.append(null, 'device.status', { device: name, health: s.health, code: s.code, detail: s.detail });
    const level = s.health === 'ok' ? 'info' : s.health === 'degraded' ? 'warn' : 'error';
    d.log[level]({ device: name, health: s.health, code: s.code }, `${name} ${s.health}: ${s.detail}`);
    deviceAlarms(d.alarms, name, s);
    d.changed(name, s);
  };
  const { devices } = d;
  devices.validator.on('status', watch(VALIDATOR));
  devices.coinAcceptor?.on('status', watch(COIN_ACCEPTOR));
  for (const [name, h] of devices.hoppers) h.on('status', watch(`${HOPPER_PREFIX}${name}`));
  devices.printer?.on('status', watch(PRINTER));
  devices.cardReader?.on('status', watch(CARD_READER));
  devices.paymentTerminal?.on('status', watch(PAYMENT_TERMINAL));
  devices.scanner?.on('status', watch(SCANNER));
}

/** The validator cannot take notes now. */
export function isDown(s: DeviceStatus): boolean {
  return s.health === 'fault' || s.health === 'offline';
}
