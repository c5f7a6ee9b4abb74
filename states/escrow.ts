/**
 * The escrow rule: whether a note (or coin) the customer offers is taken now. Pure; the
 * transaction machine asks it before enabling the validator and when a note is held in escrow.
 */
import type { Service } from '../src/domain/service.js';
import { makeChange, type HopperSupply } from './change.js';

export interface TransactionLimits {
  /** Largest single note accepted. */
  maxNote: number;
  /** Largest excess over the amount due a payment may take (the excess is credited, not lost). */
  maxOverpay: number;
  /** Largest total one top-up may reach. */
  maxTopup: number;
}

/** What the escrow rule needs to know about the transaction. */
export interface EscrowView {
  service: Service;
  credited: number;
  amountDue: number | null;
  /** Hopper supply when change is paid in coins; absent or null when the excess is credited. */
  change?: readonly HopperSupply[] | null;
}

/**
 * Stack or return a note held in escrow. `accepting` is whether the machine is taking cash right
 * now (see `isAcceptingCash`): a note that arrives at any other moment goes back.
 */
export function escrowDecision(
  ctx: EscrowView,
  noteValue: number,
  limits: TransactionLimits,
  accepting: boolean,
): 'stack' | 'return' {
  if (!accepting) return 'return';
  if (!Number.isSafeInteger(noteValue) || noteValue <= 0) return 'return';
  if (noteValue > limits.maxNote) return 'return';
  if (ctx.service === 'pay') {
    if (ctx.amountDue === null) return 'return';
    if (ctx.credited >= ctx.amountDue) return 'return';
    const excess = ctx.credited + noteValue - ctx.amountDue;
    if (excess > limits.maxOverpay) return 'return';
    // Paying change in coins: only take what the hoppers can give back exactly.
    if (excess > 0 && ctx.change && makeChange(excess, ctx.change) === null) return 'return';
    return 'stack';
  }
  if (ctx.service === 'topup') {
    return ctx.credited + noteValue > limits.maxTopup ? 'return' : 'stack';
  }
  return 'return';
}

/** The face values escrowDecision would stack now while taking cash, ascending, without repeats. */
export function acceptableNotes(
  ctx: EscrowView,
  limits: TransactionLimits,
  denominations: readonly number[],
): number[] {
  return [...new Set(denominations)]
    .filter((value) => escrowDecision(ctx, value, limits, true) === 'stack')
    .sort((a, b) => a - b);
}
