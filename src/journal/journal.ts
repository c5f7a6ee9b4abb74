import type { Coin, Note } from '../../drivers/types.js';
import { CashBox, type CashCollection } from './cashbox.js';
import { CashIn, type CountedCash } from './cash-in.js';
import { checkChain, requireKey, type ChainResult } from './chain.js';
import { QuietCheckpoint, type QuietCheckpointOptions } from './checkpoint.js';
import { ChainHeads, type AcknowledgedHead, type HeadRef, type RollbackMark } from './chain-heads.js';
import { Cards, type CardApproval, type CardAttempt, type CardRequest, type CardUnknownOutcome, type TerminalReversalRow } from './cards.js';
import { Change, type HopperLevel, type PayoutRow } from './change.js';
import { Claims, type ClaimRow, type OwedChangePolicy } from './claims.js';
import { faultFacts, type FaultFacts } from './fault-slip.js';
import { isOwnedType, type AppendType, type EventPayloads, type EventType, type JournalEvent, type TypedEvent } from './events.js';
import { Ledger, type CommitObserver, type Service, type TxnRow } from './ledger.js';
import { ManagementTables, type ManagementStore } from './management-tables.js';
import { Mobile, MOBILE_REVOKE_KIND } from './mobile.js';
import { latestVersion } from './migrations.js';
import { Outbox, type OutboxRow, type ReversalMessage, type SendResult } from './outbox.js';
import { Receipts } from './receipts.js';
import { Slips } from './slips.js';
import { openDatabase, openDatabaseReadOnly } from './store.js';
import { Transactions, type LookupInfo } from './transactions.js';
import { requireText, toJson } from './validate.js';
import { MoneyCheck } from './verify-money.js';
import { recordProblems } from './verify-records.js';

export interface JournalOptions {
  /** The terminal secret keying the hash chain (32 bytes, from loadOrCreateKey). */
  key: Buffer;
  /**
   * Told of the events of each write right after it committed (never of a write rolled back), so
   * that whatever it does finds them on disk. The crash tests arm a SIGKILL here.
   */
  onCommit?: CommitObserver;
  now?: () => Date;
  /** WAL checkpoints at quiet moments rather than inside a commit (the runtime; see checkpoint.ts). */
  quietCheckpoint?: boolean | QuietCheckpointOptions;
}

/** What the outbox forwarder needs of the journal (see src/uplink/forwarder.ts). */
export type OutboxReader = Pick<Journal, 'outboxPending' | 'outboxStats' | 'outboxOldestPendingAt' | 'markSent' | 'markSentAll'>;

/**
 * The kiosk's durable record of money. Journal first, then act: every method returns only after
 * its SQLite transaction committed (synchronous=FULL), so the caller may then tell a device or
 * the customer to go on. Each money method writes its event and its state change atomically.
 *
 * This class only composes the store and one module per concern; callers that need one concern
 * may depend on a narrow view of it (OutboxReader, ManagementStore).
 */
export class Journal {
  readonly path: string;
  /** The management link's alarms, remote commands and event extracts. */
  readonly management: ManagementStore;
  /** Mobile wallet payments (mobile.ts): request, credit point, failure, revoke. */
  readonly mobile: Mobile;
  private readonly ledger: Ledger;
  private readonly key: Buffer;
  private readonly txns: Transactions;
  private readonly cashIn: CashIn;
  private readonly change: Change;
  private readonly box: CashBox;
  private readonly receipts: Receipts;
  private readonly slips: Slips;
  private readonly claims: Claims;
  private readonly cards: Cards;
  private readonly outbox: Outbox;
  private readonly money: MoneyCheck;
  private readonly heads: ChainHeads;

  /**
   * Opens (creating and migrating as needed) the journal for writing. A wrong key is not refused
   * here: the journal goes on chaining with it, and verifyChain() with the right key reports the
   * first event it wrote. Older events are never re-chained.
   */
  static open(path: string, opts: JournalOptions): Journal {
    // Plain-JS callers may leave the options out; say what is missing rather than crash on it.
    requireKey((opts as JournalOptions | undefined)?.key);
    const db = openDatabase(path, { key: opts.key });
    const ledger = new Ledger(db, opts.key, opts.now ?? (() => new Date()), opts.onCommit);
    if (opts.quietCheckpoint) ledger.checkpoint = new QuietCheckpoint(db, opts.quietCheckpoint === true ? {} : opts.quietCheckpoint);
    return new Journal(ledger, opts.key);
  }

