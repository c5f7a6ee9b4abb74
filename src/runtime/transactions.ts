import { v7 as uuidv7 } from 'uuid';
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate';
import type { DeviceStatus } from '../../drivers/types.js';
import { stateName } from '../../states/state-name.js';
import { capabilities, offeredServices, type terminalMachine } from '../../states/terminal.js';
import {
  isAcceptingCash,
  transactionMachine,
  type AcceptCashInput,
  type AcceptCashUpdate,
  type CloseInput,
  type LookupInput,
  type LookupResult,
  type PayChangeInput,
  type PayChangeOutput,
  type SettleInput,
  type TransactionEvent,
} from '../../states/transaction.js';
import type { Config } from '../config/schema.js';
import type { ControlResponse } from '../control/protocol.js';
import { newClaimCode } from '../domain/claim-code.js';
import type { ActiveTxn, TransactionDesk } from '../desk/desk.js';
import type { Service } from '../domain/service.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { BusinessAdapter } from '../uplink/index.js';
import type { CardPayments } from './cards.js';
import type { MobilePayments } from './mobile.js';
import type { CoinFlow } from './coins.js';
import type { Devices } from './devices.js';
import { isDown } from './health.js';
import type { NoteFlow } from './notes.js';
import type { ChangePayer } from './payout.js';
import type { ReceiptService } from './receipts.js';
import type { SlipService } from './slips.js';

/** How long a stop lets a settlement, payout or receipt under way finish (within TimeoutStopSec=90). */
const STOP_EFFECTS_MS = 60_000;

export interface TransactionsDeps {
  config: Config;
  journal: Journal;
  devices: Devices;
  terminal: Actor<typeof terminalMachine>;
  business: BusinessAdapter;
  notes: NoteFlow;
  coins: CoinFlow;
  payer: ChangePayer;
  receipts: ReceiptService;
  slips: SlipService;
  cards: CardPayments;
  mobile: MobilePayments;
  forwardNow: () => void;
  /** The running transaction's machine changed (the screen follows it). */
  changed: () => void;
  /** The running transaction ended, one way or another. */
  ended: () => void;
  log: Logger;
}

/**
 * One customer transaction at a time: starts the machine with what the terminal can offer now,
 * plugs the real effects into it, and passes the customer's events on. Implements the desk port
 * the control socket and the screen use.
 */
export class Transactions implements TransactionDesk {
  private current: ActiveTxn | null = null;
  private lastTxnId: string | null = null;
  /** The validator has been told to accept notes for the running transaction. */
  private acceptingNotes = false;
  private stopping = false;

  constructor(private readonly d: TransactionsDeps) {}

  active(): ActiveTxn | null {
    return this.current;
  }

  lastId(): string | null {
    return this.lastTxnId;
  }

  accepting(): boolean {
    return this.acceptingNotes;
  }

  start(service: Service): string {
    const { config, journal, devices, log } = this.d;
    if (this.stopping) throw new Error('the kiosk is stopping');
    if (this.current) throw new Error(`a transaction is already running (${this.current.id})`);
    const snap = this.d.terminal.getSnapshot();
    const caps = capabilities(snap.context);
    const offlineTopup = service === 'topup' && caps.cash && !caps.online;
    // What the devices and the link could do is not enough: out of service (an engineer, a remote
    // command, a failed boot) or still booting, nothing is offered to a customer.
    const offered = offeredServices(snap);
    if (!offered.includes(service)) {
      throw new Error(`service '${service}' is not available now (terminal ${stateName(snap.value)}; available: ${offered.join(', ') || 'none'})`);
    }
    const id = uuidv7();
    journal.startTransaction(id, service);
    const actor = createActor(this.machineFor(id), {
      input: {
        id,
        service,
        limits: config.limits,
        timeouts: config.timeouts,
        offline: offlineTopup,
        denominations: devices.validator.denominations().map((n) => n.value),
        coins: caps.coins && devices.coinAcceptor ? devices.coinAcceptor.coins().map((c) => c.value) : [],
        change: caps.change ? this.d.payer.supply() : [],
        receipt: caps.receipt,
        card: caps.card,
        mobile: service === 'pay' ? this.d.mobile.offered(caps.online) : [],
      },
    });
    const a: ActiveTxn = { id, actor, cancelWhenResolved: false };
    this.current = a;
    let lastState = '';
    actor.subscribe({
      next: (s) => {
        const state = stateName(s.value);
        if (state !== lastState) {
          lastState = state;
          const c = s.context;
          log.info({ txn: id, state, amountDue: c.amountDue, credited: c.credited, error: c.error }, `transaction ${state}`);
        }
        if (s.status === 'done') this.transactionEnded(a);
        this.d.changed();
      },
      error: (e) => {
        log.error({ txn: id, err: (e as Error).message }, 'transaction machine failed; recovery will close it');
        this.transactionEnded(a);
        this.d.changed();
      },
    });
    actor.start();
    log.info({ txn: id, service, offline: offlineTopup }, 'transaction started');
    return id;
  }

