import type { Coin, Note } from '../../drivers/types.js';
import { chainHash, checkChain, requireKey, type ChainResult } from './chain.js';
import { openDatabase, openDatabaseReadOnly, type Database } from './db.js';
import { latestVersion } from './migrations.js';
import type { Service } from '../domain/service.js';

export type { Service };
export type TxnStatus = 'open' | 'completed' | 'cancelled';

export interface TxnRow {
  id: string;
  service: Service;
  phone: string | null;
  amountDue: number | null;
  status: TxnStatus;
  endReason: string | null;
  cashIn: number;
  /** Taken by card and not reversed (fen). */
  cardIn: number;
  credited: number;
  changePaid: number;
  changeOwed: number;
  /** Given to the customer for change owed; set whenever changeOwed > 0 after a settle. */
  claimCode: string | null;
  createdAt: string;
  updatedAt: string;
}

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

export interface CountedCash {
  currency: string;
  value: number;
  count: number;
}

/** The outcome of a cash collection; maps are note value (fen) to number of notes. */
export interface CashCollection {
  expected: Record<number, number>;
  counted: Record<number, number>;
  /** Counted minus expected, for every value either side has. */
  difference: Record<number, number>;
  ok: boolean;
}

export interface JournalEvent {
  seq: number;
  txnId: string | null;
  type: string;
  data: Record<string, unknown>;
  at: string;
}

export interface OutboxRow {
  seq: number;
  messageId: string;
  txnId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  createdAt: string;
  attempts: number;
  lastAttemptAt: string | null;
  lastError: string | null;
  ackedAt: string | null;
  serverRef: string | null;
}

/** The outbox payload of a settled transaction that credited money. */
export interface PaymentMessage {
  messageId: string;
  txnId: string;
  service: Service;
  phone: string | null;
  amount: number;
  currency: 'CNY';
  cashIn: number;
  /** Present when the payment was by card. */
  cardIn?: number;
  card?: PaymentCard;
  settledAt: string;
}

/** How a card payment was authorised, as the business side is told it. Never the full card number. */
export interface PaymentCard {
  method: CardMethod;
  requestId?: string;
  receiptNo?: number;
  maskedPan?: string;
}

/** 'reader': the kiosk read a magnetic stripe and the business server authorised it; 'terminal': a ZVT terminal did. */
export type CardMethod = 'reader' | 'terminal';

export interface CardRequest {
  /** Unique per attempt; a server reversal names it in `reverses`. */
  requestId: string;
  method: CardMethod;
  amount: number;
  maskedPan?: string;
}

/** What the authoriser reported with an approval: the server's auth code, or the terminal's booking. */
export interface CardApproval {
  requestId: string;
  authCode?: string;
  serverRef?: string;
  receiptNo?: number;
  trace?: number;
  terminalId?: string;
  cardName?: string;
}

export type CardStatus = 'requested' | 'approved' | 'declined' | 'unknown';

/** One card authorisation attempt of a transaction, folded from its card.* events. */
export interface CardAttempt extends CardRequest, Omit<CardApproval, 'requestId'> {
  txnId: string;
  status: CardStatus;
  reason?: string;
}

/** What cardUnknown() did about the money. */
export interface CardUnknownOutcome {
  /** 'server': a reversal message is queued; 'terminal': a terminal reversal by receipt number; 'none': an alarm. */
  reversal: 'server' | 'terminal' | 'none';
  /** Card money taken back off the transaction (an approval that is now reversed). */
  withdrawn: number;
}

export type TerminalReversalStatus = 'pending' | 'reversed' | 'refused';

export interface TerminalReversalRow {
  requestId: string;
  txnId: string;
  receiptNo: number;
  amount: number;
  status: TerminalReversalStatus;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  doneAt: string | null;
}

/** The outbox payload that undoes an earlier online request (Journal.queueReversal). */
export interface ReversalMessage {
  messageId: string;
  txnId: string;
  /** The message id of the request being undone. */
  reverses: string;
  amount: number;
  currency: 'CNY';
  reason: string;
  createdAt: string;
}

export interface JournalOptions {
  /** The terminal secret keying the hash chain (32 bytes, from loadOrCreateKey). */
  key: Buffer;
  /**
   * Fault injection for crash tests: `type` or `type#n`. Right after the commit of the n-th event
   * of that type written by this journal (default the 1st), the process SIGKILLs itself.
   */
  crashAfter?: string;
  now?: () => Date;
}

export interface LookupInfo {
  phone: string;
  amountDue: number | null;
  holder?: string;
  offline?: boolean;
}

export type SendResult = { ok: true; serverRef?: string } | { ok: false; error: string };

const SERVICES: readonly Service[] = ['pay', 'topup', 'lookup'];
const NOTE_EVENTS = ['note.escrowed', 'note.stacked', 'note.returned'] as const;
/** The events that carry the coin acceptor's event counter (see coinCounter()). */
const COIN_COUNTER_EVENTS = ['coin.accepted', 'alarm.unattributed-coin', 'device.coin-counter'] as const;
/**
 * Written only by the journal's own methods; append() may not forge them. Other note.* and txn.*
 * names stay free for facts such as 'note.rejected', so those two families are reserved by name.
 */
const RESERVED_TYPES = new Set<string>([
  'txn.started',
  'txn.lookup',
  ...NOTE_EVENTS,
  'txn.settled',
  'txn.cancelled',
  'coin.accepted',
  'hopper.level',
  'hopper.refill',
  'cashbox.collected',
  'txn.reversal',
]);
const RESERVED_PREFIXES = ['payout.', 'receipt.', 'card.'] as const;
const CARD_METHODS: readonly CardMethod[] = ['reader', 'terminal'];
/** A hopper takes at most this many coins in one dispense command (one ccTalk data byte). */
const MAX_DISPENSE = 255;
const PAYMENT_CURRENCY = 'CNY';

interface TxnRecord {
  id: string;
  service: Service;
  phone: string | null;
  amount_due: number | null;
  status: TxnStatus;
  end_reason: string | null;
  cash_in: number;
  card_in: number;
  credited: number;
  change_paid: number;
  change_owed: number;
  claim_code: string | null;
  created_at: string;
  updated_at: string;
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

interface EventRecord {
  seq: number;
  txn_id: string | null;
  type: string;
  data: string;
  at: string;
}

interface OutboxRecord {
  seq: number;
  message_id: string;
  txn_id: string | null;
  kind: string;
  payload: string;
  created_at: string;
  attempts: number;
  last_attempt_at: string | null;
  last_error: string | null;
  acked_at: string | null;
  server_ref: string | null;
}

interface TerminalReversalRecord {
  request_id: string;
  txn_id: string;
  receipt_no: number;
  amount: number;
  status: TerminalReversalStatus;
  attempts: number;
  last_error: string | null;
  created_at: string;
  done_at: string | null;
}

interface CrashPoint {
  type: string;
  nth: number;
}

/**
 * The kiosk's durable record of money. Journal first, then act: every method returns only after
 * its SQLite transaction committed (synchronous=FULL), so the caller may then tell a device or
 * the customer to go on. Each money method writes its event and its state change atomically.
 */
export class Journal {
  readonly path: string;
  private readonly db: Database;
  private readonly key: Buffer;
  private readonly now: () => Date;
  private readonly crashPoint: CrashPoint | null;
  /** Committed events of the crashAfter type so far. */
  private crashCount = 0;
  /** Event types written inside the SQLite transaction under way; counted only once it commits. */
  private uncommitted: string[] = [];
  private readonly sql: ReturnType<typeof prepareStatements>;

