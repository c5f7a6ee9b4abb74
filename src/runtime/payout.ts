import { nextHopperEvent, type CoinHopper, type HopperStatus } from '../../drivers/types.js';
import { dispenseCommands, makeChange, type HopperSupply } from '../../states/change.js';
import type { Journal, PayoutRow } from '../journal/index.js';
import type { Logger } from '../log.js';


/**
 * Pays change from the hoppers, journal first: every dispense is journalled as intended (with the
 * hopper's event counter) before the command goes out, and its outcome comes from the hopper's own
 * counters. What cannot be paid stays owed in the journal.
 */
export class ChangePayer {
  constructor(
    private readonly journal: Journal,
    private readonly hoppers: ReadonlyMap<string, CoinHopper>,
    /** Coins kept back below each hopper's estimated level, so a plan never promises coins that may be missing. */
    private readonly reserve: number,
    private readonly log: Logger,
  ) {}

  /** What each usable hopper may pay now. */
  supply(exclude: ReadonlySet<string> = new Set()): HopperSupply[] {
    const levels = new Map(this.journal.hopperLevels().map((h) => [h.name, h.level]));
    const out: HopperSupply[] = [];
    for (const [name, hopper] of this.hoppers) {
      const health = hopper.status().health;
      const usable = (health === 'ok' || health === 'degraded') && !exclude.has(name);
      out.push({ name, coinValue: hopper.coinValue, available: usable ? Math.max(0, (levels.get(name) ?? 0) - this.reserve) : 0 });
    }
    return out;
  }

  /** Pays `amount` fen for a settled transaction; resolves with what was paid and what stays owed. */
  async pay(txnId: string, amount: number): Promise<{ paid: number; owed: number }> {
    let owed = amount;
    let paid = 0;
    const failed = new Set<string>();
    let undecided = false;
    // A hopper that comes up short is left out and the rest is planned again over the others.
    for (let round = 0; owed > 0 && !undecided && round <= this.hoppers.size; round++) {
      const plan = makeChange(owed, this.supply(failed));
      if (!plan) break;
      const before = failed.size;
      for (const item of plan) {
        const hopper = this.hoppers.get(item.hopper)!;
        for (const count of dispenseCommands(item)) {
          const r = await this.dispense(txnId, hopper, count);
          paid += r.paid * hopper.coinValue;
          owed -= r.paid * hopper.coinValue;
          // A payout whose outcome is not known yet stays open in the journal: paying more now
          // could pay twice, so the rest waits for recovery to read the hopper's counters.
          undecided = r.undecided;
          if (r.unpaid > 0 || undecided) {
            failed.add(hopper.name);
            break;
          }
        }
        if (failed.has(item.hopper)) break;
      }
      if (failed.size === before) break;
    }
    if (owed > 0) this.log.warn({ txn: txnId, paid, owed }, 'change could not be paid in full: owed with a claim code');
    return { paid, owed };
  }

  private async dispense(txnId: string, hopper: CoinHopper, count: number): Promise<Outcome> {
    const before = await hopper.readStatus();
    const seq = this.journal.payoutIntended(txnId, { hopper: hopper.name, coinValue: hopper.coinValue, count, eventBefore: before.event });
    this.log.info({ txn: txnId, hopper: hopper.name, count, event: before.event }, 'payout intended');
    let event: number;
    try {
      ({ event } = await hopper.dispense(count));
    } catch (e) {
      this.log.error({ txn: txnId, hopper: hopper.name, err: (e as Error).message }, 'dispense not confirmed; settling from the hopper counters');
      return this.settleFromCounters(seq, hopper, before.event, count, null);
    }
    this.journal.payoutStarted(seq, { event });
    try {
      const r = await hopper.awaitPayout(event);
      this.journal.payoutDone(seq, { ...r, via: 'hopper' });
      this.log.info({ txn: txnId, hopper: hopper.name, ...r }, 'payout done');
      return { ...r, undecided: false };
    } catch (e) {
      this.log.error({ txn: txnId, hopper: hopper.name, err: (e as Error).message }, 'payout did not finish; settling from the hopper counters');
      return this.settleFromCounters(seq, hopper, before.event, count, event);
    }
  }

