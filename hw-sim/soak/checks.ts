import Database from 'better-sqlite3';
import { Journal, type EventType } from '../../src/journal/index.js';
import { SIM_HOPPERS } from '../stack.js';
import { expectedOf, type Payment } from './customer.js';
import { LATE_PAYMENT_ANOMALIES } from '../host/wallet-gateway.js';

/** What the reference server's /_records answers, as far as the checks read it. */
export interface HostRecords {
  payments: { txnId: string; amount: number }[];
  anomalies: { kind: string; txnId: string | null; detail: string }[];
}

interface TxnRow {
  id: string;
  status: string;
  cash_in: number;
  card_in: number;
  mobile_in: number;
  credited: number;
  change_paid: number;
  change_owed: number;
}

function readTransactions(path: string): TxnRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id, status, cash_in, card_in, mobile_in, credited, change_paid, change_owed FROM transactions').all() as TxnRow[];
  } finally {
    db.close();
  }
}

/**
 * Every transaction ended and balances (cash in + card in + mobile in = credited + change paid + change owed), the
 * journal's own verify holds (the hash chain and its money invariants, as `kiosk journal verify` checks
 * them), and every claim is accounted for: an unresolved note or change left owed without its claim
 * message in the outbox is a violation.
 */
export function journalProblems(path: string, key: Buffer): string[] {
  const problems: string[] = [];
  for (const r of readTransactions(path)) {
    if (r.status === 'open') problems.push(`transaction ${r.id} is still open`);
    if (r.cash_in + r.card_in + r.mobile_in !== r.credited + r.change_paid + r.change_owed) {
      problems.push(`transaction ${r.id}: cash in ${r.cash_in} + card in ${r.card_in} + mobile in ${r.mobile_in} ≠ credited ${r.credited} + change paid ${r.change_paid} + change owed ${r.change_owed}`);
    }
  }
  const journal = Journal.openReadOnly(path, { key });
  try {
    for (const p of journal.verify()) problems.push(`journal verify: ${p}`);
    for (const p of journal.claimProblems()) problems.push(`claims: ${p}`);
  } finally {
    journal.close();
  }
  return problems;
}

/** Every transaction ended, balances, and ended as its payment was planned; the hash chain holds. */
export function checkJournal(path: string, key: Buffer, done: { id: string; payment: Payment }[]): string[] {
  const problems: string[] = journalProblems(path, key);
  const rows = new Map(readTransactions(path).map((r) => [r.id, r]));
  const ours = new Set(done.map((d) => d.id));
  for (const id of rows.keys()) if (!ours.has(id)) problems.push(`transaction ${id} in the journal was not started by the soak`);
  for (const { id, payment } of done) {
    const r = rows.get(id);
    if (!r) {
      problems.push(`transaction ${id} (${payment.kind}) is missing from the journal`);
      continue;
    }
    const want = expectedOf(payment);
    const got = { status: r.status, cashIn: r.cash_in, credited: r.credited, changePaid: r.change_paid, changeOwed: r.change_owed };
    const expected = { status: 'completed', ...want, changeOwed: 0 };
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      problems.push(`transaction ${id} (${payment.kind}) ended as ${JSON.stringify(got)}, planned ${JSON.stringify(expected)}`);
    }
  }
  return problems;
}

const REFUNDED_LATE_PAYMENTS: readonly string[] = LATE_PAYMENT_ANOMALIES;

/** The server holds each credited transaction's payment exactly once, for its amount, and nothing else. */
export function checkServer(path: string, records: HostRecords): string[] {
  const problems: string[] = [];
  const credited = new Map(readTransactions(path).filter((r) => r.credited > 0).map((r) => [r.id, r.credited]));
  const seen = new Map<string, number>();
  for (const p of records.payments) {
    seen.set(p.txnId, (seen.get(p.txnId) ?? 0) + 1);
    const want = credited.get(p.txnId);
    if (want === undefined) problems.push(`the server holds a payment for ${p.txnId}, which credited nothing`);
    else if (want !== p.amount) problems.push(`the server holds ${p.amount} for ${p.txnId}, the journal credited ${want}`);
  }
  for (const [id, count] of seen) if (count > 1) problems.push(`the server holds ${count} payments for ${id}`);
  for (const id of credited.keys()) if (!seen.has(id)) problems.push(`the server never received the payment of ${id}`);
  // A customer's wallet payment that completed as the kiosk revoked it, or after it closed the order,
  // is refunded by the gateway and recorded as such: the design's answer, whose money the wallet
  // checks (paid − revoked per transaction) judge.
  for (const a of records.anomalies) {
    if (!REFUNDED_LATE_PAYMENTS.includes(a.kind)) problems.push(`the server recorded an anomaly: ${a.kind} ${a.txnId ?? ''} ${a.detail}`);
  }
  return problems;
}