  /**
   * Opens (creating and migrating as needed) the journal for writing. A wrong key is not refused
   * here: the journal goes on chaining with it, and verifyChain() with the right key reports the
   * first event it wrote. Older events are never re-chained.
   */
  static open(path: string, opts: JournalOptions): Journal {
    // Plain-JS callers may leave the options out; say what is missing rather than crash on it.
    requireKey((opts as JournalOptions | undefined)?.key);
    const crashPoint = opts.crashAfter === undefined ? null : parseCrashAfter(opts.crashAfter);
    const db = openDatabase(path, { key: opts.key });
    return new Journal(db, opts.key, crashPoint, opts.now ?? (() => new Date()));
  }

  /** Opens an existing journal of the current schema for reading and verifying only. */
  static openReadOnly(path: string, opts: { key: Buffer }): Journal {
    requireKey(opts.key);
    return new Journal(openDatabaseReadOnly(path, latestVersion), opts.key, null, () => new Date());
  }

  private constructor(db: Database, key: Buffer, crashPoint: CrashPoint | null, now: () => Date) {
    this.db = db;
    this.path = db.name;
    this.key = key;
    this.crashPoint = crashPoint;
    this.now = now;
    this.sql = prepareStatements(db);
  }

  close(): void {
    this.db.close();
  }

  // ------------------------------------------------------------------ money facts

  startTransaction(id: string, service: Service): TxnRow {
    requireText('transaction id', id);
    if (!SERVICES.includes(service)) {
      throw new Error(`journal: unknown service ${JSON.stringify(service)} (expected ${SERVICES.join(', ')})`);
    }
    return this.write(() => {
      if (this.sql.txn.get(id)) throw new Error(`journal: transaction "${id}" already exists`);
      const at = this.stamp();
      this.sql.insertTxn.run(id, service, at, at);
      this.insertEvent(id, 'txn.started', { service }, at);
      return this.mustGet(id);
    });
  }

  recordLookup(id: string, info: LookupInfo): void {
    requireText('phone', info.phone);
    if (info.amountDue !== null) requireAmount('amountDue', info.amountDue);
    const data: Record<string, unknown> = { phone: info.phone, amountDue: info.amountDue };
    if (info.holder !== undefined) data.holder = info.holder;
    if (info.offline !== undefined) data.offline = info.offline;
    this.write(() => {
      this.mustBeOpen(id, 'record a lookup on');
      const at = this.stamp();
      this.sql.lookup.run(info.phone, info.amountDue, at, id);
      this.insertEvent(id, 'txn.lookup', data, at);
    });
  }

  noteEscrowed(id: string, note: Note): void {
    const n = cleanCash('note', note);
    this.write(() => {
      this.mustBeOpen(id, 'escrow a note in');
      const at = this.stamp();
      this.sql.touch.run(at, id);
      this.insertEvent(id, 'note.escrowed', { note: n }, at);
    });
  }

  /** The credit point: the note is in the cash box and counts for this transaction. */
  noteStacked(id: string, note: Note, via?: string): void {
    const n = cleanCash('note', note);
    const data: Record<string, unknown> = { note: n };
    if (via !== undefined) data.via = via;
    this.write(() => {
      this.mustBeOpen(id, 'stack a note in');
      const at = this.stamp();
      this.sql.stack.run(n.value, n.value, at, id);
      this.sql.cashboxAdd.run(n.currency, n.value);
      this.insertEvent(id, 'note.stacked', data, at);
    });
  }

  /**
   * A note handed back to the customer. Allowed on a transaction that already ended: a note held
   * in escrow when the transaction timed out leaves the validator only after the cancel.
   */
  noteReturned(id: string, note: Note, reason: string): void {
    const n = cleanCash('note', note);
    requireText('reason', reason);
    this.write(() => {
      this.mustGet(id);
      const at = this.stamp();
      this.sql.touch.run(at, id);
      this.insertEvent(id, 'note.returned', { note: n, reason }, at);
    });
  }