  /**
   * Decides a payout whose outcome we did not see, from the hopper's counters (after an error, or
   * after a crash). Never re-sends a dispense: coins not known to be paid stay owed.
   */
  private async settleFromCounters(
    seq: number,
    hopper: CoinHopper,
    eventBefore: number,
    count: number,
    eventSeen: number | null,
  ): Promise<Outcome> {
    // The hopper does not answer: the payout stays open; recovery decides when it is back.
    const open: Outcome = { paid: 0, unpaid: 0, undecided: true };
    let st: HopperStatus;
    try {
      st = await hopper.readStatus();
    } catch {
      return open;
    }
    const decision = decidePayout(st, eventBefore, count, eventSeen);
    if (decision.wait !== null) {
      try {
        const r = await hopper.awaitPayout(decision.wait);
        this.journal.payoutDone(seq, { ...r, via: 'hopper counters' });
        return { ...r, undecided: false };
      } catch {
        return open;
      }
    }
    this.journal.payoutDone(seq, { paid: decision.paid, unpaid: decision.unpaid, via: decision.via });
    return { paid: decision.paid, unpaid: decision.unpaid, undecided: false };
  }

  /** After a restart: ends every payout that was intended but not journalled as done. */
  async recoverPending(): Promise<{ payout: number; decided: boolean }[]> {
    const results: { payout: number; decided: boolean }[] = [];
    for (const p of this.journal.pendingPayouts()) {
      const hopper = this.hoppers.get(p.hopper);
      if (!hopper) {
        this.log.error({ payout: p.seq, hopper: p.hopper }, 'a pending payout names a hopper that is not configured; left open');
        results.push({ payout: p.seq, decided: false });
        continue;
      }
      const r = await this.settleFromCounters(p.seq, hopper, p.eventBefore, p.count, p.event ?? null);
      const decided = !r.undecided;
      this.log.warn({ payout: p.seq, txn: p.txnId, hopper: p.hopper, ...r, decided }, 'payout recovered from the hopper counters');
      results.push({ payout: p.seq, decided });
    }
    return results;
  }
}

interface Outcome {
  paid: number;
  unpaid: number;
  /** The hopper could not tell what happened; the payout is still open in the journal. */
  undecided: boolean;
}

/** How a payout is decided when the hopper's counter proves the dispense never reached it. */
export const NOT_DISPENSED = 'dispense not accepted';

export type PayoutDecision =
  | { wait: number; paid: 0; unpaid: 0; via: string }
  | { wait: null; paid: number; unpaid: number; via: string };

/**
 * What the hopper's counters say about a payout of `count` coins journalled with `eventBefore`
 * (and `eventSeen`, the counter the dispense answered with, when it did).
 */
export function decidePayout(st: HopperStatus, eventBefore: number, count: number, eventSeen: number | null): PayoutDecision {
  const ours = eventSeen ?? nextHopperEvent(eventBefore);
  if (st.event === ours) {
    if (st.remaining > 0) return { wait: ours, paid: 0, unpaid: 0, via: 'hopper counters' };
    return { wait: null, paid: Math.min(st.paid, count), unpaid: Math.min(st.unpaid, count - Math.min(st.paid, count)), via: 'hopper counters' };
  }
  if (st.event === eventBefore && eventSeen === null) {
    // The dispense never reached the hopper: nothing was paid, all of it stays owed.
    return { wait: null, paid: 0, unpaid: count, via: NOT_DISPENSED };
  }
  if (st.event === 0) {
    // Power cut: the hopper keeps the last payout's paid/unpaid in EEPROM and never resumes it.
    const paid = Math.min(st.paid, count);
    return { wait: null, paid, unpaid: count - paid, via: 'hopper power-cycled: EEPROM counters' };
  }
  // Another dispense happened since, or the counters make no sense: owe it all and let the cash
  // count settle it. Paying again could pay twice.
  return { wait: null, paid: 0, unpaid: count, via: `unknown outcome (hopper event ${st.event}, journalled ${eventBefore})` };
}

export type { PayoutRow };
