import type { Ledger } from './ledger.js';
import { requireAmount, requirePositive, requireRange, requireText } from './validate.js';

export type PayoutStatus = 'intended' | 'started' | 'done';

/** One dispense command to one hopper, journalled before it is sent. */
export interface PayoutRow {
  seq: number;
  txnId: string;
  hopper: string;
  coinValue: number;
  count: number;
  /** The hopper's event counter read before the dispense was sent. */
  eventBefore: number;
  /** The event counter the hopper gave the dispense, once known. */
  event: number | null;
  paid: number | null;
  unpaid: number | null;
  status: PayoutStatus;
  /** How the outcome was learnt, e.g. 'await-payout' or 'recovery-status'. */
  via: string | null;
  createdAt: string;
  doneAt: string | null;
}

export interface HopperLevel {
  name: string;
  coinValue: number;
  level: number;
}

interface PayoutRecord {
  seq: number;
  txn_id: string;
  hopper: string;
  coin_value: number;
  count: number;
  event_before: number;
  event: number | null;
  paid: number | null;
  unpaid: number | null;
  status: PayoutStatus;
  via: string | null;
  created_at: string;
  done_at: string | null;
}

/** A hopper takes at most this many coins in one dispense command (one ccTalk data byte). */
const MAX_DISPENSE = 255;

/**
 * Change paid in coins: each dispense journalled before it is sent and settled from what the
 * hopper says it paid, and the estimated coins in each hopper (set, refilled, paid out).
 */
export class Change {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly l: Ledger) {
    this.sql = prepare(l.db);
  }

  /**
   * Records a dispense about to be sent; call it with the hopper's event counter read just before,
   * and send the command only after it returns. One payout per hopper may be unfinished at a time,
   * so that after a crash the hopper's counter tells unambiguously whether it was accepted.
   */
  payoutIntended(id: string, p: { hopper: string; coinValue: number; count: number; eventBefore: number }): number {
    requireText('hopper', p.hopper);
    requirePositive('coinValue', p.coinValue);
    requireRange('count', p.count, 1, MAX_DISPENSE);
    requireRange('eventBefore', p.eventBefore, 0, 255);
    return this.l.write(() => {
      const row = this.l.mustGet(id);
      if (row.status !== 'completed') {
        throw new Error(`journal: cannot pay change for transaction "${id}": it is ${row.status}, not completed`);
      }
      const hopper = this.sql.hopper.get(p.hopper) as { coin_value: number } | undefined;
      if (hopper && hopper.coin_value !== p.coinValue) {
        throw new Error(`journal: hopper "${p.hopper}" holds coins of ${hopper.coin_value}, not ${p.coinValue}`);
      }
      const busy = this.sql.unfinishedOnHopper.get(p.hopper) as { seq: number; txn_id: string } | undefined;
      if (busy) {
        throw new Error(`journal: hopper "${p.hopper}" still has payout ${busy.seq} (transaction "${busy.txn_id}") unfinished`);
      }
      const { reserved } = this.sql.reservedChange.get(id) as { reserved: number };
      const amount = p.count * p.coinValue;
      if (amount > row.changeOwed - reserved) {
        throw new Error(
          `journal: cannot pay ${amount} to "${id}": change owed ${row.changeOwed}, of which ${reserved} ` +
            'is already being paid',
        );
      }
      const at = this.l.stamp();
      const seq = Number(this.sql.insertPayout.run(id, p.hopper, p.coinValue, p.count, p.eventBefore, at).lastInsertRowid);
      this.l.insert(
        id,
        'payout.intended',
        { payout: seq, hopper: p.hopper, coinValue: p.coinValue, count: p.count, eventBefore: p.eventBefore },
        at,
      );
      return seq;
    });
  }

  /** The hopper accepted the dispense and gave it this event counter. */
  payoutStarted(payoutSeq: number, r: { event: number }): void {
    requireRange('event', r.event, 0, 255);
    this.l.write(() => {
      const p = this.mustGetPayout(payoutSeq);
      if (p.status !== 'intended') {
        throw new Error(`journal: payout ${payoutSeq} cannot start: it is ${p.status}`);
      }
      const at = this.l.stamp();
      this.sql.startPayout.run(r.event, payoutSeq);
      this.l.insert(p.txn_id, 'payout.started', { payout: payoutSeq, hopper: p.hopper, event: r.event }, at);
    });
  }

  /**
   * What the hopper says it paid. The paid coins move from change owed to change paid; whatever
   * was not paid stays owed under the claim code. Also closes a payout that never started.
   */
  payoutDone(payoutSeq: number, r: { paid: number; unpaid: number; via: string }) {
    requireAmount('paid', r.paid);
    requireAmount('unpaid', r.unpaid);
    requireText('via', r.via);
    return this.l.write(() => {
      const p = this.mustGetPayout(payoutSeq);
      if (p.status === 'done') throw new Error(`journal: payout ${payoutSeq} is already done`);
      if (r.paid + r.unpaid > p.count) {
        throw new Error(`journal: payout ${payoutSeq}: paid ${r.paid} + unpaid ${r.unpaid} exceeds the ${p.count} coins asked for`);
      }
      const at = this.l.stamp();
      const amount = r.paid * p.coin_value;
      this.sql.finishPayout.run(r.paid, r.unpaid, r.via, at, payoutSeq);
      this.sql.payChange.run(amount, amount, at, p.txn_id);
      this.sql.hopperTake.run(r.paid, at, p.hopper);
      this.l.insert(
        p.txn_id,
        'payout.done',
        {
          payout: payoutSeq,
          hopper: p.hopper,
          coinValue: p.coin_value,
          count: p.count,
          paid: r.paid,
          unpaid: r.unpaid,
          amountPaid: amount,
          via: r.via,
        },
        at,
      );
      return this.l.mustGet(p.txn_id);
    });
  }

  /** Payouts not done yet, oldest first: recovery settles each from its hopper's counters. */
  pendingPayouts(): PayoutRow[] {
    return (this.sql.pendingPayouts.all() as PayoutRecord[]).map(toPayout);
  }

  payouts(txnId: string): PayoutRow[] {
    this.l.mustGet(txnId);
    return (this.sql.payoutsOf.all(txnId) as PayoutRecord[]).map(toPayout);
  }

  /** Sets the estimated coins in a hopper (filled, emptied or counted by an operator). */
  setHopperLevel(name: string, coinValue: number, level: number, reason: string): void {
    requireText('hopper name', name);
    requirePositive('coinValue', coinValue);
    requireAmount('level', level);
    requireText('reason', reason);
    this.l.write(() => {
      const before = this.sql.hopper.get(name) as { coin_value: number; level: number } | undefined;
      const at = this.l.stamp();
      this.sql.upsertHopper.run(name, coinValue, level, at);
      this.l.insert(null, 'hopper.level', { hopper: name, coinValue, level, previous: before ? before.level : null, reason }, at);
    });
  }

  hopperLevels(): HopperLevel[] {
    return this.sql.hoppers.all() as HopperLevel[];
  }

  /** An operator put `add` coins into a hopper whose level is known; returns its new level. */
  hopperRefilled(name: string, add: number, by: string): number {
    requireText('hopper name', name);
    requirePositive('coins added', add);
    requireText('by', by);
    return this.l.write(() => {
      const before = this.sql.hopper.get(name) as { coin_value: number; level: number } | undefined;
      if (!before) {
        throw new Error(`journal: unknown hopper "${name}": set its level once (setHopperLevel) before refilling it`);
      }
      const level = before.level + add;
      requireAmount('new hopper level', level);
      const at = this.l.stamp();
      this.sql.hopperAdd.run(add, at, name);
      this.l.insert(
        null,
        'hopper.refill',
        { hopper: name, coinValue: before.coin_value, added: add, previous: before.level, level, by },
        at,
      );
      return level;
    });
  }

  private mustGetPayout(seq: number): PayoutRecord {
    requirePositive('payout seq', seq);
    const p = this.sql.payout.get(seq) as PayoutRecord | undefined;
    if (!p) throw new Error(`journal: unknown payout ${seq}`);
    return p;
  }
}