/** Notes and coins put in, the journal's boxes, the validator's cash box and the coins the hoppers dropped agree. */
export function checkCash(path: string, done: { payment: Payment }[], cashboxLine: string, coinsPaid: ReadonlyMap<string, number>): string[] {
  const problems: string[] = [];
  const notesIn = done.reduce((a, d) => a + d.payment.notes.reduce((x, y) => x + y, 0), 0);
  const coinsIn = done.reduce((a, d) => a + d.payment.coins.reduce((x, y) => x + y, 0), 0);
  const db = new Database(path, { readonly: true });
  let cashbox: number;
  let coinbox: number;
  let changePaid: number;
  try {
    cashbox = (db.prepare('SELECT COALESCE(SUM(value * count), 0) AS t FROM cashbox').get() as { t: number }).t;
    coinbox = (db.prepare('SELECT COALESCE(SUM(value * count), 0) AS t FROM coinbox').get() as { t: number }).t;
    changePaid = (db.prepare('SELECT COALESCE(SUM(change_paid), 0) AS t FROM transactions').get() as { t: number }).t;
  } finally {
    db.close();
  }
  const emulatorTotal = Number(/\(total (\d+) fen\)/.exec(cashboxLine)?.[1] ?? NaN);
  if (cashbox !== notesIn) problems.push(`the journal's cash box holds ${cashbox} fen, the soak put in ${notesIn} fen of notes`);
  if (emulatorTotal !== notesIn) problems.push(`the validator's cash box holds ${emulatorTotal} fen, the soak put in ${notesIn} fen of notes`);
  if (coinbox !== coinsIn) problems.push(`the journal's coin box holds ${coinbox} fen, the soak put in ${coinsIn} fen of coins`);
  const dropped = SIM_HOPPERS.reduce((a, h) => a + (coinsPaid.get(h.name) ?? 0) * h.coinValue, 0);
  if (dropped !== changePaid) problems.push(`the hoppers dropped ${dropped} fen of coins, the journal says ${changePaid} fen of change was paid`);
  return problems;
}

/** Totals the emulators counted themselves (fen): what is physically in the boxes and what left the hoppers. */
export interface DeviceCounters {
  /** The validator's cash box. */
  cashbox: number;
  /** Coins the coin acceptor took. */
  coinsAccepted: number;
  /** Coins the hoppers dropped, by their own life counters. */
  hoppersPaid: number;
}

/**
 * The journal accounts for every note and coin in the boxes and every coin paid out: credited to a
 * transaction, or recorded for the cash count as unattributed (the crash campaign, whose customer
 * is interrupted, cannot check against a plan as checkCash does).
 */
export function checkCounters(path: string, c: DeviceCounters): string[] {
  const db = new Database(path, { readonly: true });
  const total = (sql: string, ...params: unknown[]): number => (db.prepare(sql).get(...params) as { t: number }).t;
  const valueOf = (type: EventType) => total(`SELECT COALESCE(SUM(json_extract(data, '$.value')), 0) AS t FROM events WHERE type = ?`, type);
  let j: { cashbox: number; coinbox: number; changePaid: number; strayNotes: number; strayCoins: number };
  try {
    j = {
      cashbox: total('SELECT COALESCE(SUM(value * count), 0) AS t FROM cashbox'),
      coinbox: total('SELECT COALESCE(SUM(value * count), 0) AS t FROM coinbox'),
      changePaid: total('SELECT COALESCE(SUM(change_paid), 0) AS t FROM transactions'),
      strayNotes: valueOf('alarm.unattributed-note'),
      strayCoins: valueOf('alarm.unattributed-coin'),
    };
  } finally {
    db.close();
  }
  const problems: string[] = [];
  if (c.cashbox !== j.cashbox + j.strayNotes) {
    problems.push(`the validator's cash box holds ${c.cashbox} fen, the journal accounts for ${j.cashbox + j.strayNotes} fen (${j.cashbox} credited, ${j.strayNotes} unattributed)`);
  }
  if (c.coinsAccepted !== j.coinbox + j.strayCoins) {
    problems.push(`the coin acceptor took ${c.coinsAccepted} fen, the journal accounts for ${j.coinbox + j.strayCoins} fen (${j.coinbox} credited, ${j.strayCoins} unattributed)`);
  }
  if (c.hoppersPaid !== j.changePaid) problems.push(`the hoppers dropped ${c.hoppersPaid} fen of coins, the journal says ${j.changePaid} fen of change was paid`);
  return problems;
}