  /** Opens an existing journal of the current schema for reading and verifying only. */
  static openReadOnly(path: string, opts: { key: Buffer }): Journal {
    requireKey(opts.key);
    return new Journal(new Ledger(openDatabaseReadOnly(path, latestVersion), opts.key, () => new Date()), opts.key);
  }

  private constructor(ledger: Ledger, key: Buffer) {
    this.ledger = ledger;
    this.path = ledger.db.name;
    this.key = key;
    this.outbox = new Outbox(ledger);
    this.txns = new Transactions(ledger, this.outbox);
    this.cashIn = new CashIn(ledger);
    this.change = new Change(ledger);
    this.claims = new Claims(ledger, this.outbox);
    this.box = new CashBox(ledger, this.claims);
    this.receipts = new Receipts(ledger);
    this.slips = new Slips(ledger);
    this.cards = new Cards(ledger, this.outbox);
    this.mobile = new Mobile(ledger, this.outbox);
    this.outbox.onAck(MOBILE_REVOKE_KIND, (txnId, payload, serverRef, at) => this.mobile.revokeAcknowledged(txnId, payload, serverRef, at));
    this.money = new MoneyCheck(ledger);
    this.management = new ManagementTables(ledger);
    this.heads = new ChainHeads(ledger);
  }

  /** The schema version of the journal file (its migrations applied). */
  schemaVersion(): number {
    return this.ledger.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    this.ledger.checkpoint?.stop();
    this.ledger.db.close();
  }

  // ------------------------------------------------------------------ transactions

  startTransaction(id: string, service: Service): TxnRow {
    return this.txns.start(id, service);
  }
  recordLookup(id: string, info: LookupInfo): void {
    this.txns.lookup(id, info);
  }
  settle(id: string, s: { endReason: string; changeDue?: number; claimCode?: string }): TxnRow {
    return this.txns.settle(id, s);
  }
  cancel(id: string, reason: string): TxnRow {
    return this.txns.cancel(id, reason);
  }
  transaction(id: string): TxnRow | undefined {
    return this.ledger.transaction(id);
  }
  openTransactions(): TxnRow[] {
    return this.txns.openTransactions();
  }
  /** Newest first. */
  listTransactions(opts: { limit?: number } = {}): TxnRow[] {
    return this.txns.list(opts);
  }

  // ------------------------------------------------------------------ events

  /** A transaction's events, oldest first, as stored. */
  events(txnId: string): JournalEvent[] {
    this.ledger.mustGet(txnId);
    return this.ledger.events(txnId);
  }

  /** A transaction's events of one type, their data typed and checked against the catalogue. */
  eventsOf<T extends EventType>(txnId: string, type: T): TypedEvent<T>[] {
    this.ledger.mustGet(txnId);
    return this.ledger.eventsOf(txnId, type);
  }

  /** Every event of one type, oldest first, typed and checked. */
  eventsOfType<T extends EventType>(type: T): TypedEvent<T>[] {
    return this.ledger.eventsOfType(type);
  }

  /** The newest event of one type, typed and checked. */
  lastEventOfType<T extends EventType>(type: T): TypedEvent<T> | undefined {
    return this.ledger.lastOfType(type);
  }

  /**
   * Any other fact worth keeping: alarms, device status, recovery decisions, operator actions.
   * Only catalogue types may be written here, and not those a money method owns.
   */
  append<T extends AppendType>(txnId: string | null, type: T, data: EventPayloads[T]): TypedEvent<T> {
    const clean = appendable(type, (data ?? {}) as Record<string, unknown>);
    return this.ledger.write(() => {
      if (txnId !== null) this.ledger.mustGet(txnId);
      return this.ledger.insertRaw(txnId, type, clean, this.ledger.stamp());
    }) as TypedEvent<T>;
  }

  // ------------------------------------------------------------------ cash in