  /**
   * A coin routed to the coin box: it counts for this transaction at once. `counter`: the
   * acceptor's event counter of this coin, which coinCounter() gives back after a restart.
   */
  coinAccepted(id: string, coin: Coin, counter?: number): void {
    const c = cleanCash('coin', coin);
    if (counter !== undefined) requireRange('event counter', counter, 0, 255);
    this.write(() => {
      this.mustBeOpen(id, 'accept a coin in');
      const at = this.stamp();
      this.sql.stack.run(c.value, c.value, at, id);
      this.sql.coinboxAdd.run(c.currency, c.value);
      this.insertEvent(id, 'coin.accepted', counter === undefined ? { coin: c } : { coin: c, counter }, at);
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
    this.append(null, 'device.coin-counter', { counter });
  }

  /** Any other fact worth keeping: alarms, device status, recovery decisions, operator actions. */
  append(txnId: string | null, type: string, data: Record<string, unknown> = {}): JournalEvent {
    const clean = appendable(type, data);
    return this.write(() => {
      if (txnId !== null) this.mustGet(txnId);
      return this.insertEvent(txnId, type, clean, this.stamp());
    });
  }

  /**
   * For the modules that keep their own tables in the journal's database (the management link's
   * alarms and remote commands): `fn` runs in one SQLite transaction, and the events it appends
   * join the hash chain in that transaction, so a row and the event that journals it commit
   * together or not at all. The money tables are not theirs: those change only through the
   * methods above.
   */
  withTables<T>(fn: (db: Database, append: (type: string, data: Record<string, unknown>) => JournalEvent) => T): T {
    return this.write(() => fn(this.db, (type, data) => this.insertEvent(null, type, appendable(type, data), this.stamp())));
  }

  /**
   * Ends a transaction that took money (or none). `changeDue` of what came in goes back as change:
   * it is all owed (under `claimCode`) until payoutDone() records coins paid. The rest is credited
   * and queued for the server in the same SQLite transaction.
   */
  settle(id: string, s: { endReason: string; changeDue?: number; claimCode?: string }): TxnRow {
    requireText('endReason', s.endReason);
    const changeDue = s.changeDue ?? 0;
    requireAmount('changeDue', changeDue);
    // A code without change to claim would mean nothing on the receipt, so it is not kept.
    const claimCode = changeDue > 0 ? s.claimCode : undefined;
    if (changeDue > 0) requireText('claimCode (needed when change is due)', claimCode);
    return this.write(() => {
      const row = this.mustBeOpen(id, 'settle');
      if (changeDue > row.cashIn) {
        throw new Error(`journal: cannot settle "${id}": change due ${changeDue} exceeds cash in ${row.cashIn}`);
      }
      const card = this.cardAttempts(id).find((c) => c.status === 'approved');
      const credited = row.cashIn + row.cardIn - changeDue;
      if (credited < 0) {
        throw new Error(`journal: cannot settle "${id}": change due ${changeDue} exceeds cash in ${row.cashIn}`);
      }
      if (claimCode !== undefined) {
        const holder = this.sql.txnByClaim.get(claimCode) as { id: string } | undefined;
        if (holder) {
          throw new Error(`journal: cannot settle "${id}": claim code "${claimCode}" is already used by "${holder.id}"`);
        }
      }
      const at = this.stamp();
      this.sql.settle.run(s.endReason, credited, changeDue, claimCode ?? null, at, id);
      const data: Record<string, unknown> = { endReason: s.endReason, cashIn: row.cashIn, credited, changeDue };
      if (row.cardIn > 0) data.cardIn = row.cardIn;
      if (claimCode !== undefined) data.claimCode = claimCode;
      this.insertEvent(id, 'txn.settled', data, at);
      if (credited > 0) {
        const message: PaymentMessage = {
          messageId: `${id}:payment`,
          txnId: id,
          service: row.service,
          phone: row.phone,
          amount: credited,
          currency: PAYMENT_CURRENCY,
          cashIn: row.cashIn,
          ...(row.cardIn > 0 && card ? { cardIn: row.cardIn, card: paymentCard(card) } : {}),
          settledAt: at,
        };
        this.sql.insertOutbox.run(message.messageId, id, 'payment', JSON.stringify(message), at);
      }
      return this.mustGet(id);
    });
  }

  /** Ends a transaction that took no money. Money in must be settled, never cancelled. */
  cancel(id: string, reason: string): TxnRow {
    requireText('reason', reason);
    return this.write(() => {
      const row = this.mustBeOpen(id, 'cancel');
      if (row.cashIn > 0) {
        throw new Error(`journal: cannot cancel "${id}": it holds cash in ${row.cashIn}; settle it instead`);
      }
      if (row.cardIn > 0) {
        throw new Error(`journal: cannot cancel "${id}": it holds an approved card payment of ${row.cardIn}; settle or reverse it`);
      }
      const open = this.cardAttempts(id).find((c) => c.status === 'requested');
      if (open) {
        throw new Error(`journal: cannot cancel "${id}": card request "${open.requestId}" has no outcome; record one first`);
      }
      const at = this.stamp();
      this.sql.cancel.run(reason, at, id);
      this.insertEvent(id, 'txn.cancelled', { reason }, at);
      return this.mustGet(id);
    });
  }

  // ------------------------------------------------------------------ change and hoppers

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
    return this.write(() => {
      const row = this.mustGet(id);
      if (row.status !== 'completed') {
        throw new Error(`journal: cannot pay change for transaction "${id}": it is ${row.status}, not completed`);
      }
      const hopper = this.sql.hopper.get(p.hopper) as { coin_value: number } | undefined;
      if (hopper && hopper.coin_value !== p.coinValue) {
        throw new Error(
          `journal: hopper "${p.hopper}" holds coins of ${hopper.coin_value}, not ${p.coinValue}`,
        );
      }
      const busy = this.sql.unfinishedOnHopper.get(p.hopper) as { seq: number; txn_id: string } | undefined;
      if (busy) {
        throw new Error(
          `journal: hopper "${p.hopper}" still has payout ${busy.seq} (transaction "${busy.txn_id}") unfinished`,
        );
      }
      const { reserved } = this.sql.reservedChange.get(id) as { reserved: number };
      const amount = p.count * p.coinValue;
      if (amount > row.changeOwed - reserved) {
        throw new Error(
          `journal: cannot pay ${amount} to "${id}": change owed ${row.changeOwed}, of which ${reserved} ` +
            'is already being paid',
        );
      }
      const at = this.stamp();
      const seq = Number(
        this.sql.insertPayout.run(id, p.hopper, p.coinValue, p.count, p.eventBefore, at).lastInsertRowid,
      );
      this.insertEvent(
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
    this.write(() => {
      const p = this.mustGetPayout(payoutSeq);
      if (p.status !== 'intended') {
        throw new Error(`journal: payout ${payoutSeq} cannot start: it is ${p.status}`);
      }
      const at = this.stamp();
      this.sql.startPayout.run(r.event, payoutSeq);
      this.insertEvent(p.txn_id, 'payout.started', { payout: payoutSeq, hopper: p.hopper, event: r.event }, at);
    });
  }

  /**
   * What the hopper says it paid. The paid coins move from change owed to change paid; whatever
   * was not paid stays owed under the claim code. Also closes a payout that never started.
   */
  payoutDone(payoutSeq: number, r: { paid: number; unpaid: number; via: string }): TxnRow {
    requireAmount('paid', r.paid);
    requireAmount('unpaid', r.unpaid);
    requireText('via', r.via);
    return this.write(() => {
      const p = this.mustGetPayout(payoutSeq);
      if (p.status === 'done') throw new Error(`journal: payout ${payoutSeq} is already done`);
      if (r.paid + r.unpaid > p.count) {
        throw new Error(
          `journal: payout ${payoutSeq}: paid ${r.paid} + unpaid ${r.unpaid} exceeds the ${p.count} coins asked for`,
        );
      }
      const at = this.stamp();
      const amount = r.paid * p.coin_value;
      this.sql.finishPayout.run(r.paid, r.unpaid, r.via, at, payoutSeq);
      this.sql.payChange.run(amount, amount, at, p.txn_id);
      this.sql.hopperTake.run(r.paid, at, p.hopper);
      this.insertEvent(
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
      return this.mustGet(p.txn_id);
    });
  }

  /** Payouts not done yet, oldest first: recovery settles each from its hopper's counters. */
  pendingPayouts(): PayoutRow[] {
    return (this.sql.pendingPayouts.all() as PayoutRecord[]).map(toPayout);
  }

  payouts(txnId: string): PayoutRow[] {
    this.mustGet(txnId);
    return (this.sql.payoutsOf.all(txnId) as PayoutRecord[]).map(toPayout);
  }

  /** Sets the estimated coins in a hopper (filled, emptied or counted by an operator). */
  setHopperLevel(name: string, coinValue: number, level: number, reason: string): void {
    requireText('hopper name', name);
    requirePositive('coinValue', coinValue);
    requireAmount('level', level);
    requireText('reason', reason);
    this.write(() => {
      const before = this.sql.hopper.get(name) as { coin_value: number; level: number } | undefined;
      const at = this.stamp();
      this.sql.upsertHopper.run(name, coinValue, level, at);
      this.insertEvent(
        null,
        'hopper.level',
        { hopper: name, coinValue, level, previous: before ? before.level : null, reason },
        at,
      );
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
    return this.write(() => {
      const before = this.sql.hopper.get(name) as { coin_value: number; level: number } | undefined;
      if (!before) {
        throw new Error(`journal: unknown hopper "${name}": set its level once (setHopperLevel) before refilling it`);
      }
      const level = before.level + add;
      requireAmount('new hopper level', level);
      const at = this.stamp();
      this.sql.hopperAdd.run(add, at, name);
      this.insertEvent(
        null,
        'hopper.refill',
        { hopper: name, coinValue: before.coin_value, added: add, previous: before.level, level, by },
        at,
      );
      return level;
    });
  }

  // ------------------------------------------------------------------ cash box

  /**
   * The cash box was emptied and its notes counted by `by`: `counted` maps note value (fen) to
   * notes found. The journal's counts, the counted ones and their differences are recorded, with
   * an alarm when they differ, and the counters restart at zero for the new, empty box.
   */
  cashCollected(by: string, counted: Record<number, number>): CashCollection {
    requireText('by', by);
    const found = cleanCounts(counted);
    return this.write(() => {
      const box = this.cashbox();
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

      const at = this.stamp();
      const collected = this.insertEvent(
        null,
        'cashbox.collected',
        { by, currency: PAYMENT_CURRENCY, expected, counted: found, difference, expectedTotal, countedTotal, ok },
        at,
      );
      if (!ok) {
        const off = Object.fromEntries(values.filter((v) => difference[v] !== 0).map((v) => [v, difference[v]]));
        this.insertEvent(
          null,
          'alarm.cash-difference',
          {
            by,
            collection: collected.seq,
            difference: off,
            expectedTotal,
            countedTotal,
            shortBy: expectedTotal - countedTotal,
          },
          at,
        );
      }
      this.sql.cashboxEmpty.run();
      return { expected, counted: found, difference, ok };
    });
  }

  // ------------------------------------------------------------------ receipts

  receiptPrinted(id: string, r: { reprint?: boolean } = {}): void {
    this.write(() => {
      this.mustHaveEnded(id, 'record a receipt for');
      const at = this.stamp();
      this.sql.touch.run(at, id);
      this.insertEvent(id, 'receipt.printed', { reprint: r.reprint === true }, at);
    });
  }

  /** The receipt did not come out (whole): the transaction is listed by receiptsToReprint(). */
  receiptFailed(id: string, reason: string): void {
    requireText('reason', reason);
    this.write(() => {
      this.mustHaveEnded(id, 'record a receipt for');
      const at = this.stamp();
      this.sql.touch.run(at, id);
      this.insertEvent(id, 'receipt.failed', { reason }, at);
    });
  }

  /** Completed pay/top-up transactions whose last receipt attempt failed, oldest first. */
  receiptsToReprint(): string[] {
    return (this.sql.receiptsToReprint.all() as { id: string }[]).map((r) => r.id);
  }

  // ------------------------------------------------------------------ reading

  transaction(id: string): TxnRow | undefined {
    const r = this.sql.txn.get(id) as TxnRecord | undefined;
    return r && toTxn(r);
  }

  openTransactions(): TxnRow[] {
    return (this.sql.openTxns.all() as TxnRecord[]).map(toTxn);
  }

  /** Newest first. */
  listTransactions(opts: { limit?: number } = {}): TxnRow[] {
    const limit = opts.limit ?? 100;
    requirePositive('limit', limit);
    return (this.sql.listTxns.all(limit) as TxnRecord[]).map(toTxn);
  }

  events(txnId: string): JournalEvent[] {
    this.mustGet(txnId);
    return (this.sql.events.all(txnId) as EventRecord[]).map(toEvent);
  }

  /** The last note escrowed in this transaction with no stacked/returned after it, or null. */
  pendingEscrow(txnId: string): Note | null {
    this.mustGet(txnId);
    const r = this.sql.lastNoteOf.get(txnId) as EventRecord | undefined;
    return r?.type === 'note.escrowed' ? noteOf(r) : null;
  }

  /** The last note event (escrowed/stacked/returned) across all transactions, with its txn id. */
  lastNoteEvent(): { txnId: string; type: string; note: Note } | null {
    const r = this.sql.lastNote.get() as EventRecord | undefined;
    return r ? { txnId: r.txn_id as string, type: r.type, note: noteOf(r) } : null;
  }

  /** The banknotes in the cash box. */
  cashbox(): CountedCash[] {
    return this.sql.cashbox.all() as CountedCash[];
  }

  coinbox(): CountedCash[] {
    return this.sql.coinbox.all() as CountedCash[];
  }

  cashboxTotal(): number {
    return (this.sql.cashboxTotal.get() as { total: number }).total;
  }

  // ------------------------------------------------------------------ outbox

  /** Messages not yet acknowledged by the server, oldest first. */
  outboxPending(limit: number): OutboxRow[] {
    requirePositive('limit', limit);
    return (this.sql.outboxPending.all(limit) as OutboxRecord[]).map(toOutbox);
  }

  outboxStats(): { pending: number; oldestPendingAt: string | null; acked: number } {
    const r = this.sql.outboxStats.get() as { pending: number; oldest: string | null; acked: number };
    return { pending: r.pending, oldestPendingAt: r.oldest, acked: r.acked };
  }

  /**
   * When the oldest unacknowledged message (of `kind`, when given) was written; one index look-up
   * for the whole outbox, however long the backlog.
   */
  outboxOldestPendingAt(kind?: string): string | null {
    const r = (kind === undefined ? this.sql.outboxHead.get() : this.sql.outboxHeadOfKind.get(kind)) as { created_at: string } | undefined;
    return r?.created_at ?? null;
  }

  /**
   * Records one delivery attempt. The server may acknowledge twice or a message we no longer
   * hold (re-sending is always safe); such an ack changes nothing.
   */
  markSent(messageId: string, result: SendResult): void {
    this.markSentAll([{ messageId, result }]);
  }

  /** markSent for a whole batch in one commit, so a drain costs one disk sync per batch. */
  markSentAll(deliveries: readonly { messageId: string; result: SendResult }[]): void {
    for (const d of deliveries) if (!d.result.ok) requireText('error', d.result.error);
    this.write(() => {
      const at = this.stamp();
      for (const { messageId, result } of deliveries) {
        const r = this.sql.outboxByMessage.get(messageId) as { acked_at: string | null } | undefined;
        if (!r || r.acked_at !== null) continue;
        if (result.ok) this.sql.markAcked.run(at, at, result.serverRef ?? null, messageId);
        else this.sql.markFailed.run(at, result.error, messageId);
      }
    });
  }

  /**
   * Queues the undoing of an earlier online request of this transaction (e.g. a card authorisation
   * whose answer never came): the event and the outbox message commit together, and the forwarder
   * sends it like a payment until the server acknowledges it. Asking again for the same request
   * returns the reversal already queued. Call it inside the write that journals the fact which
   * makes the reversal necessary, so that neither can exist without the other.
   */
  queueReversal(txnId: string, r: { reverses: string; amount: number; reason: string }): ReversalMessage {
    requireText('reverses', r.reverses);
    requirePositive('amount', r.amount);
    requireText('reason', r.reason);
    return this.write(() => {
      this.mustGet(txnId);
      return this.insertReversal(txnId, r);
    });
  }

  private insertReversal(txnId: string, r: { reverses: string; amount: number; reason: string }): ReversalMessage {
    const messageId = `${txnId}:reversal:${r.reverses}`;
    const known = this.sql.outboxMessage.get(messageId) as { payload: string } | undefined;
    if (known) return JSON.parse(known.payload) as ReversalMessage;
    const at = this.stamp();
    const message: ReversalMessage = {
      messageId,
      txnId,
      reverses: r.reverses,
      amount: r.amount,
      currency: PAYMENT_CURRENCY,
      reason: r.reason,
      createdAt: at,
    };
    this.insertEvent(txnId, 'txn.reversal', { messageId, reverses: r.reverses, amount: r.amount, reason: r.reason }, at);
    this.sql.insertOutbox.run(messageId, txnId, 'reversal', JSON.stringify(message), at);
    return message;
  }

  // ------------------------------------------------------------------ card payments

  /**
   * Journalled before the card data goes to the server or the amount to the terminal, so that a
   * crash from here on leaves a request recovery can see and reverse. A card pays exactly the amount
   * due of a bill, alone: no cash may have been taken, and one request runs at a time.
   */
  cardRequested(txnId: string, r: CardRequest): void {
    requireText('requestId', r.requestId);
    if (!CARD_METHODS.includes(r.method)) throw new Error(`journal: card method must be reader or terminal, got ${JSON.stringify(r.method)}`);
    requirePositive('amount', r.amount);
    if (r.maskedPan !== undefined) requireMaskedPan(r.maskedPan);
    this.write(() => {
      const row = this.mustBeOpen(txnId, 'request a card payment in');
      if (row.service !== 'pay') throw new Error(`journal: card payment on "${txnId}": only a bill payment takes a card, not ${row.service}`);
      if (row.cashIn > 0 || row.cardIn > 0) {
        throw new Error(`journal: card payment on "${txnId}": money was already taken (cash ${row.cashIn}, card ${row.cardIn})`);
      }
      if (row.amountDue !== r.amount) {
        throw new Error(`journal: card payment on "${txnId}": amount ${r.amount} is not the amount due ${String(row.amountDue)}`);
      }
      const attempts = this.cardAttempts(txnId);
      if (attempts.some((c) => c.requestId === r.requestId)) throw new Error(`journal: card request "${r.requestId}" already exists`);
      const open = attempts.find((c) => c.status === 'requested');
      if (open) throw new Error(`journal: card payment on "${txnId}": request "${open.requestId}" has no outcome yet`);
      const at = this.stamp();
      this.sql.touch.run(at, txnId);
      const data: Record<string, unknown> = { requestId: r.requestId, method: r.method, amount: r.amount };
      if (r.maskedPan !== undefined) data.maskedPan = r.maskedPan;
      this.insertEvent(txnId, 'card.requested', data, at);
    });
  }

  /** The credit point of a card payment: the money counts for this transaction from here on. */
  cardApproved(txnId: string, a: CardApproval): void {
    requireText('requestId', a.requestId);
    if (a.authCode !== undefined) requireText('authCode', a.authCode);
    if (a.serverRef !== undefined) requireText('serverRef', a.serverRef);
    if (a.receiptNo !== undefined) requireAmount('receiptNo', a.receiptNo);
    this.write(() => {
      this.mustBeOpen(txnId, 'approve a card payment in');
      const req = this.pendingCard(txnId, a.requestId, 'approve');
      const at = this.stamp();
      this.sql.cardIn.run(req.amount, req.amount, at, txnId);
      const data: Record<string, unknown> = { requestId: a.requestId, method: req.method, amount: req.amount };
      for (const k of ['authCode', 'serverRef', 'receiptNo', 'trace', 'terminalId', 'cardName'] as const) {
        if (a[k] !== undefined) data[k] = a[k];
      }
      this.insertEvent(txnId, 'card.approved', data, at);
    });
  }

  /** Certain that no money was taken: declined, refused, aborted, or never sent. */
  cardDeclined(txnId: string, d: { requestId: string; reason: string }): void {
    requireText('requestId', d.requestId);
    requireText('reason', d.reason);
    this.write(() => {
      this.mustGet(txnId);
      this.pendingCard(txnId, d.requestId, 'decline');
      const at = this.stamp();
      this.sql.touch.run(at, txnId);
      this.insertEvent(txnId, 'card.declined', { requestId: d.requestId, reason: d.reason }, at);
    });
  }

  /**
   * The outcome is not known (time-out, link lost, crash), or an approval the customer was never
   * told of: in this one write the card money is taken off the transaction and its undoing is
   * queued, a reversal message to the server (reader) or a terminal reversal by receipt number
   * (terminal). A terminal request with no receipt number cannot be reversed by the kiosk: an
   * 'alarm.card-unresolved' event is written for the operator instead.
   */
  cardUnknown(txnId: string, u: { requestId: string; reason: string; receiptNo?: number }): CardUnknownOutcome {
    requireText('requestId', u.requestId);
    requireText('reason', u.reason);
    if (u.receiptNo !== undefined) requireAmount('receiptNo', u.receiptNo);
    return this.write(() => {
      this.mustBeOpen(txnId, 'record an unknown card outcome in');
      const req = this.cardAttempts(txnId).find((c) => c.requestId === u.requestId);
      if (!req) throw new Error(`journal: unknown card request "${u.requestId}" in "${txnId}"`);
      if (req.status !== 'requested' && req.status !== 'approved') {
        throw new Error(`journal: card request "${u.requestId}" is already ${req.status}`);
      }
      const at = this.stamp();
      const withdrawn = req.status === 'approved' ? req.amount : 0;
      if (withdrawn > 0) this.sql.cardOut.run(withdrawn, withdrawn, at, txnId);
      else this.sql.touch.run(at, txnId);
      const receiptNo = u.receiptNo ?? req.receiptNo;
      let reversal: CardUnknownOutcome['reversal'];
      if (req.method === 'reader') reversal = 'server';
      else reversal = receiptNo === undefined ? 'none' : 'terminal';
      const data: Record<string, unknown> = { requestId: u.requestId, method: req.method, reason: u.reason, reversal, withdrawn };
      if (receiptNo !== undefined) data.receiptNo = receiptNo;
      this.insertEvent(txnId, 'card.unknown', data, at);
      if (reversal === 'server') {
        this.insertReversal(txnId, { reverses: u.requestId, amount: req.amount, reason: `card-${u.reason}` });
      } else if (reversal === 'terminal') {
        this.sql.insertTerminalReversal.run(u.requestId, txnId, receiptNo, req.amount, at);
      } else {
        this.insertEvent(
          txnId,
          'alarm.card-unresolved',
          { requestId: u.requestId, amount: req.amount, reason: u.reason, detail: 'the terminal gave no receipt number: check its journal' },
          at,
        );
      }
      return { reversal, withdrawn };
    });
  }

  /** Every card attempt of a transaction, oldest first. */
  cardAttempts(txnId: string): CardAttempt[] {
    const attempts = new Map<string, CardAttempt>();
    for (const e of this.events(txnId)) {
      if (!e.type.startsWith('card.')) continue;
      const d = e.data as Record<string, unknown> & { requestId: string };
      if (e.type === 'card.requested') {
        attempts.set(d.requestId, { ...(d as unknown as CardRequest), txnId, status: 'requested' });
        continue;
      }
      const a = attempts.get(d.requestId);
      if (!a) continue;
      if (e.type === 'card.approved') Object.assign(a, stripped(d, ['requestId', 'method', 'amount']), { status: 'approved' });
      else if (e.type === 'card.declined') Object.assign(a, { status: 'declined', reason: d.reason });
      else if (e.type === 'card.unknown') {
        Object.assign(a, { status: 'unknown', reason: d.reason }, d.receiptNo === undefined ? {} : { receiptNo: d.receiptNo });
      }
    }
    return [...attempts.values()];
  }

  /** Terminal reversals still to be sent, oldest first. */
  pendingTerminalReversals(): TerminalReversalRow[] {
    return (this.sql.pendingTerminalReversals.all() as TerminalReversalRecord[]).map(toTerminalReversal);
  }

  terminalReversals(txnId: string): TerminalReversalRow[] {
    return (this.sql.terminalReversalsOf.all(txnId) as TerminalReversalRecord[]).map(toTerminalReversal);
  }

  /**
   * One attempt at a terminal reversal. 'reversed' and 'refused' are final ('refused' also writes
   * 'alarm.card-reversal-refused': the customer's card stays charged until the operator acts);
   * 'unknown' only counts the attempt, and the worker tries again.
   */
  terminalReversalAttempt(requestId: string, r: { outcome: 'reversed' | 'refused' | 'unknown'; code: string; detail: string }): TerminalReversalRow {
    requireText('requestId', requestId);
    requireText('code', r.code);
    return this.write(() => {
      const rec = this.sql.terminalReversal.get(requestId) as TerminalReversalRecord | undefined;
      if (!rec) throw new Error(`journal: no terminal reversal for card request "${requestId}"`);
      if (rec.status !== 'pending') throw new Error(`journal: terminal reversal "${requestId}" is already ${rec.status}`);
      const at = this.stamp();
      if (r.outcome === 'unknown') {
        this.sql.terminalReversalFailed.run(`${r.code}: ${r.detail}`, requestId);
      } else {
        this.sql.terminalReversalDone.run(r.outcome, `${r.code}: ${r.detail}`, at, requestId);
        const data = { requestId, receiptNo: rec.receipt_no, amount: rec.amount, code: r.code, detail: r.detail };
        this.insertEvent(rec.txn_id, r.outcome === 'reversed' ? 'card.reversed' : 'card.reversal-refused', data, at);
        if (r.outcome === 'refused') this.insertEvent(rec.txn_id, 'alarm.card-reversal-refused', data, at);
      }
      return toTerminalReversal(this.sql.terminalReversal.get(requestId) as TerminalReversalRecord);
    });
  }

  private pendingCard(txnId: string, requestId: string, action: string): CardAttempt {
    const req = this.cardAttempts(txnId).find((c) => c.requestId === requestId);
    if (!req) throw new Error(`journal: cannot ${action} card request "${requestId}": it was never requested in "${txnId}"`);
    if (req.status !== 'requested') throw new Error(`journal: cannot ${action} card request "${requestId}": it is already ${req.status}`);
    return req;
  }

  // ------------------------------------------------------------------ audit

  /** The hash chain and the money invariants; returns a list of problems, empty when all is well. */
  verify(): string[] {
    const chain = this.verifyChain();
    const problems = chain.ok ? [] : [`hash chain broken at event ${chain.seq} (${chain.problem}): ${chain.detail}`];
    return [...problems, ...this.verifyMoney()];
  }

  /**
   * The first broken link of the events' hash chain, or how many events it covers. Read in one
   * transaction: rows and chain head seen at different moments would look like a cut chain.
   */
  verifyChain(): ChainResult {
    return this.db.transaction(() => checkChain(this.db, this.key))();
  }

  /** Money invariants over the whole journal, without the hash chain, as of one moment. */
  verifyMoney(): string[] {
    return this.db.transaction(() => this.moneyProblems())();
  }

  private moneyProblems(): string[] {
    const problems: string[] = [];

    for (const r of this.rows<TxnRecord>(
      `SELECT * FROM transactions WHERE status <> 'open' AND cash_in + card_in <> credited + change_paid + change_owed`,
    )) {
      problems.push(
        `transaction "${r.id}": cash in ${r.cash_in} + card in ${r.card_in} != credited ${r.credited} + change paid ` +
          `${r.change_paid} + change owed ${r.change_owed}`,
      );
    }

    problems.push(...this.checkCards());

    for (const r of this.rows<{ id: string; cash_in: number; notes: number; coins: number }>(
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

    for (const r of this.rows<{ id: string; cash_in: number }>(
      `SELECT id, cash_in FROM transactions WHERE status = 'cancelled' AND cash_in > 0`,
    )) {
      problems.push(`transaction "${r.id}": cancelled with cash in ${r.cash_in}`);
    }
    for (const r of this.rows<{ id: string; card_in: number }>(
      `SELECT id, card_in FROM transactions WHERE status = 'cancelled' AND card_in > 0`,
    )) {
      problems.push(`transaction "${r.id}": cancelled with card in ${r.card_in}`);
    }

    problems.push(...this.checkCashbox());
    problems.push(...this.compareCounters('coin box', 'coinbox', 'coin.accepted', 'coin', 'accepted coins'));

    for (const r of this.rows<{ id: string; change_paid: number; paid: number }>(
      `SELECT t.id, t.change_paid, COALESCE(p.total, 0) AS paid FROM transactions t
       LEFT JOIN (SELECT txn_id, SUM(paid * coin_value) AS total FROM payouts WHERE status = 'done'
                  GROUP BY txn_id) p ON p.txn_id = t.id
       WHERE t.change_paid <> COALESCE(p.total, 0)`,
    )) {
      problems.push(`transaction "${r.id}": change paid ${r.change_paid} != coins paid by its payouts ${r.paid}`);
    }

    for (const r of this.rows<{ id: string; change_owed: number; reserved: number }>(
      `SELECT t.id, t.change_owed, p.total AS reserved FROM transactions t
       JOIN (SELECT txn_id, SUM(count * coin_value) AS total FROM payouts WHERE status <> 'done'
             GROUP BY txn_id) p ON p.txn_id = t.id
       WHERE p.total > t.change_owed`,
    )) {
      problems.push(`transaction "${r.id}": unfinished payouts of ${r.reserved} exceed change owed ${r.change_owed}`);
    }

    for (const r of this.rows<{ seq: number; count: number; paid: number; unpaid: number }>(
      `SELECT seq, count, paid, unpaid FROM payouts WHERE paid + unpaid > count`,
    )) {
      problems.push(`payout ${r.seq}: paid ${r.paid} + unpaid ${r.unpaid} exceeds its ${r.count} coins`);
    }

    for (const r of this.rows<{ id: string; change_owed: number }>(
      `SELECT id, change_owed FROM transactions WHERE change_owed > 0 AND claim_code IS NULL`,
    )) {
      problems.push(`transaction "${r.id}": owes change ${r.change_owed} without a claim code`);
    }

    problems.push(...this.checkHopperLevels());

    for (const r of this.rows<{ id: string; status: TxnStatus; credited: number; n: number; lo: number; hi: number }>(
      `SELECT t.id, t.status, t.credited, COUNT(o.seq) AS n,
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
    for (const r of this.rows<{ id: string; status: TxnStatus; card_in: number; approved: number; withdrawn: number }>(
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
      for (const c of this.cardAttempts(r.id)) {
        if (c.status === 'requested') problems.push(`transaction "${r.id}": ${r.status} with card request "${c.requestId}" unresolved`);
      }
    }
    for (const r of this.rows<{ txn_id: string; request_id: string; reversal: string }>(
      `SELECT txn_id, json_extract(data, '$.requestId') AS request_id, json_extract(data, '$.reversal') AS reversal
       FROM events WHERE type = 'card.unknown'`,
    )) {
      const queued =
        r.reversal === 'server'
          ? this.sql.outboxByMessage.get(`${r.txn_id}:reversal:${r.request_id}`) !== undefined
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
    for (const r of this.rows<{ currency: string; value: number; n: number }>(
      `SELECT currency, value, count AS n FROM ${table}`,
    )) {
      counted.set(`${r.currency} ${r.value}`, r.n);
    }
    const seen = new Map<string, number>();
    for (const r of this.rows<{ currency: string; value: number; n: number }>(
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
    for (const r of this.rows<{ seq: number; type: string; currency: string; value: number; expected: string | null }>(
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
    for (const c of this.cashbox()) counted.set(`${c.currency} ${c.value}`, c.count);
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
    for (const r of this.rows<Change>(
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
    for (const h of this.hopperLevels()) {
      const want = expected.get(h.name);
      if (want === undefined) {
        problems.push(`hopper "${h.name}": level ${h.level} was never set by a 'hopper.level' event`);
      } else if (want !== h.level) {
        problems.push(`hopper "${h.name}": level ${h.level} != last set level plus refills minus coins paid ${want}`);
      }
    }
    return problems;
  }

  // ------------------------------------------------------------------ internals

  /**
   * Runs `fn` as one SQLite transaction. Only after it committed do its events count toward
   * `crashAfter`, so an injected crash always finds them on disk.
   */
  private write<T>(fn: () => T): T {
    this.uncommitted = [];
    let result: T;
    try {
      result = this.db.transaction(fn)();
    } catch (err) {
      this.uncommitted = [];
      throw err;
    }
    const types = this.uncommitted;
    this.uncommitted = [];
    for (const type of types) this.countForCrash(type);
    return result;
  }

  private countForCrash(type: string): void {
    if (this.crashPoint === null || type !== this.crashPoint.type) return;
    this.crashCount += 1;
    if (this.crashCount === this.crashPoint.nth) process.kill(process.pid, 'SIGKILL');
  }

  /**
   * Chains the event to the chain head. The hash covers the seq, so the seq is chosen here (the
   * one AUTOINCREMENT would give next) rather than by the insert.
   */
  private insertEvent(txnId: string | null, type: string, data: Record<string, unknown>, at: string): JournalEvent {
    const head = this.sql.chainHead.get() as { hash: string } | undefined;
    if (!head) throw new Error('journal: the chain head record is missing; the journal was tampered with');
    const { seq } = this.sql.nextSeq.get() as { seq: number };
    const json = toJson(data, `event "${type}"`);
    const hash = chainHash(this.key, head.hash, { seq, txn_id: txnId, type, data: json, at });
    this.sql.insertEvent.run(seq, txnId, type, json, at, head.hash, hash);
    this.sql.moveHead.run(seq, hash);
    this.uncommitted.push(type);
    return { seq, txnId, type, data, at };
  }

  private rows<T>(sql: string): T[] {
    return this.db.prepare(sql).all() as T[];
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private mustGet(id: string): TxnRow {
    const row = this.transaction(id);
    if (!row) throw new Error(`journal: unknown transaction "${id}"`);
    return row;
  }

  private mustHaveEnded(id: string, action: string): TxnRow {
    const row = this.mustGet(id);
    if (row.status === 'open') throw new Error(`journal: cannot ${action} transaction "${id}": it is still open`);
    return row;
  }

  private mustGetPayout(seq: number): PayoutRecord {
    requirePositive('payout seq', seq);
    const p = this.sql.payout.get(seq) as PayoutRecord | undefined;
    if (!p) throw new Error(`journal: unknown payout ${seq}`);
    return p;
  }

  private mustBeOpen(id: string, action: string): TxnRow {
    const row = this.mustGet(id);
    if (row.status !== 'open') throw new Error(`journal: cannot ${action} transaction "${id}": it is ${row.status}`);
    return row;
  }
}

/** Every statement the journal runs on its hot path, prepared once per connection. */
function prepareStatements(db: Database) {
  return {
    txn: db.prepare('SELECT * FROM transactions WHERE id = ?'),
    insertTxn: db.prepare(
      `INSERT INTO transactions (id, service, status, created_at, updated_at) VALUES (?, ?, 'open', ?, ?)`,
    ),
    lookup: db.prepare('UPDATE transactions SET phone = ?, amount_due = ?, updated_at = ? WHERE id = ?'),
    touch: db.prepare('UPDATE transactions SET updated_at = ? WHERE id = ?'),
    cardIn: db.prepare(
      'UPDATE transactions SET card_in = card_in + ?, credited = credited + ?, updated_at = ? WHERE id = ?',
    ),
    cardOut: db.prepare(
      'UPDATE transactions SET card_in = card_in - ?, credited = credited - ?, updated_at = ? WHERE id = ?',
    ),
    insertTerminalReversal: db.prepare(
      `INSERT INTO terminal_reversals (request_id, txn_id, receipt_no, amount, status, created_at)
       VALUES (?, ?, ?, ?, 'pending', ?)`,
    ),
    cardAlarm: db.prepare(
      `SELECT COUNT(*) AS n FROM events WHERE type = 'alarm.card-unresolved' AND json_extract(data, '$.requestId') = ?`,
    ),
    terminalReversal: db.prepare('SELECT * FROM terminal_reversals WHERE request_id = ?'),
    terminalReversalsOf: db.prepare('SELECT * FROM terminal_reversals WHERE txn_id = ? ORDER BY created_at'),
    pendingTerminalReversals: db.prepare(`SELECT * FROM terminal_reversals WHERE status = 'pending' ORDER BY created_at`),
    terminalReversalFailed: db.prepare(
      'UPDATE terminal_reversals SET attempts = attempts + 1, last_error = ? WHERE request_id = ?',
    ),
    terminalReversalDone: db.prepare(
      `UPDATE terminal_reversals SET status = ?, attempts = attempts + 1, last_error = ?, done_at = ? WHERE request_id = ?`,
    ),
    stack: db.prepare(
      'UPDATE transactions SET cash_in = cash_in + ?, credited = credited + ?, updated_at = ? WHERE id = ?',
    ),
    cashboxAdd: db.prepare(
      `INSERT INTO cashbox (currency, value, count) VALUES (?, ?, 1)
       ON CONFLICT (currency, value) DO UPDATE SET count = count + 1`,
    ),
    settle: db.prepare(
      `UPDATE transactions SET status = 'completed', end_reason = ?, credited = ?, change_owed = ?,
       claim_code = ?, updated_at = ? WHERE id = ?`,
    ),
    txnByClaim: db.prepare('SELECT id FROM transactions WHERE claim_code = ?'),
    coinboxAdd: db.prepare(
      `INSERT INTO coinbox (currency, value, count) VALUES (?, ?, 1)
       ON CONFLICT (currency, value) DO UPDATE SET count = count + 1`,
    ),
    coinbox: db.prepare('SELECT currency, value, count FROM coinbox ORDER BY currency, value'),
    payout: db.prepare('SELECT * FROM payouts WHERE seq = ?'),
    payoutsOf: db.prepare('SELECT * FROM payouts WHERE txn_id = ? ORDER BY seq'),
    pendingPayouts: db.prepare(`SELECT * FROM payouts WHERE status <> 'done' ORDER BY seq`),
    unfinishedOnHopper: db.prepare(
      `SELECT seq, txn_id FROM payouts WHERE status <> 'done' AND hopper = ? ORDER BY seq LIMIT 1`,
    ),
    reservedChange: db.prepare(
      `SELECT COALESCE(SUM(count * coin_value), 0) AS reserved FROM payouts WHERE txn_id = ? AND status <> 'done'`,
    ),
    insertPayout: db.prepare(
      `INSERT INTO payouts (txn_id, hopper, coin_value, count, event_before, status, created_at)
       VALUES (?, ?, ?, ?, ?, 'intended', ?)`,
    ),
    startPayout: db.prepare(`UPDATE payouts SET status = 'started', event = ? WHERE seq = ?`),
    finishPayout: db.prepare(
      `UPDATE payouts SET status = 'done', paid = ?, unpaid = ?, via = ?, done_at = ? WHERE seq = ?`,
    ),
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
    // Starts from the failures (few) rather than from every transaction ever made.
    receiptsToReprint: db.prepare(
      `SELECT t.id FROM transactions t
       WHERE t.id IN (SELECT txn_id FROM events WHERE type = 'receipt.failed')
         AND t.status = 'completed' AND t.service IN ('pay', 'topup')
         AND (SELECT type FROM events e WHERE e.txn_id = t.id AND e.type IN ('receipt.printed', 'receipt.failed')
              ORDER BY e.seq DESC LIMIT 1) = 'receipt.failed'
       ORDER BY t.created_at, t.rowid`,
    ),
    cancel: db.prepare(
      `UPDATE transactions SET status = 'cancelled', end_reason = ?, updated_at = ? WHERE id = ?`,
    ),
    nextSeq: db.prepare(
      `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                  COALESCE((SELECT MAX(seq) FROM events), 0)) + 1 AS seq`,
    ),
    insertEvent: db.prepare(
      'INSERT INTO events (seq, txn_id, type, data, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    chainHead: db.prepare('SELECT hash FROM chain_head WHERE id = 1'),
    moveHead: db.prepare('UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1'),
    events: db.prepare('SELECT * FROM events WHERE txn_id = ? ORDER BY seq'),
    lastNoteOf: db.prepare(
      `SELECT * FROM events WHERE txn_id = ? AND type IN ('note.escrowed', 'note.stacked', 'note.returned')
       ORDER BY seq DESC LIMIT 1`,
    ),
    lastCoinCounter: db.prepare(`SELECT seq, json_extract(data, '$.counter') AS counter FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1`),
    lastNote: db.prepare(
      `SELECT * FROM events WHERE type IN ('note.escrowed', 'note.stacked', 'note.returned')
       ORDER BY seq DESC LIMIT 1`,
    ),
    openTxns: db.prepare(`SELECT * FROM transactions WHERE status = 'open' ORDER BY created_at, rowid`),
    listTxns: db.prepare('SELECT * FROM transactions ORDER BY created_at DESC, rowid DESC LIMIT ?'),
    cashbox: db.prepare('SELECT currency, value, count FROM cashbox ORDER BY currency, value'),
    cashboxEmpty: db.prepare('DELETE FROM cashbox'),
    cashboxTotal: db.prepare('SELECT COALESCE(SUM(value * count), 0) AS total FROM cashbox'),
    insertOutbox: db.prepare(
      'INSERT INTO outbox (message_id, txn_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    outboxPending: db.prepare('SELECT * FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT ?'),
    outboxStats: db.prepare(
      `SELECT
         (SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL) AS pending,
         (SELECT MIN(created_at) FROM outbox WHERE acked_at IS NULL) AS oldest,
         (SELECT COUNT(*) FROM outbox WHERE acked_at IS NOT NULL) AS acked`,
    ),
    outboxByMessage: db.prepare('SELECT acked_at FROM outbox WHERE message_id = ?'),
    outboxMessage: db.prepare('SELECT payload FROM outbox WHERE message_id = ?'),
    outboxHead: db.prepare('SELECT created_at FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT 1'),
    outboxHeadOfKind: db.prepare('SELECT created_at FROM outbox WHERE acked_at IS NULL AND kind = ? ORDER BY seq LIMIT 1'),
    markAcked: db.prepare(
      `UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, acked_at = ?, server_ref = ?
       WHERE message_id = ?`,
    ),
    markFailed: db.prepare(
      'UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? WHERE message_id = ?',
    ),
  };
}

/** What append() may write: a free event type and a plain object that survives JSON. */
function appendable(type: string, data: Record<string, unknown>): Record<string, unknown> {
  requireText('event type', type);
  if (RESERVED_TYPES.has(type) || RESERVED_PREFIXES.some((p) => type.startsWith(p))) {
    throw new Error(`journal: event type "${type}" is written only by its own Journal method, not by append()`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`journal: event data for "${type}" must be a plain object`);
  }
  return JSON.parse(toJson(data, `event "${type}"`)) as Record<string, unknown>;
}

function parseCrashAfter(spec: string): CrashPoint {
  const m = /^([^#\s]+)(?:#([1-9]\d*))?$/.exec(spec);
  if (!m) throw new Error(`journal: crashAfter "${spec}" is not "type" or "type#n" (n >= 1)`);
  return { type: m[1] as string, nth: m[2] === undefined ? 1 : Number(m[2]) };
}

function requireText(name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new Error(`journal: ${name} must be a non-empty string, got ${JSON.stringify(v)}`);
  }
}

/** Money is integer minor units (fen), never negative, never a float. */
function requireAmount(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`journal: ${name} must be a whole number of fen >= 0, got ${String(v)}`);
  }
}

function requirePositive(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new Error(`journal: ${name} must be a whole number >= 1, got ${String(v)}`);
  }
}

function requireRange(name: string, v: unknown, min: number, max: number): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new Error(`journal: ${name} must be a whole number from ${min} to ${max}, got ${String(v)}`);
  }
}

/** Notes and coins have the same shape; only the word in the error differs. */
function cleanCash(kind: 'note' | 'coin', item: Note | Coin): Note & Coin {
  if (item === null || typeof item !== 'object') throw new Error(`journal: ${kind} must be an object`);
  requireAmount(`${kind} value`, item.value);
  if (item.value === 0) throw new Error(`journal: ${kind} value must be above 0`);
  if (typeof item.currency !== 'string' || !/^[A-Z]{3}$/.test(item.currency)) {
    throw new Error(`journal: ${kind} currency must be an ISO 4217 code, got ${JSON.stringify(item.currency)}`);
  }
  if (!Number.isSafeInteger(item.code)) {
    throw new Error(`journal: ${kind} code must be an integer, got ${String(item.code)}`);
  }
  return { value: item.value, currency: item.currency, code: item.code };
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

function toJson(data: unknown, what: string): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    throw new Error(`journal: ${what} data cannot be stored as JSON: ${(err as Error).message}`, { cause: err });
  }
}

function noteOf(r: EventRecord): Note {
  return (JSON.parse(r.data) as { note: Note }).note;
}

function toTxn(r: TxnRecord): TxnRow {
  return {
    id: r.id,
    service: r.service,
    phone: r.phone,
    amountDue: r.amount_due,
    status: r.status,
    endReason: r.end_reason,
    cashIn: r.cash_in,
    cardIn: r.card_in,
    credited: r.credited,
    changePaid: r.change_paid,
    changeOwed: r.change_owed,
    claimCode: r.claim_code,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toTerminalReversal(r: TerminalReversalRecord): TerminalReversalRow {
  return {
    requestId: r.request_id,
    txnId: r.txn_id,
    receiptNo: r.receipt_no,
    amount: r.amount,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    createdAt: r.created_at,
    doneAt: r.done_at,
  };
}

function paymentCard(c: CardAttempt): PaymentCard {
  const card: PaymentCard = { method: c.method, requestId: c.requestId };
  if (c.receiptNo !== undefined) card.receiptNo = c.receiptNo;
  if (c.maskedPan !== undefined) card.maskedPan = c.maskedPan;
  return card;
}

function stripped(d: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(d).filter(([k]) => !keys.includes(k)));
}

/**
 * A masked PAN shows at most the first 6 and last 4 digits; anything that looks like more is
 * refused, so a full card number can never reach the journal through this door.
 */
function requireMaskedPan(v: unknown): asserts v is string {
  if (typeof v !== 'string' || !/^\d{0,6}[*Xx•]+\d{0,4}$/.test(v) || (v.match(/\d/g) ?? []).length > 10) {
    throw new Error('journal: maskedPan must show at most the first 6 and last 4 digits, the rest masked');
  }
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

function toEvent(r: EventRecord): JournalEvent {
  return { seq: r.seq, txnId: r.txn_id, type: r.type, data: JSON.parse(r.data) as Record<string, unknown>, at: r.at };
}

function toOutbox(r: OutboxRecord): OutboxRow {
  return {
    seq: r.seq,
    messageId: r.message_id,
    txnId: r.txn_id,
    kind: r.kind,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    createdAt: r.created_at,
    attempts: r.attempts,
    lastAttemptAt: r.last_attempt_at,
    lastError: r.last_error,
    ackedAt: r.acked_at,
    serverRef: r.server_ref,
  };
}
