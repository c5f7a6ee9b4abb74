import type { CountedCash } from './cash-in.js';
import type { ClaimRow, Claims } from './claims.js';
import { PAYMENT_CURRENCY, type Ledger } from './ledger.js';
import { requireText } from './validate.js';

/** The outcome of a cash collection; maps are note value (fen) to number of notes. */
export interface CashCollection {
  expected: Record<number, number>;
  counted: Record<number, number>;
  /** Counted minus expected, for every value either side has. */
  difference: Record<number, number>;
  ok: boolean;
  /** The unresolved-note claims the surplus confirmed: their notes were in the box after all. */
  confirmed: ClaimRow[];
}

/** The banknotes in the cash box since the last collection, and the collection that empties it. */
export class CashBox {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly l: Ledger,
    private readonly claims: Claims,
  ) {
    this.sql = prepare(l.db);
  }

  /**
   * The cash box was emptied and its notes counted by `by`: `counted` maps note value (fen) to
   * notes found. The journal's counts, the counted ones and their differences are recorded, with
   * an alarm when they differ by more than the open note claims explain (a note found beyond the
   * count confirms the oldest open claim of its value), and the counters restart at zero for the
   * new, empty box.
   */
  collected(by: string, counted: Record<number, number>): CashCollection {
    requireText('by', by);
    const found = cleanCounts(counted);
    return this.l.write(() => {
      const box = this.notes();
      const foreign = box.find((c) => c.currency !== PAYMENT_CURRENCY && c.count > 0);
      if (foreign) {
        throw new Error(
          `journal: the cash box holds ${foreign.count} notes of ${foreign.currency} ${foreign.value}; ` +
            `a collection counts ${PAYMENT_CURRENCY} notes only`,
        );
      }
      const expected: Record<number, number> = {};
      for (const c of box) if (c.count > 0) expected[c.value] = c.count;
      const difference: Record<number, number> = {};
      const values = [...new Set([...Object.keys(expected), ...Object.keys(found)].map(Number))].sort((a, b) => a - b);
      for (const v of values) difference[v] = (found[v] ?? 0) - (expected[v] ?? 0);
      const ok = values.every((v) => difference[v] === 0);
      const expectedTotal = totalOf(expected);
      const countedTotal = totalOf(found);

      const confirmable = this.claims.confirmable(difference);
      const unexplained = { ...difference };
      for (const c of confirmable) unexplained[c.denomination!]! -= 1;

      const at = this.l.stamp();
      const collected = this.l.insert(
        null,
        'cashbox.collected',
        {
          by,
          currency: PAYMENT_CURRENCY,
          expected,
          counted: found,
          difference,
          expectedTotal,
          countedTotal,
          ok,
          ...(confirmable.length > 0 ? { confirmedClaims: confirmable.map((c) => c.id) } : {}),
        },
        at,
      );
      const confirmed = this.claims.confirm(confirmable, collected.seq, at);
      const off = Object.fromEntries(values.filter((v) => unexplained[v] !== 0).map((v) => [v, unexplained[v] as number]));
      if (Object.keys(off).length > 0) {
        const explained = confirmed.reduce((sum, c) => sum + c.amount, 0);
        this.l.insert(
          null,
          'alarm.cash-difference',
          { by, collection: collected.seq, difference: off, expectedTotal, countedTotal, shortBy: expectedTotal + explained - countedTotal },
          at,
        );
      }
      this.sql.empty.run();
      return { expected, counted: found, difference, ok, confirmed };
    });
  }

  /** The banknotes in the cash box. */
  notes(): CountedCash[] {
    return this.sql.notes.all() as CountedCash[];
  }

  total(): number {
    return (this.sql.total.get() as { total: number }).total;
  }
}

function prepare(db: Ledger['db']) {
  return {
    notes: db.prepare('SELECT currency, value, count FROM cashbox ORDER BY currency, value'),
    empty: db.prepare('DELETE FROM cashbox'),
    total: db.prepare('SELECT COALESCE(SUM(value * count), 0) AS total FROM cashbox'),
  };
}

/** Notes counted by an operator: whole values above 0, whole counts of 0 or more. */
function cleanCounts(counted: Record<number, number>): Record<number, number> {
  if (counted === null || typeof counted !== 'object' || Array.isArray(counted)) {
    throw new Error('journal: counted notes must be an object of note value (fen) to count');
  }
  const clean: Record<number, number> = {};
  for (const [key, n] of Object.entries(counted)) {
    const value = Number(key);
    if (!/^[1-9]\d*$/.test(key) || !Number.isSafeInteger(value)) {
      throw new Error(`journal: counted note value ${JSON.stringify(key)} must be a whole number of fen above 0`);
    }
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`journal: counted notes of ${value} must be a whole number >= 0, got ${String(n)}`);
    }
    if (n > 0) clean[value] = n;
  }
  return clean;
}

function totalOf(counts: Record<number, number>): number {
  return Object.entries(counts).reduce((sum, [value, n]) => sum + Number(value) * n, 0);
}