  noteEscrowed(id: string, note: Note): void {
    this.cashIn.noteEscrowed(id, note);
  }
  /** The credit point: the note is in the cash box and counts for this transaction. */
  noteStacked(id: string, note: Note, via?: string): void {
    this.cashIn.noteStacked(id, note, via);
  }
  noteReturned(id: string, note: Note, reason: string): void {
    this.cashIn.noteReturned(id, note, reason);
  }
  coinAccepted(id: string, coin: Coin, counter?: number): void {
    this.cashIn.coinAccepted(id, coin, counter);
  }
  coinCounter(): number | undefined {
    return this.cashIn.coinCounter();
  }
  coinCounterSeen(counter: number): void {
    this.cashIn.coinCounterSeen(counter);
  }
  pendingEscrow(txnId: string): Note | null {
    return this.cashIn.pendingEscrow(txnId);
  }
  lastNoteEvent(): { txnId: string; type: string; note: Note } | null {
    return this.cashIn.lastNoteEvent();
  }
  coinbox(): CountedCash[] {
    return this.cashIn.coinbox();
  }

  // ------------------------------------------------------------------ change and hoppers

  payoutIntended(id: string, p: { hopper: string; coinValue: number; count: number; eventBefore: number }): number {
    return this.change.payoutIntended(id, p);
  }
  payoutStarted(payoutSeq: number, r: { event: number }): void {
    this.change.payoutStarted(payoutSeq, r);
  }
  payoutDone(payoutSeq: number, r: { paid: number; unpaid: number; via: string }): TxnRow {
    return this.change.payoutDone(payoutSeq, r);
  }
  pendingPayouts(): PayoutRow[] {
    return this.change.pendingPayouts();
  }
  payouts(txnId: string): PayoutRow[] {
    return this.change.payouts(txnId);
  }
  setHopperLevel(name: string, coinValue: number, level: number, reason: string): void {
    this.change.setHopperLevel(name, coinValue, level, reason);
  }
  hopperLevels(): HopperLevel[] {
    return this.change.hopperLevels();
  }
  hopperRefilled(name: string, add: number, by: string): number {
    return this.change.hopperRefilled(name, add, by);
  }

  // ------------------------------------------------------------------ cash box

  cashCollected(by: string, counted: Record<number, number>): CashCollection {
    return this.box.collected(by, counted);
  }
  /** The banknotes in the cash box. */
  cashbox(): CountedCash[] {
    return this.box.notes();
  }
  cashboxTotal(): number {
    return this.box.total();
  }

  // ------------------------------------------------------------------ receipts

  receiptPrinted(id: string, r: { reprint?: boolean } = {}): void {
    this.receipts.printed(id, r);
  }
  receiptFailed(id: string, reason: string): void {
    this.receipts.failed(id, reason);
  }
  receiptsToReprint(): string[] {
    return this.receipts.reprints();
  }

  // ------------------------------------------------------------------ claims and fault slips

  /** A note neither stacked nor returned: journalled with its claim (and the claim's message) in one commit. */
  noteUnresolved(txnId: string, value: number, why: string): ClaimRow {
    return this.claims.noteUnresolved(txnId, value, why);
  }
  /** The change still owed after every payout was decided: claimed, or credited to the account (policy). */
  settleOwedChange(txnId: string, policy: OwedChangePolicy): ClaimRow | null {
    return this.claims.settleOwedChange(txnId, policy);
  }
  claimsOf(txnId: string): ClaimRow[] {
    return this.claims.ofTransaction(txnId);
  }
  /** Unresolved notes or owed change without their claim (the crash and soak campaigns' check). */
  claimProblems(): string[] {
    return this.ledger.db.transaction(() => this.claims.problems())();
  }
  /** What the transaction's fault slip says, or null when it ended with nothing owed to the customer. */
  faultSlip(txnId: string): FaultFacts | null {
    return faultFacts(this.ledger.mustGet(txnId), this.ledger.events(txnId));
  }
  slipPrinted(id: string, r: { reprint?: boolean } = {}): void {
    this.slips.printed(id, r);
  }
  slipFailed(id: string, reason: string): void {
    this.slips.failed(id, reason);
  }
  slipsToReprint(): string[] {
    return this.slips.reprints();
  }

  // ------------------------------------------------------------------ cards