function prepare(db: Ledger['db']) {
  return {
    payout: db.prepare('SELECT * FROM payouts WHERE seq = ?'),
    payoutsOf: db.prepare('SELECT * FROM payouts WHERE txn_id = ? ORDER BY seq'),
    pendingPayouts: db.prepare(`SELECT * FROM payouts WHERE status <> 'done' ORDER BY seq`),
    unfinishedOnHopper: db.prepare(`SELECT seq, txn_id FROM payouts WHERE status <> 'done' AND hopper = ? ORDER BY seq LIMIT 1`),
    reservedChange: db.prepare(
      `SELECT COALESCE(SUM(count * coin_value), 0) AS reserved FROM payouts WHERE txn_id = ? AND status <> 'done'`,
    ),
    insertPayout: db.prepare(
      `INSERT INTO payouts (txn_id, hopper, coin_value, count, event_before, status, created_at)
       VALUES (?, ?, ?, ?, ?, 'intended', ?)`,
    ),
    startPayout: db.prepare(`UPDATE payouts SET status = 'started', event = ? WHERE seq = ?`),
    finishPayout: db.prepare(`UPDATE payouts SET status = 'done', paid = ?, unpaid = ?, via = ?, done_at = ? WHERE seq = ?`),
    payChange: db.prepare(
      `UPDATE transactions SET change_paid = change_paid + ?, change_owed = change_owed - ?, updated_at = ?
       WHERE id = ?`,
    ),
    hopper: db.prepare('SELECT coin_value, level FROM hoppers WHERE name = ?'),
    hoppers: db.prepare('SELECT name, coin_value AS coinValue, level FROM hoppers ORDER BY name'),
    hopperAdd: db.prepare('UPDATE hoppers SET level = level + ?, updated_at = ? WHERE name = ?'),
    hopperTake: db.prepare('UPDATE hoppers SET level = MAX(level - ?, 0), updated_at = ? WHERE name = ?'),
    upsertHopper: db.prepare(
      `INSERT INTO hoppers (name, coin_value, level, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET coin_value = excluded.coin_value, level = excluded.level,
       updated_at = excluded.updated_at`,
    ),
  };
}

function toPayout(r: PayoutRecord): PayoutRow {
  return {
    seq: r.seq,
    txnId: r.txn_id,
    hopper: r.hopper,
    coinValue: r.coin_value,
    count: r.count,
    eventBefore: r.event_before,
    event: r.event,
    paid: r.paid,
    unpaid: r.unpaid,
    status: r.status,
    via: r.via,
    createdAt: r.created_at,
    doneAt: r.done_at,
  };
}
