import type { ValidatorEmulator } from '../validator-emulator.js';

/** The id003 emulator for the stack, the scenarios and `kiosk-sim device id003`; the console loads on first use. */
export const id003Emulator: ValidatorEmulator = {
  model: 'id003',
  description: 'JCM ID-003 bill validator emulator; commands on standard input, one per line (help lists them)',
  run: async (options, line) => (await import('./console.js')).runId003Device({ ...options, ...line }),
};
