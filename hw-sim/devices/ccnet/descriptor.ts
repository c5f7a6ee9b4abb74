import type { ValidatorEmulator } from '../validator-emulator.js';

/** The ccnet emulator for the stack, the scenarios and `kiosk-sim device ccnet`; the console loads on first use. */
export const ccnetEmulator: ValidatorEmulator = {
  model: 'ccnet',
  description: 'CashCode CCNET bill validator emulator (9600 8N1); commands on standard input, one per line (help lists them)',
  run: async (options) => (await import('./console.js')).runCcnetDevice(options),
};
