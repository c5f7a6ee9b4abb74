import { formatSoak, runSoak } from './soak.js';

/** `kiosk-sim soak`: runs the soak, prints its report; the exit code is 0 only for a passing run. */
export async function soakCommand(opts: { transactions: string; printer?: boolean; keep?: boolean; json?: boolean }): Promise<number> {
  const n = Number(opts.transactions);
  if (!/^\d+$/.test(opts.transactions) || n < 1) {
    console.error(`kiosk-sim soak: --transactions must be a positive whole number, got ${opts.transactions}`);
    return 2;
  }
  const report = await runSoak({
    transactions: n,
    printer: opts.printer ?? false,
    keep: opts.keep ?? false,
    progress: (line) => console.error(line),
  });
  if (opts.json) console.log(JSON.stringify(report));
  else for (const line of formatSoak(report)) console.log(line);
  return report.ok ? 0 : 1;
}
