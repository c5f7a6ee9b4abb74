import { runChaos, VALIDATOR_CHOICES, type ValidatorChoice } from './campaign.js';
import { formatRun, formatSummary } from './format.js';

export interface ChaosCommandOptions {
  runs: string;
  seed: string;
  validator: string;
  jobs: string;
  keep?: boolean;
  json?: boolean;
}

/** `kiosk-sim chaos`: runs the campaign, one line per run and a summary; exit code 0 only without violations. */
export async function chaosCommand(opts: ChaosCommandOptions): Promise<number> {
  const runs = Number(opts.runs);
  const seed = Number(opts.seed);
  const jobs = Number(opts.jobs);
  if (!/^\d+$/.test(opts.runs) || runs < 1) {
    console.error(`kiosk-sim chaos: --runs must be a positive whole number, got ${opts.runs}`);
    return 2;
  }
  if (!/^\d+$/.test(opts.seed) || !Number.isSafeInteger(seed) || seed > 0xffffffff) {
    console.error(`kiosk-sim chaos: --seed must be a whole number from 0 to 4294967295, got ${opts.seed}`);
    return 2;
  }
  if (!(VALIDATOR_CHOICES as readonly string[]).includes(opts.validator)) {
    console.error(`kiosk-sim chaos: --validator must be one of ${VALIDATOR_CHOICES.join(', ')}, got ${opts.validator}`);
    return 2;
  }
  // More than a few would only queue the runs on the cores and stretch the emulators' timing.
  if (!/^\d+$/.test(opts.jobs) || jobs < 1 || jobs > 16) {
    console.error(`kiosk-sim chaos: --jobs must be a whole number from 1 to 16, got ${opts.jobs}`);
    return 2;
  }
  const json = opts.json ?? false;
  const report = await runChaos({
    runs,
    seed,
    validator: opts.validator as ValidatorChoice,
    jobs,
    keep: opts.keep ?? false,
    onRun: (r) => {
      if (json) return;
      for (const line of formatRun(r)) console.log(line);
    },
  });
  if (json) console.log(JSON.stringify(report));
  else for (const line of formatSummary(report)) console.log(line);
  return report.ok ? 0 : 1;
}
