import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isType, readKey } from '../../src/journal/index.js';
import { checkCounters, checkServer, journalProblems, type HostRecords } from '../soak/checks.js';
import { SIM_HOPPERS, type SimStack } from '../stack.js';

export interface TxnRecord {
  id: string;
  service: string;
  status: string;
  endReason: string | null;
  cashIn: number;
  credited: number;
  changePaid: number;
  changeOwed: number;
}

/** Where the money of one cell went, from the journal and from what the emulators said they did. */
export interface Ledger {
  transactions: TxnRecord[];
  /** Per transaction id: its receipt came out, or was queued for a reprint. */
  receipts: Record<string, 'printed' | 'queued'>;
  /** Alarms the kiosk raised, as kind (source). */
  alarms: string[];
  /** Notes the journal recorded as neither stacked nor returned, for the cash count (fen). */
  unresolvedNotes: number;
  /** Notes that reached the cash box with no transaction to credit them, recorded for the cash count (fen). */
  unattributedNotes: number;
  /** Notes the validator emulator put in its cash box (fen), counted from its own lines. */
  emulatorCashbox: number;
  journalCashbox: number;
  /** Coins the hopper emulators dropped (fen), counted from their own lines. */
  coinsDropped: number;
  /** Coins the coin acceptor emulator took (fen), counted from its own lines. */
  coinsAccepted: number;
}

interface TxnRow {
  id: string;
  service: string;
  status: string;
  end_reason: string | null;
  cash_in: number;
  credited: number;
  change_paid: number;
  change_owed: number;
}

/**
 * Reads the stopped kiosk's journal and the reference server's records and says where money is not
 * accounted for, with the soak's and the crash campaign's checks: a transaction still open or not
 * balancing (cash in = credited + change paid + change owed), a broken hash chain, the cash box, the
 * coins taken or the hoppers disagreeing with the journal, the server holding other payments than
 * the settled ones; and a payout left undecided.
 */
export async function accountFor(
  folder: string,
  stack: SimStack,
  deviceLines: readonly { device: string; line: string }[],
): Promise<{ ledger: Ledger; violations: string[] }> {
  const path = join(folder, 'journal.db');
  const violations: string[] = [];
  const db = new Database(path, { readonly: true });
  let ledger: Ledger;
  try {
    const rows = db.prepare('SELECT * FROM transactions ORDER BY created_at, rowid').all() as TxnRow[];
    const events = db.prepare('SELECT txn_id, type, data FROM events ORDER BY seq').all() as { txn_id: string | null; type: string; data: string }[];
    const sum = (sql: string) => (db.prepare(sql).get() as { t: number }).t;
    const receipts: Ledger['receipts'] = {};
    const alarms: string[] = [];
    let unresolvedNotes = 0;
    let unattributedNotes = 0;
    for (const e of events) {
      const data = JSON.parse(e.data) as Record<string, unknown>;
      if (e.txn_id && isType(e.type, 'receipt.printed')) receipts[e.txn_id] = 'printed';
      if (e.txn_id && isType(e.type, 'receipt.failed') && receipts[e.txn_id] !== 'printed') receipts[e.txn_id] = 'queued';
      if (isType(e.type, 'alarm.raised')) alarms.push(`${String(data.kind)} (${String(data.source)})`);
      else if (e.type.startsWith('alarm.') && !isType(e.type, 'alarm.cleared')) alarms.push(e.type.slice('alarm.'.length));
      if (isType(e.type, 'note.unresolved')) unresolvedNotes += Number(data.value);
      if (isType(e.type, 'alarm.unattributed-note')) unattributedNotes += Number(data.value);
    }
    ledger = {
      transactions: rows.map((r) => ({
        id: r.id,
        service: r.service,
        status: r.status,
        endReason: r.end_reason,
        cashIn: r.cash_in,
        credited: r.credited,
        changePaid: r.change_paid,
        changeOwed: r.change_owed,
      })),
      receipts,
      alarms: [...new Set(alarms)],
      unresolvedNotes,
      unattributedNotes,
      emulatorCashbox: counted(deviceLines, 'validator', /^stacked (\d+) fen/),
      journalCashbox: sum('SELECT COALESCE(SUM(value * count), 0) AS t FROM cashbox'),
      coinsDropped: SIM_HOPPERS.reduce((a, h) => a + (stack.coinsPaid.get(h.name) ?? 0) * h.coinValue, 0),
      coinsAccepted: counted(deviceLines, 'coin', /^coin (\d+) fen accepted/),
    };
    const undecided = sum(`SELECT COUNT(*) AS t FROM payouts WHERE status <> 'done'`);
    if (undecided > 0) violations.push(`${undecided} payout(s) still undecided in the journal`);
  } finally {
    db.close();
  }
  violations.push(...journalProblems(path, readKey(join(folder, 'journal.key'))));
  violations.push(
    ...checkCounters(path, { cashbox: ledger.emulatorCashbox, coinsAccepted: ledger.coinsAccepted, hoppersPaid: ledger.coinsDropped }),
  );
  const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as HostRecords;
  violations.push(...checkServer(path, records));
  return { ledger, violations };
}

/** The fen an emulator reported, summed over its lines that match (the amount is the first group). */
function counted(lines: readonly { device: string; line: string }[], device: string, pattern: RegExp): number {
  return lines.filter((l) => l.device === device).reduce((a, l) => a + Number(pattern.exec(l.line)?.[1] ?? 0), 0);
}
