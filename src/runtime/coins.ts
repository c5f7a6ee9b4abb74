import type { Coin, CoinAcceptor } from '../../drivers/types.js';
import { isAcceptingCash } from '../../states/transaction.js';
import { COIN_ACCEPTOR } from '../../states/terminal.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { AlarmSink } from '../alarms/sink.js';
import type { ActiveTxn } from '../desk/desk.js';

/**
 * The coin flow, journal first. Every coin is journalled with the acceptor's event counter, so
 * that after a restart the coins the acceptor took while the runtime was down (it stays enabled)
 * are read from its buffer rather than taken as the baseline. A coin goes to the transaction
 * taking cash, to the one being closed (it was dropped before the inhibit), or at the first
 * start-up to the one the crash left open; any other is recorded as unattributed for the cash
 * count, never credited to a later customer.
 */
export class CoinFlow {
  /** The transaction being settled or cancelled; credited while the journal still has it open. */
  private closingId: string | null = null;
  /** Until the acceptor's first start-up is done: the newest transaction, if the crash left it open. */
  private leftOpen: string | undefined;
  /** The counter the journal holds last. */
  private journalled: number | undefined;

  constructor(
    private readonly journal: Journal,
    private readonly acceptor: CoinAcceptor | undefined,
    private readonly active: () => ActiveTxn | null,
    private readonly alarms: AlarmSink,
    private readonly log: Logger,
  ) {
    if (!acceptor) return;
    this.journalled = journal.coinCounter();
    if (this.journalled !== undefined) acceptor.resumeFrom(this.journalled);
    const newest = journal.listTransactions({ limit: 1 })[0];
    if (newest?.status === 'open') this.leftOpen = newest.id;
    acceptor.on('coin', (coin, { counter }) => this.onCoin(coin, counter));
    acceptor.on('counter', ({ counter }) => this.onCounter(counter));
    acceptor.on('events-lost', ({ count }) => this.onLost(count));
  }

  /**
   * Called as a transaction starts closing, after the acceptor was told to stop: reads its buffer
   * once more so that a coin dropped just before is credited to this transaction before it settles.
   */
  async closing(id: string): Promise<void> {
    this.closingId = id;
    const acceptor = this.acceptor;
    if (!acceptor) return;
    try {
      // Ordered on the bus before the read: the read then sees every coin taken before the inhibit.
      await acceptor.disable();
      await acceptor.drain();
    } catch (e) {
      this.log.error({ txn: id, err: (e as Error).message }, 'could not read the coin acceptor before closing; a late coin is recorded when it is read');
    }
  }

  private onCoin(coin: Coin, counter: number): void {
    this.journalled = counter;
    const a = this.active();
    if (a && isAcceptingCash(a.actor.getSnapshot())) {
      this.journal.coinAccepted(a.id, coin, counter);
      this.log.info({ txn: a.id, value: coin.value, counter }, 'coin accepted and credited');
      a.actor.send({ type: 'COIN_CREDITED', value: coin.value });
      return;
    }
    const owner = this.owner();
    if (owner) {
      this.journal.coinAccepted(owner.id, coin, counter);
      this.log.warn({ txn: owner.id, value: coin.value, counter }, `coin credited to the transaction ${owner.why}`);
      return;
    }
    this.journal.append(null, 'alarm.unattributed-coin', { value: coin.value, currency: coin.currency, counter });
    this.log.error({ value: coin.value, counter }, 'a coin arrived with no transaction taking cash; recorded for the cash count');
  }

  /** A transaction a coin that arrived outside the cash step still belongs to. */
  private owner(): { id: string; why: string } | undefined {
    const open = (id: string | null | undefined): id is string => !!id && this.journal.transaction(id)?.status === 'open';
    if (open(this.closingId)) return { id: this.closingId, why: 'being closed: it was dropped before the inhibit' };
    if (open(this.leftOpen)) return { id: this.leftOpen, why: 'the restart found open: the acceptor took it while the kiosk was down' };
    return undefined;
  }

  private onCounter(counter: number): void {
    // The first start-up is over: whatever the buffer held from before has been reported.
    this.leftOpen = undefined;
    if (counter === this.journalled) return;
    this.journal.coinCounterSeen(counter);
    this.journalled = counter;
  }

  private onLost(count: number): void {
    const txn = this.active()?.id ?? this.owner()?.id ?? null;
    this.journal.append(txn, 'alarm.coin-events-lost', { count });
    this.log.error({ count }, 'the coin acceptor lost events: coins may be missing from the credit');
    this.alarms.raise({
      kind: 'coin-events-lost',
      source: COIN_ACCEPTOR,
      severity: 'critical',
      detail: `${count} coin acceptor event(s) lost${txn ? ` during transaction ${txn}` : ''}: count the coin box`,
    });
  }
}
