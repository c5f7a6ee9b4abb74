/**
 * Change making: which coins to pay from which hoppers. Pure. Amounts in fen, levels in coins.
 * The levels are the journal's estimates, so callers keep a reserve below them: a plan never
 * promises coins that may not be there.
 */

export interface HopperSupply {
  name: string;
  coinValue: number;
  /** Coins that may be paid from this hopper now (estimated level minus the reserve; 0 if faulty). */
  available: number;
}

export interface ChangeItem {
  hopper: string;
  coinValue: number;
  count: number;
}

/** Largest count one dispense command can carry (ccTalk header 167 takes one byte). */
export const MAX_COINS_PER_DISPENSE = 255;

/**
 * The plan that pays exactly `amount` with the fewest coins, or null when no combination of the
 * available coins makes it. Bounded change-making by dynamic programming: greedy is not enough once
 * hopper levels are limited (e.g. 60 from 50s and 20s with only one 50 left... needs three 20s).
 */
export function makeChange(amount: number, hoppers: readonly HopperSupply[]): ChangeItem[] | null {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new Error(`change amount must be whole fen >= 0, got ${amount}`);
  if (amount === 0) return [];
  const usable = hoppers.filter((h) => h.available > 0 && h.coinValue > 0 && Number.isSafeInteger(h.coinValue));
  if (usable.length === 0) return null;
  const unit = usable.reduce((g, h) => gcd(g, h.coinValue), 0);
  if (amount % unit !== 0) return null;
  const target = amount / unit;
  const INF = Number.MAX_SAFE_INTEGER;
  // best[a]: fewest coins for a×unit; take[i][a]: coins of hopper i used in that best solution.
  let best: number[] = new Array<number>(target + 1).fill(INF);
  best[0] = 0;
  const take: Uint16Array[] = [];
  for (const h of usable) {
    const step = h.coinValue / unit;
    const limit = Math.min(h.available, Math.floor(target / step));
    const next = new Array<number>(target + 1).fill(INF);
    const used = new Uint16Array(target + 1);
    for (let a = 0; a <= target; a++) {
      for (let k = 0; k <= limit && k * step <= a; k++) {
        const prev = best[a - k * step]!;
        if (prev !== INF && prev + k < next[a]!) {
          next[a] = prev + k;
          used[a] = k;
        }
      }
    }
    best = next;
    take.push(used);
  }
  if (best[target] === INF) return null;
  const plan: ChangeItem[] = [];
  let rest = target;
  for (let i = usable.length - 1; i >= 0; i--) {
    const h = usable[i]!;
    const k = take[i]![rest]!;
    rest -= k * (h.coinValue / unit);
    if (k > 0) plan.push({ hopper: h.name, coinValue: h.coinValue, count: k });
  }
  // Largest coins first: that is the order a customer expects them to drop.
  return plan.sort((a, b) => b.coinValue - a.coinValue);
}

/** Splits a plan item into dispense commands the hopper can take. */
export function dispenseCommands(item: ChangeItem): number[] {
  const out: number[] = [];
  for (let left = item.count; left > 0; left -= MAX_COINS_PER_DISPENSE) out.push(Math.min(left, MAX_COINS_PER_DISPENSE));
  return out;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
