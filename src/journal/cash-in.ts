import type { Coin, Note } from '../../drivers/types.js';
import { asTyped, type EventPayloads } from './events.js';
import { toEvent, type EventRecord, type Ledger } from './ledger.js';
import { cleanCash, requireRange, requireText } from './validate.js';

export interface CountedCash {
  currency: string;
  value: number;
  count: number;
}

const NOTE_EVENTS = ['note.escrowed', 'note.stacked', 'note.returned'] as const;
type NoteEventType = (typeof NOTE_EVENTS)[number];
/** The events that carry the coin acceptor's event counter (see coinCounter()). */
const COIN_COUNTER_EVENTS = ['coin.accepted', 'alarm.unattributed-coin', 'device.coin-counter'] as const;

/**
 * Cash coming in: a note escrowed, stacked (the credit point) or handed back, a coin accepted, and
 * the coin acceptor's event counter that lets a restart tell which coins it already journalled.
 */
export class CashIn {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly l: Ledger) {
    this.sql = prepare(l.db);
  }

  noteEscrowed(id: string, note: Note): void {
    const n = cleanCash('note', note);
    this.l.write(() => {
      const at = this.l.stamp();
      this.l.touchOpen(id, at, 'escrow a note in');
      this.l.insert(id, 'note.escrowed', { note: n }, at);
    });
  }

  /** The credit point: the note is in the cash box and counts for this transaction. */
  noteStacked(id: string, note: Note, via?: string): void {
    const n = cleanCash('note', note);
    const data: EventPayloads['note.stacked'] = { note: n };
    if (via !== undefined) data.via = via;
    this.l.write(() => {
      const at = this.l.stamp();
      this.l.requireChanged(this.sql.stack.run(n.value, n.value, at, id).changes, id, 'stack a note in');
      this.sql.cashboxAdd.run(n.currency, n.value);
      this.l.insert(id, 'note.stacked', data, at);
    });
  }

  /**
   * A note handed back to the customer. Allowed on a transaction that already ended: a note held
   * in escrow when the transaction timed out leaves the validator only after the cancel.
   */
  noteReturned(id: string, note: Note, reason: string): void {
    const n = cleanCash('note', note);
    requireText('reason', reason);
    this.l.write(() => {
      this.l.mustGet(id);
      const at = this.l.stamp();
      this.l.touch(id, at);
      this.l.insert(id, 'note.returned', { note: n, reason }, at);
    });
  }

  /**
   * A coin routed to the coin box: it counts for this transaction at once. `counter`: the
   * acceptor's event counter of this coin, which coinCounter() gives back after a restart.
   */
  coinAccepted(id: string, coin: Coin, counter?: number): void {
    const c = cleanCash('coin', coin);
    if (counter !== undefined) requireRange('event counter', counter, 0, 255);
    this.l.write(() => {
      const at = this.l.stamp();
      this.l.requireChanged(this.sql.stack.run(c.value, c.value, at, id).changes, id, 'accept a coin in');
      this.sql.coinboxAdd.run(c.currency, c.value);
      this.l.insert(id, 'coin.accepted', counter === undefined ? { coin: c } : { coin: c, counter }, at);
    });
  }

  /**
   * The coin acceptor's event counter the journal has accounted for last: the newest of a coin
   * credited, a coin recorded as unattributed, or a counter recorded on its own (events that are
   * not coins, a reset). Undefined when the newest of them carries none (journalled before
   * counters were), or there is none.
   */
  coinCounter(): number | undefined {
    let newest: { seq: number; counter: number | null } | undefined;
    for (const type of COIN_COUNTER_EVENTS) {
      const r = this.sql.lastCoinCounter.get(type) as { seq: number; counter: number | null } | undefined;
      if (r && (!newest || r.seq > newest.seq)) newest = r;
    }
    return typeof newest?.counter === 'number' ? newest.counter : undefined;
  }

  /** The acceptor's counter moved past events that were not coins (rejects, a reset, a start-up). */
  coinCounterSeen(counter: number): void {
    requireRange('event counter', counter, 0, 255);
    this.l.write(() => this.l.insert(null, 'device.coin-counter', { counter }, this.l.stamp()));
  }

  /** The last note escrowed in this transaction with no stacked/returned after it, or null. */
  pendingEscrow(txnId: string): Note | null {
    const r = this.sql.lastNoteOf.get(txnId) as EventRecord | undefined;
    // An event of it shows the transaction exists; only without one is that checked on its own.
    if (!r) this.l.mustGet(txnId);
    return r?.type === 'note.escrowed' ? asTyped(toEvent(r), 'note.escrowed').data.note : null;
  }

  /** The last note event (escrowed/stacked/returned) across all transactions, with its txn id. */
  lastNoteEvent(): { txnId: string; type: NoteEventType; note: Note } | null {
    const r = this.sql.lastNote.get() as EventRecord | undefined;
    if (!r) return null;
    const type = r.type as NoteEventType;
    return { txnId: r.txn_id as string, type, note: asTyped(toEvent(r), type).data.note };
  }

  coinbox(): CountedCash[] {
    return this.sql.coinbox.all() as CountedCash[];
  }
}

function prepare(db: Ledger['db']) {
  const notes = NOTE_EVENTS.map((t) => `'${t}'`).join(', ');
  return {
    // Only an open transaction takes cash: no row changed means unknown or ended (see requireChanged).
    stack: db.prepare(`UPDATE transactions SET cash_in = cash_in + ?, credited = credited + ?, updated_at = ? WHERE id = ? AND status = 'open'`),
    cashboxAdd: db.prepare(
      `INSERT INTO cashbox (currency, value, count) VALUES (?, ?, 1)
       ON CONFLICT (currency, value) DO UPDATE SET count = count + 1`,
    ),
    coinboxAdd: db.prepare(
      `INSERT INTO coinbox (currency, value, count) VALUES (?, ?, 1)
       ON CONFLICT (currency, value) DO UPDATE SET count = count + 1`,
    ),
    coinbox: db.prepare('SELECT currency, value, count FROM coinbox ORDER BY currency, value'),
    lastCoinCounter: db.prepare(`SELECT seq, json_extract(data, '$.counter') AS counter FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1`),
    lastNoteOf: db.prepare(`SELECT * FROM events WHERE txn_id = ? AND type IN (${notes}) ORDER BY seq DESC LIMIT 1`),
    lastNote: db.prepare(`SELECT * FROM events WHERE type IN (${notes}) ORDER BY seq DESC LIMIT 1`),
  };
}