  cardRequested(txnId: string, r: CardRequest): void {
    this.cards.requested(txnId, r);
  }
  cardApproved(txnId: string, a: CardApproval): void {
    this.cards.approved(txnId, a);
  }
  cardDeclined(txnId: string, d: { requestId: string; reason: string }): void {
    this.cards.declined(txnId, d);
  }
  cardUnknown(txnId: string, u: { requestId: string; reason: string; receiptNo?: number }): CardUnknownOutcome {
    return this.cards.unknown(txnId, u);
  }
  cardAttempts(txnId: string): CardAttempt[] {
    return this.cards.attempts(txnId);
  }
  pendingTerminalReversals(): TerminalReversalRow[] {
    return this.cards.pendingTerminalReversals();
  }
  terminalReversals(txnId: string): TerminalReversalRow[] {
    return this.cards.terminalReversals(txnId);
  }
  terminalReversalAttempt(
    requestId: string,
    r: { outcome: 'reversed' | 'refused' | 'unknown'; code: string; detail: string },
  ): TerminalReversalRow {
    return this.cards.terminalReversalAttempt(requestId, r);
  }

  // ------------------------------------------------------------------ outbox

  outboxPending(limit: number): OutboxRow[] {
    return this.outbox.pending(limit);
  }
  outboxStats(): { pending: number; oldestPendingAt: string | null; acked: number } {
    return this.outbox.stats();
  }
  outboxOldestPendingAt(kind?: string): string | null {
    return this.outbox.oldestPendingAt(kind);
  }
  markSent(messageId: string, result: SendResult): void {
    this.outbox.markSentAll([{ messageId, result }]);
  }
  markSentAll(deliveries: readonly { messageId: string; result: SendResult }[]): void {
    this.outbox.markSentAll(deliveries);
  }
  queueReversal(txnId: string, r: { reverses: string; amount: number; reason: string }): ReversalMessage {
    return this.outbox.queueReversal(txnId, r);
  }

  // ------------------------------------------------------------------ chain head (rollback detection)

  /** The last event's seq and hash: what the kiosk reports to the servers. */
  chainHead(): HeadRef {
    return this.heads.head();
  }
  /** The hash of the event at `seq`, or undefined when the journal holds no such event. */
  hashAt(seq: number): string | undefined {
    return this.heads.hashAt(seq);
  }
  /** The highest head a server confirmed it saw. */
  acknowledgedHead(): AcknowledgedHead | undefined {
    return this.heads.acknowledged();
  }
  acknowledgeHead(head: HeadRef, server: string): void {
    this.heads.acknowledge(head, server);
  }
  /** A server saw a head this journal does not hold: the durable mark, written into the file in use. */
  recordRollback(server: string, serverHead: HeadRef, reason: string): void {
    this.heads.recordRollback(server, serverHead, reason);
  }
  unresolvedRollback(): RollbackMark | undefined {
    return this.heads.unresolvedRollback();
  }
  acceptedHeads(): (HeadRef & { server: string })[] {
    return this.heads.acceptedHeads();
  }
  acceptRollback(by: string, peer?: { uid: number; user: string; pid: number }): (HeadRef & { server: string })[] {
    return this.heads.acceptRollback(by, peer);
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
    const db = this.ledger.db;
    return db.transaction(() => checkChain(db, this.key))();
  }

  /**
   * Money invariants over the whole journal, without the hash chain, as of one moment: the
   * invariants, the transaction rows against their events, the outbox against its chained digests.
   */
  verifyMoney(): string[] {
    return this.ledger.db.transaction(() => [...this.money.problems(), ...recordProblems(this.ledger), ...this.outbox.problems()])();
  }
}

/** What append() may write: not a money method's type, and a plain object that survives JSON. */
function appendable(type: string, data: Record<string, unknown>): Record<string, unknown> {
  requireText('event type', type);
  if (isOwnedType(type) || OWNED_PREFIXES.some((p) => type.startsWith(p))) {
    throw new Error(`journal: event type "${type}" is written only by its own Journal method, not by append()`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`journal: event data for "${type}" must be a plain object`);
  }
  return JSON.parse(toJson(data, `event "${type}"`)) as Record<string, unknown>;
}

/** Families only the money methods write; plain-JS callers may not invent members of them either. */
const OWNED_PREFIXES = ['payout.', 'receipt.', 'card.', 'claim.', 'slip.', 'change.', 'mobile.'] as const;
