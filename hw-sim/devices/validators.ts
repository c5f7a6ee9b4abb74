/** The validator emulators, one line per model (the drivers' list is VALIDATORS in drivers/registry.ts). */
import { ccnetEmulator } from './ccnet/descriptor.js';
import { esspEmulator } from './essp/descriptor.js';
import { id003Emulator } from './id003/descriptor.js';
import type { ValidatorEmulator } from './validator-emulator.js';

export const VALIDATOR_EMULATORS = [id003Emulator, esspEmulator, ccnetEmulator] as const satisfies readonly ValidatorEmulator[];

export type EmulatedValidatorModel = (typeof VALIDATOR_EMULATORS)[number]['model'];
export const EMULATED_VALIDATOR_MODELS = VALIDATOR_EMULATORS.map((e) => e.model) as [EmulatedValidatorModel, ...EmulatedValidatorModel[]];

export function validatorEmulator(model: string): ValidatorEmulator {
  const found = VALIDATOR_EMULATORS.find((e) => e.model === model);
  if (!found) throw new Error(`no emulator for validator model '${model}' (known: ${VALIDATOR_EMULATORS.map((e) => e.model).join(', ')})`);
  return found;
}
