import type { BillValidator } from './types.js';
import type { DriverLog } from '../src/log.js';
import { createId003 } from './id003/index.js';

export interface BillValidatorOptions {
  port: string;
  pollIntervalMs?: number;
  log?: DriverLog;
}

export type BillValidatorFactory = (opts: BillValidatorOptions) => BillValidator;

/** Validator models by configuration name (`validator.model`). A new model is a folder and a line here. */
export const billValidatorModels: Record<string, BillValidatorFactory> = {
  id003: createId003,
};

export function createBillValidator(model: string, opts: BillValidatorOptions): BillValidator {
  const factory = billValidatorModels[model];
  if (!factory) {
    throw new Error(`unknown validator model '${model}' (known: ${Object.keys(billValidatorModels).join(', ')})`);
  }
  return factory(opts);
}
