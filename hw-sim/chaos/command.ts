import { formatRun, formatSummary, runChaos } from './campaign.js';

/** `kiosk-sim chaos`: runs the campaign, one line per run and a summary; exit code 0 only without violations. */
export async function chaosCommand(opts: { runs: string; seed: string; keep?: boolean; json?: boolean }): Promise<number> {
  const runs = Number(opts.runs);
  const seed = Number(opts.seed);
  if (!/^\d+$/.test(opts.runs) || runs < 1) {
    console.error(`kiosk-sim chaos: --runs must be a positive whole number, got ${opts.runs}`);
    return 2;
  }
  if (!/^\d+$/.test(opts.seed) || !Number.isSafeInteger(seed) || seed > 0xffffffff) {
    console.error(`kiosk-sim chaos: --seed must be a whole number from 0 to 4294967295, got ${opts.seed}`);
    return 2;
  }
  const json = opts.json ?? false;
  const report = await runChaos({
    runs,
    seed,
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
