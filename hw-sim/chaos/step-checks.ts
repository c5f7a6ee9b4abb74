import Database from 'better-sqlite3';
import type { EventType } from '../../src/journal/index.js';
import type { Ledger } from './ledger.js';
import type { MobileStep, RunPlan } from './plan.js';

const CODES_THAT_PAY = new Set(['paid', 'paid-after-confirm', 'answer-lost-after-paying']);

/** Whether the step's wallet can end up paid: the QR paid by the phone, a code the gateway pays (a QR step may fall back from code). */
function walletMayPay(s: MobileStep): boolean {
  if (s.outcome === 'pay' && s.mode === 'qr') return true;
  if (s.mode === 'code') return CODES_THAT_PAY.has(s.behaviour ?? 'paid') || s.outcome === 'pay';
  return false;
}
import type { StepRecord } from './session.js';

export interface StepFindings {
  violations: string[];
  /** Money the customer lost to a device fault that the journal recorded for the cash count (not credited). */
  recorded: string[];
  /** The journal's transaction of each step, when it has one. */
  ids: (string | null)[];
}

interface Row {
  id: string;
  change_paid: number;
  card_in: number;
  mobile_in: number;
}

/**
 * Each step's money three ways: what the customer put in, what the devices did with it (their own
 * reports during the step's window, restarts included), and what the journal credited to the
 * step's transaction. The customer sees only its own step, so this catches a note credited to the
 * wrong transaction or a payout recorded against another, which run totals would not.
 */
export function checkSteps(path: string, records: StepRecord[], ledger: Ledger, plan: RunPlan): StepFindings {
  const db = new Database(path, { readonly: true });
  const violations: string[] = [];
  const recorded: string[] = [];
  try {
    const sum = (type: EventType, field: string, id: string): number =>
      (
        db
          .prepare(`SELECT COALESCE(SUM(json_extract(data, ?)), 0) AS t FROM events WHERE type = ? AND txn_id = ?`)
          .get(field, type, id) as { t: number }
      ).t;
    const rows = db.prepare('SELECT id, change_paid, card_in, mobile_in FROM transactions ORDER BY created_at, rowid').all() as Row[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const known = new Set(records.flatMap((r) => (r.id ? [r.id] : [])));
    // A start the kiosk journalled but was killed before answering: the oldest unclaimed transaction is that step's.
    const unclaimed = rows.filter((r) => !known.has(r.id)).map((r) => r.id);
    const ids = records.map((r) => r.id ?? (r.startSent ? (unclaimed.shift() ?? null) : null));
    for (const id of unclaimed) violations.push(`transaction ${id} is in the journal, but no step of the session started it`);

    for (const [k, r] of records.entries()) {
      const w = ledger.window(k);
      const at = `step ${k + 1}`;
      const notesIn = r.inserted.filter((p) => p.device === 'validator').reduce((a, p) => a + p.value, 0);
      const coinsIn = r.inserted.filter((p) => p.device === 'coin').reduce((a, p) => a + p.value, 0);
      if (notesIn !== w.stacked + w.returned + w.lost) {
        violations.push(`${at}: the customer put in ${notesIn} fen of notes; the validator stacked ${w.stacked}, gave back ${w.returned}, lost ${w.lost}`);
      }
      if (coinsIn !== w.coins + w.coinsBack) {
        violations.push(`${at}: the customer put in ${coinsIn} fen of coins; the acceptor took ${w.coins} and gave back ${w.coinsBack}`);
      }
      const id = ids[k];
      if (!id) {
        if (w.stacked + w.coins + w.paidOut > 0) {
          violations.push(`${at} has no transaction, yet ${w.stacked} fen of notes and ${w.coins} fen of coins went in and ${w.paidOut} fen of coins came out`);
        }
        continue;
      }
      const txn = `${at} (${id})`;
      const notes = sum('note.stacked', '$.note.value', id);
      const coins = sum('coin.accepted', '$.coin.value', id);
      const unresolved = sum('note.unresolved', '$.value', id);
      if (w.stacked !== notes) violations.push(`${txn}: ${w.stacked} fen of notes went into the cash box, the journal credited ${notes} fen of notes to it`);
      if (w.coins !== coins) violations.push(`${txn}: the coin acceptor took ${w.coins} fen, the journal credited ${coins} fen of coins to it`);
      // A card pays the whole bill or nothing, and only a card the issuer approves.
      const card = byId.get(id)?.card_in ?? 0;
      const step = r.step;
      if (card > 0 && (step.kind !== 'card' || step.outcome !== 'approve')) {
        violations.push(`${txn}: card in ${card}, yet the customer's card ${step.kind === 'card' ? `was one the issuer answers '${step.outcome}'` : 'was never presented'}`);
      } else if (card > 0 && step.kind === 'card' && card !== step.cash.amountDue) {
        violations.push(`${txn}: card in ${card}, the bill was ${step.cash.amountDue}`);
      }
      // A wallet pays the whole bill or nothing, and only when the customer's phone paid: the QR, or
      // a code the gateway pays (a code that pays at once is paid before a customer could leave).
      const wallet = byId.get(id)?.mobile_in ?? 0;
      if (wallet > 0 && (step.kind !== 'mobile' || !walletMayPay(step))) {
        violations.push(`${txn}: mobile in ${wallet}, yet the customer ${step.kind === 'mobile' ? `chose ${step.mode} ${step.behaviour ?? ''} ${step.outcome}` : 'never chose a wallet'}`);
      } else if (wallet > 0 && step.kind === 'mobile' && wallet !== step.cash.amountDue) {
        violations.push(`${txn}: mobile in ${wallet}, the bill was ${step.cash.amountDue}`);
      }
      const paid = byId.get(id)?.change_paid ?? 0;
      if (w.paidOut !== paid) violations.push(`${txn}: the hoppers dropped ${w.paidOut} fen, the journal says ${paid} fen of change was paid`);
      if (w.lost > 0) {
        const jam = plan.fault.kind === 'validator-jam' && plan.fault.step === k;
        if (jam && unresolved === w.lost) {
          recorded.push(`${txn}: a ${w.lost} fen note lost in a jam, journalled as unresolved for the cash count, not credited`);
        } else {
          violations.push(`${txn}: ${w.lost} fen of notes were lost in the validator, the journal recorded ${unresolved} fen unresolved`);
        }
      }
    }
    return { violations, recorded, ids };
  } finally {
    db.close();
  }
}