  customer(event: TransactionEvent): ControlResponse {
    const { journal } = this.d;
    const a = this.current;
    if (!a) return { ok: false, error: 'no transaction is running' };
    if (event.type === 'CANCEL' && isAcceptingCash(a.actor.getSnapshot()) && journal.pendingEscrow(a.id)) {
      a.cancelWhenResolved = true;
      this.d.notes.once('note-resolved', () => a.actor.send({ type: 'CANCEL' }));
      return { ok: true, deferred: 'a note is in escrow; cancelling once it is stacked or returned' };
    }
    if (event.type === 'TOPUP_OFFLINE') {
      const phone = a.actor.getSnapshot().context.phone;
      if (phone) journal.recordLookup(a.id, { phone, amountDue: null, offline: true });
    }
    a.actor.send(event);
    const after = a.actor.getSnapshot();
    if (event.type === 'NUMBER' && after.context.offline && after.matches('cash') && after.context.phone) {
      // An offline top-up goes straight from the number to the cash: no look-up journals the phone,
      // and without it the payment could never be posted.
      journal.recordLookup(a.id, { phone: after.context.phone, amountDue: null, offline: true });
    }
    return { ok: true };
  }

  /**
   * The terminal left service. A transaction that has taken no money yet is cancelled, so that
   * no device is enabled for it while out of service; one that holds money finishes (its customer
   * may still complete the payment, and the change and receipt are owed to them).
   */
  leftService(): void {
    const a = this.current;
    if (!a) return;
    const snap = a.actor.getSnapshot();
    const waiting = (['number', 'lookup', 'lookupFailed', 'review', 'cash'] as const).some((w) => snap.matches(w));
    if (!waiting || snap.context.credited > 0 || snap.context.cardIn > 0 || snap.context.mobileIn > 0) return;
    if (!snap.can({ type: 'CANCEL' })) return;
    this.d.log.info({ txn: a.id }, 'out of service: the transaction that took no money is cancelled');
    this.customer({ type: 'CANCEL' });
  }

  /** The validator's health changed: a customer feeding notes is told at once when it went down. */
  validatorHealth(s: DeviceStatus): void {
    const a = this.current;
    if (isDown(s) && a && isAcceptingCash(a.actor.getSnapshot())) {
      a.actor.send({ type: 'CASH_UNAVAILABLE', reason: s.code });
    }
  }

