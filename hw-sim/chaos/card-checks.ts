import Database from 'better-sqlite3';
import type { EventType } from '../../src/journal/index.js';
import type { ReversalRecord } from '../host/store.js';
import { cardProblems, type CardRecords } from '../runner/cards.js';
import type { CardPath } from './plan.js';

/** What the card checks read of the server's GET /_records. */
export interface CardHeld extends CardRecords {
  reversals: ReversalRecord[];
}

export interface CardFindings {
  violations: string[];
  /** Unknown outcomes the kiosk could not reverse itself, raised to the operator as the design says. */
  recorded: string[];
}

interface UnknownRow {
  txn_id: string;
  request_id: string;
  reversal: 'server' | 'terminal' | 'none';
}

/**
 * Card money on both sides once the outbox drained. The server (reader path): approved − reversed
 * = what the payment says the card paid, per transaction, and nothing both paid and reversed (the
 * scenario runner's `cardBalanced`); the card part of each payment is the journal's card in. The
 * kiosk: every unknown outcome's reversal acknowledged — the server's by message id, the
 * terminal's done and not refused; one with nothing to reverse by has its alarm.
 */
export function checkCards(path: string, held: CardHeld): CardFindings {
  const violations = cardProblems({ cardBalanced: true }, held);
  const recorded: string[] = [];
  const db = new Database(path, { readonly: true });
  try {
    const cardIn = new Map(
      (db.prepare('SELECT id, card_in FROM transactions').all() as { id: string; card_in: number }[]).map((r) => [r.id, r.card_in]),
    );
    for (const p of held.payments) {
      const txnId = String(p.txnId);
      const card = Number(p.cardIn ?? 0);
      if (card !== (cardIn.get(txnId) ?? 0)) violations.push(`the server's payment of ${txnId} says the card paid ${card}, the journal's card in is ${cardIn.get(txnId) ?? 0}`);
    }
    const reversedAtServer = new Set(held.reversals.map((r) => r.messageId));
    const unknowns = db
      .prepare(
        `SELECT txn_id, json_extract(data, '$.requestId') AS request_id, json_extract(data, '$.reversal') AS reversal
         FROM events WHERE type = ? ORDER BY seq`,
      )
      .all('card.unknown' satisfies EventType) as UnknownRow[];
    for (const u of unknowns) {
      const at = `card request ${u.request_id} of ${u.txn_id} (outcome unknown)`;
      if (u.reversal === 'server') {
        const messageId = `${u.txn_id}:reversal:${u.request_id}`;
        const row = db.prepare('SELECT acked_at FROM outbox WHERE message_id = ?').get(messageId) as { acked_at: string | null } | undefined;
        if (!row) violations.push(`${at}: no reversal message in the outbox`);
        else if (row.acked_at === null) violations.push(`${at}: its reversal was never acknowledged`);
        if (!reversedAtServer.has(messageId)) violations.push(`${at}: the server holds no reversal ${messageId}`);
      } else if (u.reversal === 'terminal') {
        const row = db.prepare('SELECT status FROM terminal_reversals WHERE request_id = ?').get(u.request_id) as { status: string } | undefined;
        if (row?.status !== 'reversed') violations.push(`${at}: the terminal reversal is ${row?.status ?? 'missing'}`);
      } else {
        const alarms = (db.prepare(`SELECT COUNT(*) AS n FROM events WHERE type = ? AND json_extract(data, '$.requestId') = ?`).get('alarm.card-unresolved' satisfies EventType, u.request_id) as { n: number }).n;
        if (alarms === 0) violations.push(`${at}: nothing to reverse by, and no alarm`);
        else recorded.push(`${at}: the terminal gave no receipt number; alarm card-unresolved for the operator`);
      }
    }
  } finally {
    db.close();
  }
  return { violations, recorded };
}

/** Σ card in over the journal's transactions: on the terminal path, what the terminal's bookings must net to. */
export function journalCardIn(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT COALESCE(SUM(card_in), 0) AS t FROM transactions').get() as { t: number }).t;
  } finally {
    db.close();
  }
}

/** What SimStack fits for a run's card path. */
export function cardDevice(path: CardPath): { zvt?: boolean; cardReader?: 'keyboard' | 'vendor' } {
  return path === 'terminal' ? { zvt: true } : { cardReader: 'keyboard' };
}
