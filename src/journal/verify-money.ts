import type { CountedCash } from './cash-in.js';
import { foldCardAttempts } from './cards.js';
import type { HopperLevel } from './change.js';
import { PAYMENT_CURRENCY, type Ledger, type TxnRecord, type TxnStatus } from './ledger.js';
import { reversalId } from './outbox.js';
import { mobileProblems } from './verify-mobile.js';

/**
 * The money invariants over the whole journal, each a query against the tables and the events
 * that fed them: what a transaction holds adds up, counters match the notes and coins journalled,
 * payouts match change paid, card money matches approvals less reversals, and every credited
 * transaction has exactly one payment message. The caller runs it inside one read transaction.
 */
export class MoneyCheck {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly l: Ledger) {
    this.sql = prepare(l.db);
  }

  problems(): string[] {
    const problems: string[] = [];

    for (const r of this.l.rows<TxnRecord>(
      `SELECT * FROM transactions WHERE status <> 'open' AND cash_in + card_in + mobile_in <> credited + change_paid + change_owed`,
    )) {
      problems.push(
        `transaction "${r.id}": cash in ${r.cash_in} + card in ${r.card_in} + mobile in ${r.mobile_in} != credited ${r.credited} + change paid ` +
          `${r.change_paid} + change owed ${r.change_owed}`,
      );
    }

    problems.push(...this.checkCards());
    problems.push(...mobileProblems(this.l));

    for (const r of this.l.rows<{ id: string; cash_in: number; notes: number; coins: number }>(
      `SELECT t.id, t.cash_in, COALESCE(n.total, 0) AS notes, COALESCE(c.total, 0) AS coins FROM transactions t
       LEFT JOIN (SELECT txn_id, SUM(json_extract(data, '$.note.value')) AS total FROM events
                  WHERE type = 'note.stacked' GROUP BY txn_id) n ON n.txn_id = t.id
       LEFT JOIN (SELECT txn_id, SUM(json_extract(data, '$.coin.value')) AS total FROM events
                  WHERE type = 'coin.accepted' GROUP BY txn_id) c ON c.txn_id = t.id
       WHERE t.cash_in <> COALESCE(n.total, 0) + COALESCE(c.total, 0)`,
    )) {
      problems.push(
        `transaction "${r.id}": cash in ${r.cash_in} != stacked notes ${r.notes} + accepted coins ${r.coins}`,
      );
    }

    for (const r of this.l.rows<{ id: string; cash_in: number }>(
      `SELECT id, cash_in FROM transactions WHERE status = 'cancelled' AND cash_in > 0`,
    )) {
      problems.push(`transaction "${r.id}": cancelled with cash in ${r.cash_in}`);
    }
    for (const r of this.l.rows<{ id: string; card_in: number }>(
      `SELECT id, card_in FROM transactions WHERE status = 'cancelled' AND card_in > 0`,
    )) {
      problems.push(`transaction "${r.id}": cancelled with card in ${r.card_in}`);
    }

    problems.push(...this.checkCashbox());
    problems.push(...this.compareCounters('coin box', 'coinbox', 'coin.accepted', 'coin', 'accepted coins'));

    for (const r of this.l.rows<{ id: string; change_paid: number; paid: number }>(
      `SELECT t.id, t.change_paid, COALESCE(p.total, 0) AS paid FROM transactions t
       LEFT JOIN (SELECT txn_id, SUM(paid * coin_value) AS total FROM payouts WHERE status = 'done'
                  GROUP BY txn_id) p ON p.txn_id = t.id
       WHERE t.change_paid <> COALESCE(p.total, 0)`,
    )) {
      problems.push(`transaction "${r.id}": change paid ${r.change_paid} != coins paid by its payouts ${r.paid}`);
    }

    for (const r of this.l.rows<{ id: string; change_owed: number; reserved: number }>(
      `SELECT t.id, t.change_owed, p.total AS reserved FROM transactions t
       JOIN (SELECT txn_id, SUM(count * coin_value) AS total FROM payouts WHERE status <> 'done'
             GROUP BY txn_id) p ON p.txn_id = t.id
       WHERE p.total > t.change_owed`,
    )) {
      problems.push(`transaction "${r.id}": unfinished payouts of ${r.reserved} exceed change owed ${r.change_owed}`);
    }

    for (const r of this.l.rows<{ seq: number; count: number; paid: number; unpaid: number }>(
      `SELECT seq, count, paid, unpaid FROM payouts WHERE paid + unpaid > count`,
    )) {
      problems.push(`payout ${r.seq}: paid ${r.paid} + unpaid ${r.unpaid} exceeds its ${r.count} coins`);
    }

    for (const r of this.l.rows<{ id: string; change_owed: number }>(
      `SELECT id, change_owed FROM transactions WHERE change_owed > 0 AND claim_code IS NULL`,
    )) {
      problems.push(`transaction "${r.id}": owes change ${r.change_owed} without a claim code`);
    }

    problems.push(...this.checkHopperLevels());

    // Change credited to the account (policy credit-account) travels as its claim message, not in the payment.
    for (const r of this.l.rows<{ id: string; status: TxnStatus; credited: number; n: number; lo: number; hi: number }>(
      `SELECT t.id, t.status, t.credited - COALESCE((SELECT SUM(amount) FROM claims c WHERE c.txn_id = t.id
                                                      AND c.status = 'credited'), 0) AS credited,
              COUNT(o.seq) AS n,
              MIN(json_extract(o.payload, '$.amount')) AS lo, MAX(json_extract(o.payload, '$.amount')) AS hi
       FROM transactions t LEFT JOIN outbox o ON o.txn_id = t.id AND o.kind = 'payment'
       GROUP BY t.id`,
    )) {
      const owesMessage = r.status === 'completed' && r.credited > 0;
      if (owesMessage && r.n !== 1) {
        problems.push(`transaction "${r.id}": credited ${r.credited} but ${r.n} payment messages in the outbox`);
      } else if (owesMessage && (r.lo !== r.credited || r.hi !== r.credited)) {
        problems.push(`transaction "${r.id}": credited ${r.credited} but its payment message says ${r.lo}`);
      } else if (!owesMessage && r.n > 0) {
        problems.push(`transaction "${r.id}": ${r.status}, credited ${r.credited}, yet has ${r.n} payment messages`);
      }
    }
    return problems;
  }

  /**
   * Card money is what approvals brought in minus what unknown outcomes took back; every unknown
   * outcome has its reversal (server message or terminal reversal) or its alarm; no ended
   * transaction leaves a request without an outcome.
   */
  private checkCards(): string[] {
    const problems: string[] = [];
    for (const r of this.l.rows<{ id: string; status: TxnStatus; card_in: number; approved: number; withdrawn: number }>(
      `SELECT t.id, t.status, t.card_in,
              COALESCE((SELECT SUM(json_extract(data, '$.amount')) FROM events
                        WHERE txn_id = t.id AND type = 'card.approved'), 0) AS approved,
              COALESCE((SELECT SUM(json_extract(data, '$.withdrawn')) FROM events
                        WHERE txn_id = t.id AND type = 'card.unknown'), 0) AS withdrawn
       FROM transactions t
       WHERE t.card_in > 0 OR t.id IN (SELECT txn_id FROM events WHERE type = 'card.requested')`,
    )) {
      if (r.card_in !== r.approved - r.withdrawn) {
        problems.push(`transaction "${r.id}": card in ${r.card_in} != card approvals ${r.approved} - reversed approvals ${r.withdrawn}`);
      }
      if (r.status === 'open') continue;
      for (const c of foldCardAttempts(r.id, this.l.events(r.id))) {
        if (c.status === 'requested') problems.push(`transaction "${r.id}": ${r.status} with card request "${c.requestId}" unresolved`);
      }
    }
    for (const r of this.l.rows<{ txn_id: string; request_id: string; reversal: string }>(
      `SELECT txn_id, json_extract(data, '$.requestId') AS request_id, json_extract(data, '$.reversal') AS reversal
       FROM events WHERE type = 'card.unknown'`,
    )) {
      const queued =
        r.reversal === 'server'
          ? this.sql.outboxMessage.get(reversalId(r.txn_id, r.request_id)) !== undefined
          : r.reversal === 'terminal'
            ? this.sql.terminalReversal.get(r.request_id) !== undefined
            : (this.sql.cardAlarm.get(r.request_id) as { n: number }).n > 0;
      if (!queued) problems.push(`card request "${r.request_id}" of "${r.txn_id}": outcome unknown, yet no ${r.reversal} reversal or alarm`);
    }
    return problems;
  }

  /** A counter table against the events that fed it, per currency and value. */
  private compareCounters(what: string, table: string, type: string, item: string, fed: string): string[] {
    const counted = new Map<string, number>();
    for (const r of this.l.rows<{ currency: string; value: number; n: number }>(
      `SELECT currency, value, count AS n FROM ${table}`,
    )) {
      counted.set(`${r.currency} ${r.value}`, r.n);
    }
    const seen = new Map<string, number>();
    for (const r of this.l.rows<{ currency: string; value: number; n: number }>(
      `SELECT json_extract(data, '$.${item}.currency') AS currency, json_extract(data, '$.${item}.value') AS value,
              COUNT(*) AS n
       FROM events WHERE type = '${type}' GROUP BY 1, 2`,
    )) {
      seen.set(`${r.currency} ${r.value}`, r.n);
    }
    const problems: string[] = [];
    for (const key of new Set([...counted.keys(), ...seen.keys()])) {
      const c = counted.get(key) ?? 0;
      const n = seen.get(key) ?? 0;
      if (c !== n) problems.push(`${what} ${key}: counter ${c} != ${fed} ${n}`);
    }
    return problems;
  }

  /**
   * The cash box holds the notes stacked since the last collection; each collection must have
   * expected exactly the notes stacked since the one before it.
   */
  private checkCashbox(): string[] {
    const problems: string[] = [];
    let stacked = new Map<string, number>();
    for (const r of this.l.rows<{ seq: number; type: string; currency: string; value: number; expected: string | null }>(
      `SELECT seq, type, json_extract(data, '$.note.currency') AS currency, json_extract(data, '$.note.value') AS value,
              json_extract(data, '$.expected') AS expected
       FROM events WHERE type IN ('note.stacked', 'cashbox.collected') ORDER BY seq`,
    )) {
      if (r.type === 'note.stacked') {
        const key = `${r.currency} ${r.value}`;
        stacked.set(key, (stacked.get(key) ?? 0) + 1);
        continue;
      }
      const expected = new Map<string, number>();
      for (const [value, n] of Object.entries(JSON.parse(r.expected ?? '{}') as Record<string, number>)) {
        expected.set(`${PAYMENT_CURRENCY} ${value}`, n);
      }
      for (const key of new Set([...expected.keys(), ...stacked.keys()])) {
        const e = expected.get(key) ?? 0;
        const n = stacked.get(key) ?? 0;
        if (e !== n) {
          problems.push(
            `cash collection (event ${r.seq}) ${key}: expected ${e} != notes stacked since the collection before ${n}`,
          );
        }
      }
      stacked = new Map();
    }
    const counted = new Map<string, number>();
    for (const c of this.sql.cashbox.all() as CountedCash[]) counted.set(`${c.currency} ${c.value}`, c.count);
    for (const key of new Set([...counted.keys(), ...stacked.keys()])) {
      const c = counted.get(key) ?? 0;
      const n = stacked.get(key) ?? 0;
      if (c !== n) problems.push(`cash box ${key}: counter ${c} != notes stacked since the last collection ${n}`);
    }
    return problems;
  }

  /** Each hopper's level is its last set level plus refills minus the coins paid since, never below 0. */
  private checkHopperLevels(): string[] {
    const expected = new Map<string, number>();
    type Change = { type: string; hopper: string; level: number | null; paid: number | null; added: number | null };
    for (const r of this.l.rows<Change>(
      `SELECT type, json_extract(data, '$.hopper') AS hopper, json_extract(data, '$.level') AS level,
              json_extract(data, '$.paid') AS paid, json_extract(data, '$.added') AS added
       FROM events WHERE type IN ('hopper.level', 'hopper.refill', 'payout.done') ORDER BY seq`,
    )) {
      const before = expected.get(r.hopper);
      if (r.type === 'hopper.level') expected.set(r.hopper, r.level ?? 0);
      else if (before === undefined) continue;
      else if (r.type === 'hopper.refill') expected.set(r.hopper, before + (r.added ?? 0));
      else expected.set(r.hopper, Math.max(before - (r.paid ?? 0), 0));
    }
    const problems: string[] = [];
    for (const h of this.sql.hoppers.all() as HopperLevel[]) {
      const want = expected.get(h.name);
      if (want === undefined) {
        problems.push(`hopper "${h.name}": level ${h.level} was never set by a 'hopper.level' event`);
      } else if (want !== h.level) {
        problems.push(`hopper "${h.name}": level ${h.level} != last set level plus refills minus coins paid ${want}`);
      }
    }
    return problems;
  }
}

function prepare(db: Ledger['db']) {
  return {
    outboxMessage: db.prepare('SELECT 1 FROM outbox WHERE message_id = ?'),
    terminalReversal: db.prepare('SELECT 1 FROM terminal_reversals WHERE request_id = ?'),
    cardAlarm: db.prepare(
      `SELECT COUNT(*) AS n FROM events WHERE type = 'alarm.card-unresolved' AND json_extract(data, '$.requestId') = ?`,
    ),
    cashbox: db.prepare('SELECT currency, value, count FROM cashbox ORDER BY currency, value'),
    hoppers: db.prepare('SELECT name, coin_value AS coinValue, level FROM hoppers ORDER BY name'),
  };
}
