import { SIM_HOPPERS } from '../stack.js';

/** What the devices did while one session step was the current one, in fen, from the emulators' own reports. */
export interface WindowMoney {
  /** Notes that went into the validator's cash box (with or without VEND VALID). */
  stacked: number;
  /** Notes handed back to the customer: returned from escrow or rejected. */
  returned: number;
  /** Notes a fault destroyed in the note path. */
  lost: number;
  /** Coins the coin acceptor took into its box. */
  coins: number;
  /** Coins it rejected: back in the customer's hand. */
  coinsBack: number;
  /** Coins the hoppers dropped as change. */
  paidOut: number;
}

const NOTE_IN_BOX = /^stacked (\d+) fen/;
/**
 * CCNET puts the note in the box before its host acknowledges the bill stacked event (its later
 * `stacked N fen` reports the acknowledgement); eSSP keeps a credited note in the box when a fault
 * stops the path. Both are in the box from these lines on.
 */
const NOTE_IN_BOX_UNACKED = /^in the cash box: (\d+) fen \(bill stacked/;
const EVENT_DROPPED = /bill stacked event for (\d+) fen (?:was never acknowledged|is dropped)/;
const NOTE_KEPT = /: (\d+) fen note already credited, kept in the cash box$/;
const NOTE_BACK = /^(?:returned|gave back rejected) (\d+) fen/;
const NOTE_LOST = /: (\d+) fen note lost in the path$/;
const COIN_IN = /^coin (\d+) fen accepted/;
const COIN_BACK = /^coin (\d+) fen rejected/;
const HOPPER_COIN = /^paid coin \d+\/\d+/;

/**
 * The emulators' report lines, each filed under the session step that was current when it came.
 * A step's window runs from its start to the start of the next one, so what a restart after a
 * kill settles (a note the reset stacks or returns, a payout the hopper finishes alone) is filed
 * with the step it belongs to.
 */
export class Ledger {
  private readonly windows: WindowMoney[] = [];
  /** CCNET notes counted into the box whose acknowledgement (`stacked N fen`) is still to come. */
  private readonly unacked: number[] = [];
  current = 0;

  line(device: string, line: string): void {
    const w = (this.windows[this.current] ??= { stacked: 0, returned: 0, lost: 0, coins: 0, coinsBack: 0, paidOut: 0 });
    const fen = (re: RegExp) => Number(re.exec(line)?.[1] ?? 0);
    if (device === 'validator') {
      const inBox = fen(NOTE_IN_BOX_UNACKED);
      if (inBox > 0) this.unacked.push(inBox);
      const dropped = this.unacked.indexOf(fen(EVENT_DROPPED));
      if (dropped >= 0) this.unacked.splice(dropped, 1);
      const acked = fen(NOTE_IN_BOX);
      const known = this.unacked.indexOf(acked);
      // The acknowledgement of a note already counted; a reset or fault that drops the event leaves it counted.
      if (acked > 0 && known >= 0 && line === `stacked ${acked} fen`) this.unacked.splice(known, 1);
      else w.stacked += acked;
      w.stacked += inBox + fen(NOTE_KEPT);
      w.returned += fen(NOTE_BACK);
      w.lost += fen(NOTE_LOST);
    } else if (device === 'coin') {
      w.coins += fen(COIN_IN);
      w.coinsBack += fen(COIN_BACK);
    } else if (HOPPER_COIN.test(line)) {
      w.paidOut += SIM_HOPPERS.find((h) => h.name === device)?.coinValue ?? 0;
    }
  }

  window(step: number): WindowMoney {
    return this.windows[step] ?? { stacked: 0, returned: 0, lost: 0, coins: 0, coinsBack: 0, paidOut: 0 };
  }
}
