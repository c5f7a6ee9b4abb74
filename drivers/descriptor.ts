/**
 * A device model as one object: its configuration name, its device class, the keys of its own in
 * the configuration section (a zod object, merged into src/config/schema.ts), how to build its
 * driver, and what `kiosk diag --kind` builds for it on a bare port. The registry lists them; the
 * configuration, diag and the runtime iterate over that list instead of naming models.
 */
import { z } from 'zod';
import type { AnyDevice, BillValidator, DriverLog } from './types.js';

export interface DeviceDescriptor<D extends AnyDevice, O, S extends z.ZodRawShape = z.ZodRawShape> {
  /** The configuration's `model`, and the folder under drivers/. */
  readonly model: string;
  readonly kind: D['kind'];
  /** Keys of the configuration section only this model has (eSSP: address, fixedKey). */
  readonly options: z.ZodObject<S>;
  /**
   * Builds the driver; nothing is opened yet. The model's code is loaded here (a dynamic import),
   * not when the list is read, so a model the kiosk does not fit costs it no memory.
   */
  create(opts: O): Promise<D>;
  /** `kiosk diag --kind <kind> --port P [--address N]`: the driver for one device named on the command line. */
  readonly diag?: { kind: string; forPort(port: string, address?: number): Promise<D> };
}

/** What the runtime hands every validator factory: the configuration section plus the log. */
export interface BillValidatorOptions {
  port: string;
  pollIntervalMs?: number;
  /** Bus address, for protocols that have one (eSSP). */
  address?: number;
  /** eSSP: the fixed half of the encryption key, 16 hex digits. */
  fixedKey?: string;
  log?: DriverLog;
}

export type ValidatorDescriptor<S extends z.ZodRawShape = z.ZodRawShape> = DeviceDescriptor<BillValidator, BillValidatorOptions, S>;

/**
 * A validator model: `load` imports its factory when it is built; diag builds it from the port
 * alone, with the driver's defaults.
 */
export function validatorModel<S extends z.ZodRawShape>(d: {
  model: string;
  options: z.ZodObject<S>;
  load(): Promise<(opts: BillValidatorOptions) => BillValidator>;
}): ValidatorDescriptor<S> {
  const create = async (opts: BillValidatorOptions) => (await d.load())(opts);
  return { model: d.model, options: d.options, kind: 'bill-validator', create, diag: { kind: d.model, forPort: (port) => create({ port }) } };
}

/** No keys beyond the class's common ones. */
export const noOptions = z.object({});
