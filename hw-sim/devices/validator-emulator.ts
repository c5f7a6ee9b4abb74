/**
 * A validator emulator as one object, the simulator's side of a driver descriptor: the model name
 * it answers for (the configuration's `validator.model`), a line for `kiosk-sim device --help`, and how to
 * run it on a port with its operator console. The stack, the scenario runner and `kiosk-sim device`
 * iterate over VALIDATOR_EMULATORS (hw-sim/devices/validators.ts).
 */
import type { ConsoleOptions } from './command-console.js';
import type { FrameTiming } from './id003/emulator.js';
import type { LinePacing } from './line-pacing.js';

export interface ValidatorEmulatorOptions extends ConsoleOptions {
  /** Shortened note-path times, for scenarios. */
  timing?: { acceptingMs?: number; stackingMs?: number; stackedMs?: number; returningMs?: number };
}

/** Line pacing and frame timings for the benchmarks; only the ID-003 emulator models them (others ignore them). */
export interface ValidatorLineOptions {
  pacing?: LinePacing;
  onFrame?: (timing: FrameTiming) => void;
}

export interface ValidatorEmulator {
  readonly model: string;
  /** One line for `kiosk-sim device <model> --help`. */
  readonly description: string;
  run(options: ValidatorEmulatorOptions, line?: ValidatorLineOptions): Promise<{ stop(): Promise<void> }>;
}
