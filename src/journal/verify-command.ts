import type { Writable } from 'node:stream';
import type { Config } from '../config/schema.js';
import type { ChainResult } from './chain.js';
import { Journal } from './journal.js';
import { readKey } from './key.js';

/** What `kiosk journal verify --json` prints, one object on one line. */
interface VerifyReport {
  ok: boolean;
  journal: string;
  keyFile: string;
  /** Absent when the journal could not be opened. */
  chain?: ChainResult;
  /** Money invariant problems; absent when the journal could not be opened. */
  problems?: string[];
  /** Why the journal could not be checked at all. */
  error?: string;
}

/**
 * `kiosk journal verify`: checks the hash chain and the money invariants of the configured
 * journal without changing it (read-only; nothing is created or migrated, not even the key).
 * Returns whether the journal is sound.
 */
export function journalVerifyCommand(opts: { config: Config; json: boolean; out: Writable }): boolean {
  const report = check(opts.config.journal.path, opts.config.journal.keyFile);
  opts.out.write(opts.json ? `${JSON.stringify(report)}\n` : render(report));
  return report.ok;
}

function check(path: string, keyFile: string): VerifyReport {
  const base = { journal: path, keyFile };
  let journal: Journal;
  try {
    journal = Journal.openReadOnly(path, { key: readKey(keyFile) });
  } catch (err) {
    return { ok: false, ...base, error: err instanceof Error ? err.message : String(err) };
  }
  try {
    const chain = journal.verifyChain();
    const problems = journal.verifyMoney();
    return { ok: chain.ok && problems.length === 0, ...base, chain, problems };
  } finally {
    journal.close();
  }
}

function render(r: VerifyReport): string {
  const lines = [`journal ${r.journal}`];
  if (r.error !== undefined) {
    lines.push(`  cannot be checked: ${r.error}`);
  } else {
    const chain = r.chain as ChainResult;
    if (chain.ok) {
      lines.push(`  hash chain: intact, ${chain.events} event${chain.events === 1 ? '' : 's'} checked`);
    } else {
      const e = chain.event;
      const at = e
        ? `event ${chain.seq} (${e.type}, ${e.at}${e.txnId === null ? '' : `, transaction ${e.txnId}`})`
        : `event ${chain.seq} (no longer in the journal)`;
      lines.push(`  hash chain: BROKEN at ${at}`, `    ${chain.problem}: ${chain.detail}`);
    }
    const problems = r.problems ?? [];
    if (problems.length === 0) lines.push('  money invariants: all hold');
    else lines.push(`  money invariants: ${problems.length} problem(s)`, ...problems.map((p) => `    - ${p}`));
  }
  lines.push(r.ok ? 'journal verify: OK' : 'journal verify: FAILED');
  return `${lines.join('\n')}\n`;
}
