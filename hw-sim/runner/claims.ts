/** The scenario runner's side of claims and fault slips: what the server holds, what the printer printed. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ClaimRecord } from '../host/claim-store.js';
import type { AccountRecord } from '../host/store.js';
import type { Scenario } from './scenario.js';

export interface ClaimRecords {
  claims: ClaimRecord[];
  accounts: AccountRecord[];
}

type Expect = Scenario['expect'];

/** The server's claims (in order) and account balances against the scenario's expectation. */
export function serverClaimProblems(want: NonNullable<Expect['server']>, held: ClaimRecords): string[] {
  const problems: string[] = [];
  if (want.claims) {
    if (held.claims.length !== want.claims.length) problems.push(`the server holds ${held.claims.length} claim(s), expected ${want.claims.length}`);
    want.claims.forEach((w, i) => {
      const got = held.claims[i] as unknown as Record<string, unknown> | undefined;
      if (!got) return;
      for (const [k, v] of Object.entries(w)) {
        if (got[k] !== v) problems.push(`server claim ${i + 1}: ${k} is ${JSON.stringify(got[k])}, expected ${JSON.stringify(v)}`);
      }
    });
  }
  for (const [phone, balance] of Object.entries(want.balances ?? {})) {
    const got = held.accounts.find((a) => a.phone === phone)?.balance;
    if (got !== balance) problems.push(`the server's account ${phone} has a balance of ${String(got)}, expected ${balance}`);
  }
  return problems;
}

/** The printed fault slips: files the simulated printer wrote that are slips. */
export function printedSlips(receiptsDir: string): string[] {
  if (!existsSync(receiptsDir)) return [];
  return readdirSync(receiptsDir)
    .sort()
    .map((f) => readFileSync(join(receiptsDir, f), 'utf8'))
    .filter((text) => text.includes('FAULT SLIP'));
}

/**
 * Every slip the journal says was printed is on paper with its transaction and claim code, and
 * the scenario's own expectation (how many slips, what they say) holds.
 */
export function slipProblems(journalPath: string, receiptsDir: string, want: Expect['slips']): string[] {
  const problems: string[] = [];
  const slips = printedSlips(receiptsDir);
  const db = new Database(journalPath, { readonly: true });
  let printed: { txn_id: string; claim_code: string | null }[];
  try {
    printed = db
      .prepare(`SELECT e.txn_id, t.claim_code FROM events e JOIN transactions t ON t.id = e.txn_id WHERE e.type = 'slip.printed'`)
      .all() as { txn_id: string; claim_code: string | null }[];
  } finally {
    db.close();
  }
  for (const p of printed) {
    const paper = slips.find((s) => s.includes(p.txn_id));
    if (!paper) problems.push(`the journal says the slip of ${p.txn_id} was printed; the printer has none`);
    else if (p.claim_code !== null && !paper.includes(p.claim_code)) problems.push(`the slip of ${p.txn_id} does not show its claim code ${p.claim_code}`);
  }
  if (want?.count !== undefined && slips.length !== want.count) problems.push(`the printer printed ${slips.length} fault slip(s), expected ${want.count}`);
  for (const text of want?.contain ?? []) if (!slips.some((s) => s.includes(text))) problems.push(`no printed fault slip contains ${JSON.stringify(text)}`);
  return problems;
}
