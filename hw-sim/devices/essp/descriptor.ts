import type { ValidatorEmulator } from '../validator-emulator.js';

/** The essp emulator for the stack, the scenarios and `kiosk-sim device essp`; the console loads on first use. */
export const esspEmulator: ValidatorEmulator = {
  model: 'essp',
  description: 'ITL eSSP bill validator emulator (NV200, CNY, encryption required, 9600 8N2); commands on standard input, one per line (help lists them)',
  run: async (options) => (await import('./console.js')).runEsspDevice(options),
};