  /**
   * The first half of a graceful stop: no new transaction, no more cash; a note already on its way
   * to the stacker is waited for, and a settlement, payout or receipt under way is let finish
   * (bounded). Whatever is still open afterwards is parked for recovery at the next start.
   */
  async park(): Promise<void> {
    this.stopping = true;
    const { journal, devices, log } = this.d;
    const a = this.current;
    if (!a) return;
    log.info({ txn: a.id }, 'stopping with a transaction running: no more cash is taken');
    await devices.validator.disable().catch((e: Error) => log.error({ err: e.message }, 'could not disable the validator'));
    await devices.coinAcceptor?.disable().catch((e: Error) => log.error({ err: e.message }, 'could not disable the coin acceptor'));
    await this.d.notes.settled(a.id);
    // Where the customer still had a say (number, look-up, review, cash) the transaction is
    // parked; once its effects have started (settling, change, receipt) they run to the end.
    // A wallet waiting for the customer's code has sent nothing yet: parked like the review. Once a
    // code or an order is out, its answer, the queries or the revoke run to the end.
    const waiting = ['number', 'lookup', 'lookupFailed', 'review', 'cash'] as const;
    const busy = (snap: ReturnType<typeof a.actor.getSnapshot>) =>
      snap.status === 'active' && !waiting.some((w) => snap.matches(w)) && !(snap.matches({ mobile: 'scanning' }) && snap.context.paymentId === null);
    if (busy(a.actor.getSnapshot())) {
      log.info({ txn: a.id }, 'stopping: letting the running settlement, payout or receipt finish');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          sub.unsubscribe();
          resolve();
        }, STOP_EFFECTS_MS);
        const sub = a.actor.subscribe((snap) => {
          if (busy(snap)) return;
          clearTimeout(timer);
          sub.unsubscribe();
          resolve();
        });
      });
    }
    const txn = journal.transaction(a.id);
    if (txn?.status === 'open') log.warn({ txn: a.id, cashIn: txn.cashIn }, 'transaction parked: recovery closes it at the next start');
  }

  /** Stops the running transaction's machine; its journal record stays as it is. */
  stop(): void {
    this.current?.actor.stop();
  }

  private machineFor(id: string) {
    const { journal, devices, business, payer, receipts, cards, mobile, log } = this.d;
    return transactionMachine.provide({
      actors: {
        lookup: fromPromise<LookupResult, LookupInput>(async ({ input }) => {
          try {
            const r = await business.lookup(input.phone);
            journal.recordLookup(id, { phone: input.phone, amountDue: r.amountDue, ...(r.holder ? { holder: r.holder } : {}) });
            return r.holder ? { amountDue: r.amountDue, holder: r.holder } : { amountDue: r.amountDue };
          } catch (e) {
            journal.append(id, 'txn.lookup-failed', { error: (e as Error).message });
            throw e;
          }
        }),
        acceptCash: fromCallback<AcceptCashUpdate, AcceptCashInput>(({ input, receive, sendBack }) => {
          // A validator already down when the customer chose cash sends no change of status that
          // would end the wait: without this the customer would stand there until the cash time-out.
          const now = devices.validator.status();
          if (isDown(now)) {
            sendBack({ type: 'CASH_UNAVAILABLE', reason: now.code });
            return () => undefined;
          }
          let open = true;
          const coins = devices.coinAcceptor;
          const enable = (notes: number[], coinValues: number[]) => {
            devices.validator.enable(notes).then(
              () => (this.acceptingNotes = open),
              (e: Error) => log.error({ err: e.message }, 'could not enable the validator'),
            );
            if (coins && coinValues.length > 0) {
              coins.enable(coinValues).catch((e: Error) => log.error({ err: e.message }, 'could not enable the coin acceptor'));
            } else if (coins) {
              coins.disable().catch(() => undefined);
            }
          };
          enable(input.accept, input.coins);
          receive((update) => enable(update.accept, update.coins));
          return () => {
            open = false;
            this.acceptingNotes = false;
            devices.validator.disable().catch((e: Error) => log.error({ err: e.message }, 'could not disable the validator'));
            coins?.disable().catch((e: Error) => log.error({ err: e.message }, 'could not disable the coin acceptor'));
          };
        }),
        settle: fromPromise<unknown, SettleInput>(({ input }) => this.close(input.id, input.endReason, input.changeDue)),
        payChange: fromPromise<PayChangeOutput, PayChangeInput>(async ({ input }) => {
          const r = await payer.pay(input.id, input.amount);
          this.settleOwedChange(input.id);
          return r;
        }),
        authoriseCard: cards.actor(),
        startMobile: mobile.startActor(),
        queryMobile: mobile.queryActor(),
        revokeMobile: mobile.revokeActor(),
        printReceipt: fromPromise<unknown, { id: string }>(({ input }) => receipts.print(input.id)),
        cancel: fromPromise<unknown, CloseInput>(({ input }) => this.close(input.id, input.endReason)),
        finish: fromPromise<unknown, CloseInput>(({ input }) => this.close(input.id, input.endReason)),
      },
    });
  }

  /**
   * Settles or cancels from what the journal holds, after any note in escrow has been resolved
   * and the coin acceptor's buffer read once more: a note that gets stacked or a coin that was
   * dropped before the decision to close is still credited, never lost.
   */
  private async close(id: string, endReason: string, changeDue = 0): Promise<void> {
    const { journal } = this.d;
    await this.d.coins.closing(id);
    await this.d.notes.resolved(id);
    // A card request whose answer never reached the machine (stop, machine error) is reversed.
    this.d.cards.abandonOpen(id, 'abandoned');
    // So is a wallet request: revoked, never left without an outcome.
    this.d.mobile.abandonOpen(id, 'abandoned');
    const txn = journal.transaction(id);
    if (!txn || txn.status !== 'open') return;
    if (txn.cashIn > 0 || txn.cardIn > 0 || txn.mobileIn > 0 || endReason === 'looked-up') {
      // The machine computed the change from what it saw credited; the journal is the truth, and a
      // late note only ever adds to the credit, never to the change.
      const due = Math.min(changeDue, txn.cashIn);
      journal.settle(id, due > 0 ? { endReason, changeDue: due, claimCode: newClaimCode() } : { endReason });
      this.d.forwardNow();
    } else {
      journal.cancel(id, endReason);
    }
  }

  private transactionEnded(a: ActiveTxn): void {
    const { journal, devices, log } = this.d;
    if (this.current !== a) return;
    this.current = null;
    this.lastTxnId = a.id;
    const txn = journal.transaction(a.id);
    const printed = journal.events(a.id).some((e) => e.type.startsWith('receipt.'));
    if (devices.printer && txn?.status === 'completed' && txn.cashIn + txn.cardIn + txn.mobileIn > 0 && !printed) {
      // The printer was not usable when the customer paid: the screen showed the receipt, and this
      // puts it in the reprint queue for the console.
      journal.receiptFailed(a.id, 'printer not available at the time of payment');
    }
    log.info(
      { txn: a.id, status: txn?.status, endReason: txn?.endReason, credited: txn?.credited, cashIn: txn?.cashIn },
      `transaction ${txn?.status ?? 'ended'}: credited ${txn?.credited ?? 0} fen`,
    );
    // Change the payout left owed is claimed even when the machine did not get that far.
    if (txn?.status === 'completed') this.settleOwedChange(a.id);
    void this.d.slips.issue(a.id).then(() => this.d.changed());
    // A claim written while closing (an unresolved note) goes to the server at once.
    this.d.forwardNow();
    this.d.ended();
  }

  /** The change a payout left owed becomes a claim, or a credit to the account (`change.owed`). */
  private settleOwedChange(id: string): void {
    const claim = this.d.journal.settleOwedChange(id, this.d.config.change.owed);
    if (!claim) return;
    this.d.log.warn({ txn: id, claim: claim.id, amount: claim.amount, status: claim.status }, 'change owed: a claim is sent');
    this.d.forwardNow();
  }
}
