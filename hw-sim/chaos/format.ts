import type { ChaosReport, GroupCounts, RunReport } from './campaign.js';

/** One line per run; violations and where the files are kept under it. */
export function formatRun(r: RunReport): string[] {
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'}  seed ${r.seed} ${r.validator}: ${r.steps} step(s), ${r.transactions} transaction(s), ${r.kills} kill(s), ` +
      `${r.cardPath} ${r.cards.approved}/${r.cards.requested} card(s) approved (${r.cards.declined} declined, ${r.cards.unknown} unknown), ` +
      `wallet ${r.wallet.code} code/${r.wallet.qr} qr (${r.wallet.paid} paid), ` +
      `${r.violations.length} violation(s)  (${(r.durationMs / 1000).toFixed(1)} s)`,
  ];
  for (const v of r.violations) lines.push(`      violation: ${v}`);
  if (!r.ok) {
    lines.push(`      plan: ${r.plan}`);
    lines.push(`      kills: ${r.killDetails.join('; ') || 'none'}; outcomes: ${r.outcomes.join('; ')}`);
    lines.push(`      replay: ${replayCommand(r)}   (same plan and protocol; timing may differ)`);
  }
  if (r.folder) lines.push(`      files kept in ${r.folder}`);
  return lines;
}

/** The command that runs a run again: its seed and its protocol (named, so it does not depend on the rotation). */
export function replayCommand(r: Pick<RunReport, 'seed' | 'validator'>): string {
  return `kiosk-sim chaos --runs 1 --seed ${r.seed} --validator ${r.validator}`;
}

export function formatSummary(c: ChaosReport): string[] {
  const groups = (g: Partial<Record<string, GroupCounts>>): string =>
    Object.entries(g)
      .map(([k, v]) => `${k} ${v!.runs} run(s)/${v!.kills} kill(s)/${v!.transactions} txn(s)${v!.failing > 0 ? `/${v!.failing} FAILING` : ''}`)
      .join(', ');
  const failing = c.results.filter((r) => !r.ok);
  return [
    `${c.ok ? 'PASS' : 'FAIL'}  chaos: ${c.runs} run(s) from seed ${c.firstSeed}, ${c.kills} kill(s), ${c.transactions} transaction(s), ` +
      `${c.cards.requested} card request(s) (${c.cards.approved} approved, ${c.cards.declined} declined, ${c.cards.unknown} unknown), ` +
      `${c.violations} violation(s) in ${(c.durationMs / 1000).toFixed(0)} s (--validator ${c.validator}, --jobs ${c.jobs})`,
    `      by validator: ${groups(c.byValidator)}`,
    `      by card path: ${groups(c.byCardPath)}`,
    `      wallet steps: ${c.wallet.code} code, ${c.wallet.qr} qr, ${c.wallet.paid} paid`,
    `      failing seeds: ${failing.length > 0 ? failing.map((r) => `${r.seed} (${r.validator})`).join(' ') : 'none'}`,
  ];
}
