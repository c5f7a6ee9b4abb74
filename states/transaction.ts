/**
 * One customer transaction as a pure XState machine. Every effect (server look-up, validator
 * enable/disable, journal settle/cancel) is an injected actor; the runtime plugs the real ones in
 * with `transactionMachine.provide({ actors: { ... } })`. Amounts are integer fen.
 */
import { and, assign, fromCallback, fromPromise, sendTo, setup, type SnapshotFrom } from 'xstate';
import { makeChange, type HopperSupply } from './change.js';

export type Service = 'pay' | 'topup' | 'lookup';

export interface TransactionLimits {
  /** Largest single note accepted. */
  maxNote: number;
  /** Largest excess over the amount due a payment may take (the excess is credited, not lost). */
  maxOverpay: number;
  /** Largest total one top-up may reach. */
  maxTopup: number;
}

export interface TransactionTimeouts {
  /** Customer inactivity on a screen waiting for input. */
  inputMs: number;
  /** Longest wait for the business system's answer. */
  lookupMs: number;
  /** Customer inactivity while the validator is open. */
  cashMs: number;
  /** Card payment: the customer presenting the card or finishing the PIN. Default: cashMs. */
  cardMs?: number;
  /** Card payment: the authorisation itself, once the card data or amount is sent. Default: lookupMs. */
  cardAuthMs?: number;
}

/** How a card is taken: a stripe reader with online authorisation, or a payment terminal. */
export type CardMethod = 'reader' | 'terminal';

/** Face values (fen) the validator knows when the caller does not say: CNY 1, 5, 10, 20, 50, 100. */
export const DEFAULT_DENOMINATIONS: readonly number[] = [100, 500, 1000, 2000, 5000, 10000];

export interface TransactionInput {
  id: string;
  service: Service;
  limits: TransactionLimits;
  timeouts: TransactionTimeouts;
  /** The link is down: a top-up skips the look-up and is stored and forwarded later. */
  offline?: boolean;
  /** Face values (fen) the validator can take, as it reported them; DEFAULT_DENOMINATIONS if absent. */
  denominations?: readonly number[];
  /** Coin values (fen) the coin acceptor can take; none when no acceptor is fitted or it is down. */
  coins?: readonly number[];
  /**
   * What the hoppers can pay as change right now. Empty or absent: no change is offered, and an
   * excess over the amount due is credited to the account (the customer is told before paying).
   */
  change?: readonly HopperSupply[];
  /** A receipt printer is fitted and usable. */
  receipt?: boolean;
  /** Card payment offered for this transaction, and how; null or absent: cash only. */
  card?: CardMethod | null;
}

export type EndReason =
  | 'paid'
  | 'topped-up'
  | 'looked-up'
  | 'customer-cancel'
  | 'customer-cancel-partial'
  | 'timeout'
  | 'timeout-partial'
  | 'device-fault'
  | 'device-fault-partial'
  /** The card authorisation's outcome is not known: reversed, never paid. */
  | 'card-unknown';

export interface TransactionContext {
  id: string;
  service: Service;
  phone: string | null;
  holder: string | null;
  amountDue: number | null;
  credited: number;
  /** Face values of the notes credited, in arrival order. */
  notes: number[];
  offline: boolean;
  endReason: EndReason | null;
  error: string | null;
  limits: TransactionLimits;
  timeouts: TransactionTimeouts;
  denominations: readonly number[];
  coins: readonly number[];
  /** Hopper supply when change is given in coins; null when the excess is credited instead. */
  change: readonly HopperSupply[] | null;
  /** Change to pay, fixed at settlement (fen). */
  changeDue: number;
  changePaid: number;
  /** Change that could not be paid: recorded with a claim code and printed. */
  changeOwed: number;
  receipt: boolean;
  receiptError: string | null;
  card: CardMethod | null;
  /** Paid by card (fen), set when the authorisation is approved. */
  cardIn: number;
  /** What the card screen shows: 'present-card', 'read-error', 'authorising', 'pin', 'please-wait', … */
  cardStage: string | null;
  /** The card as the customer may see it (first 6 / last 4 at most); never the full number. */
  maskedPan: string | null;
  /** Why the card flow is being stopped, once the customer cancelled or a time-out fired. */
  cardStop: CardStop | null;
}

export type CardStop = 'customer' | 'timeout' | 'auth-timeout';

export type TransactionEvent =
  | { type: 'NUMBER'; phone: string }
  | { type: 'CONFIRM' }
  | { type: 'DONE' }
  | { type: 'TOPUP_OFFLINE' }
  | { type: 'CANCEL' }
  | { type: 'ACTIVITY' }
  | { type: 'NOTE_CREDITED'; value: number }
  | { type: 'COIN_CREDITED'; value: number }
  | { type: 'CASH_UNAVAILABLE'; reason: string }
  /** The customer chose to pay the amount due by card (at the review, before any cash). */
  | { type: 'CARD' }
  | CardProgress
  | CardResult;

/** From the authoriseCard actor: what the customer should see now. */
export interface CardProgress {
  type: 'CARD_PROGRESS';
  stage: string;
  maskedPan?: string;
  /** The card or amount has gone to the authoriser: from here the authorisation time-out runs. */
  authorising?: boolean;
}

/**
 * From the authoriseCard actor, once its outcome is journalled. 'declined' and 'unavailable': no
 * money moved; 'cancelled': stopped before anything was sent; 'unknown': a reversal is queued.
 */
export interface CardResult {
  type: 'CARD_RESULT';
  outcome: 'approved' | 'declined' | 'unavailable' | 'cancelled' | 'unknown';
  reason?: string;
}

export type TransactionStatus = 'completed' | 'cancelled' | 'settle-failed';

export interface TransactionOutput {
  id: string;
  status: TransactionStatus;
  endReason: EndReason | null;
  /** Money taken (notes and coins), fen. */
  credited: number;
  changePaid: number;
  changeOwed: number;
  /** Paid by card, fen; present only when a card paid. */
  cardIn?: number;
}

export interface LookupInput {
  phone: string;
}
export interface LookupResult {
  amountDue: number;
  holder?: string;
}

export interface AcceptCashInput {
  /** Face values the escrow rule would stack right now; enable the validator for these. */
  accept: number[];
  /** Coin values that may be taken now (coins cannot be handed back, so only these are enabled). */
  coins: number[];
}
export interface AuthoriseCardInput {
  id: string;
  method: CardMethod;
  /** Exactly the amount due, fen. */
  amount: number;
}
/**
 * Sent to the running authoriseCard actor: stop if you can. Before anything was sent it answers
 * 'cancelled'; a terminal is asked to abort and its answer decides; 'auth-timeout' on the reader
 * path makes the outcome unknown (journalled and reversed) rather than waiting any longer.
 */
export interface StopCard {
  type: 'STOP';
  why: CardStop;
}

/** Sent to the running acceptCash actor after each credit: the sets it may take have changed. */
export interface AcceptCashUpdate {
  type: 'ACCEPT';
  accept: number[];
  coins: number[];
}

export interface SettleInput {
  id: string;
  endReason: EndReason;
  credited: number;
  /** Part of the money taken that goes back as change (fen); 0 when the excess is credited. */
  changeDue: number;
}
export interface PayChangeInput {
  id: string;
  amount: number;
}
export interface PayChangeOutput {
  paid: number;
  owed: number;
}
export interface CloseInput {
  id: string;
  endReason: EndReason;
}

/** What the escrow rule needs to know about the transaction. */
export type EscrowView = Pick<TransactionContext, 'service' | 'credited' | 'amountDue'> & {
  /** Hopper supply when change is paid in coins; absent or null when the excess is credited. */
  change?: readonly HopperSupply[] | null;
};

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

const PHONE = /^1\d{10}$/;

function credit(ctx: TransactionContext, value: number): EscrowView {
  return { service: ctx.service, amountDue: ctx.amountDue, credited: ctx.credited + value, change: ctx.change };
}

function acceptNow(ctx: TransactionContext): number[] {
  return acceptableNotes(ctx, ctx.limits, ctx.denominations);
}

function coinsNow(ctx: TransactionContext): number[] {
  return acceptableNotes(ctx, ctx.limits, ctx.coins);
}

/** The change a settlement pays back: the excess over the amount due when change is in coins. */
function changeDueOf(ctx: TransactionContext): number {
  if (ctx.service !== 'pay' || ctx.change === null || ctx.amountDue === null) return 0;
  return Math.max(0, ctx.credited - ctx.amountDue);
}

// Every state that reaches settling/cancelling/finishing set endReason on the way in.
function ended(ctx: TransactionContext): EndReason {
  if (ctx.endReason === null) throw new Error(`transaction ${ctx.id} closing without an end reason`);
  return ctx.endReason;
}

function outcome(ctx: TransactionContext, status: TransactionStatus): TransactionOutput {
  return {
    id: ctx.id,
    status,
    endReason: ctx.endReason,
    credited: ctx.credited,
    changePaid: ctx.changePaid,
    changeOwed: ctx.changeOwed,
    ...(ctx.cardIn > 0 ? { cardIn: ctx.cardIn } : {}),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const notProvided = (name: string) => () => Promise.reject(new Error(`${name} actor not provided`));

export const transactionMachine = setup({
  types: {
    input: {} as TransactionInput,
    context: {} as TransactionContext,
    events: {} as TransactionEvent,
    output: {} as TransactionOutput,
  },
  actors: {
    lookup: fromPromise<LookupResult, LookupInput>(notProvided('lookup')),
    // Without a real validator behind it the machine must not take money, so the default reports
    // the cash path unavailable at once.
    acceptCash: fromCallback<AcceptCashUpdate, AcceptCashInput>(({ sendBack }) => {
      sendBack({ type: 'CASH_UNAVAILABLE', reason: 'acceptCash actor not provided' });
    }),
    settle: fromPromise<unknown, SettleInput>(notProvided('settle')),
    payChange: fromPromise<PayChangeOutput, PayChangeInput>(notProvided('payChange')),
    // Without a real authoriser nothing can be sent, so nothing is charged.
    authoriseCard: fromCallback<StopCard, AuthoriseCardInput>(({ sendBack }) => {
      sendBack({ type: 'CARD_RESULT', outcome: 'unavailable', reason: 'authoriseCard actor not provided' });
    }),
    printReceipt: fromPromise<unknown, { id: string }>(notProvided('printReceipt')),
    cancel: fromPromise<unknown, CloseInput>(notProvided('cancel')),
    finish: fromPromise<unknown, CloseInput>(notProvided('finish')),
  },
  delays: {
    inputTimeout: ({ context }) => context.timeouts.inputMs,
    lookupTimeout: ({ context }) => context.timeouts.lookupMs,
    cashTimeout: ({ context }) => context.timeouts.cashMs,
    cardTimeout: ({ context }) => context.timeouts.cardMs ?? context.timeouts.cashMs,
    cardAuthTimeout: ({ context }) => context.timeouts.cardAuthMs ?? context.timeouts.lookupMs,
  },
  guards: {
    validPhone: ({ event }) => event.type === 'NUMBER' && PHONE.test(event.phone),
    offlineTopup: ({ context }) => context.service === 'topup' && context.offline,
    isLookupOnly: ({ context }) => context.service === 'lookup',
    canTakeMoney: ({ context }) => context.service !== 'lookup',
    nothingDue: ({ context }) => context.service === 'pay' && context.amountDue === 0,
    nothingCredited: ({ context }) => context.credited === 0,
    cardOffered: ({ context }) =>
      context.card !== null && context.service === 'pay' && context.amountDue !== null && context.amountDue > 0 && context.credited === 0,
    cardApproved: ({ event }) => event.type === 'CARD_RESULT' && event.outcome === 'approved',
    cardUnknown: ({ event }) => event.type === 'CARD_RESULT' && event.outcome === 'unknown',
    cardStoppedBy: ({ context }, params: { why: CardStop }) => context.cardStop === params.why,
    cardAuthorising: ({ event }) => event.type === 'CARD_PROGRESS' && event.authorising === true,
    toppedUpSomething: ({ context }) => context.service === 'topup' && context.credited > 0,
    completesPayment: ({ context, event }) =>
      (event.type === 'NOTE_CREDITED' || event.type === 'COIN_CREDITED') &&
      context.service === 'pay' &&
      context.amountDue !== null &&
      context.credited + event.value >= context.amountDue,
    // Once neither the smallest note nor the smallest coin fits under the cap, waiting only ends in
    // a timeout.
    fillsTopup: ({ context, event }) =>
      (event.type === 'NOTE_CREDITED' || event.type === 'COIN_CREDITED') &&
      context.service === 'topup' &&
      acceptableNotes(credit(context, event.value), context.limits, [...context.denominations, ...context.coins]).length === 0,
  },
  actions: {
    takePhone: assign(({ event }) => (event.type === 'NUMBER' ? { phone: event.phone, error: null } : {})),
    recordNote: assign(({ context, event }) => {
      if (event.type === 'NOTE_CREDITED') return { credited: context.credited + event.value, notes: [...context.notes, event.value] };
      if (event.type === 'COIN_CREDITED') return { credited: context.credited + event.value };
      return {};
    }),
    // In coins mode the rest due may be unpayable with change the hoppers can make (0.30 left, only
    // 0.50 coins and no 0.20 change): rather than leave the customer stuck until the time-out, the
    // excess of the last note or coin is then credited to the account.
    creditExcessIfStuck: assign(({ context }) =>
      context.change !== null && acceptNow(context).length === 0 && coinsNow(context).length === 0 ? { change: null } : {},
    ),
    cardProgress: assign(({ event }) =>
      event.type === 'CARD_PROGRESS'
        ? { cardStage: event.stage, ...(event.maskedPan !== undefined ? { maskedPan: event.maskedPan } : {}) }
        : {},
    ),
    stopCard: sendTo('authoriseCard', ({ context }): StopCard => ({ type: 'STOP', why: context.cardStop ?? 'customer' })),
    updateAccepted: sendTo('acceptCash', ({ context }): AcceptCashUpdate => ({
      type: 'ACCEPT',
      accept: acceptNow(context),
      coins: coinsNow(context),
    })),
  },
}).createMachine({
  id: 'transaction',
  initial: 'number',
  context: ({ input }) => ({
    id: input.id,
    service: input.service,
    phone: null,
    holder: null,
    amountDue: null,
    credited: 0,
    notes: [],
    offline: input.offline ?? false,
    endReason: null,
    error: null,
    limits: input.limits,
    timeouts: input.timeouts,
    denominations: input.denominations ?? DEFAULT_DENOMINATIONS,
    coins: input.coins ?? [],
    change: input.change && input.change.some((h) => h.available > 0) ? input.change : null,
    changeDue: 0,
    changePaid: 0,
    changeOwed: 0,
    receipt: input.receipt ?? false,
    receiptError: null,
    card: input.card ?? null,
    cardIn: 0,
    cardStage: null,
    maskedPan: null,
    cardStop: null,
  }),
  // A credit that lands after the machine stopped taking cash (the validator was already stacking
  // when the customer cancelled) is still the customer's money: keep it in the record so the
  // output never under-reports what went into the cash box.
  on: {
    NOTE_CREDITED: { actions: 'recordNote' },
    COIN_CREDITED: { actions: 'recordNote' },
  },
  output: ({ event }) => event.output as TransactionOutput,
  states: {
    number: {
      after: {
        inputTimeout: { target: 'cancelling', actions: assign({ endReason: 'timeout' }) },
      },
      on: {
        NUMBER: [
          {
            guard: and(['validPhone', 'offlineTopup']),
            target: 'cash',
            actions: 'takePhone',
          },
          { guard: 'validPhone', target: 'lookup', actions: 'takePhone' },
          // A wrong number is still the customer doing something, so the clock starts again.
          { target: 'number', reenter: true, actions: assign({ error: 'bad-number' }) },
        ],
        ACTIVITY: { target: 'number', reenter: true },
        CANCEL: { target: 'cancelling', actions: assign({ endReason: 'customer-cancel' }) },
      },
    },
    lookup: {
      invoke: {
        src: 'lookup',
        input: ({ context }) => ({ phone: context.phone ?? '' }),
        onDone: [
          {
            guard: ({ event }) => Number.isSafeInteger(event.output.amountDue) && event.output.amountDue >= 0,
            target: 'review',
            actions: assign({
              amountDue: ({ event }) => event.output.amountDue,
              holder: ({ event }) => event.output.holder ?? null,
              error: null,
            }),
          },
          { target: 'lookupFailed', actions: assign({ error: 'bad-amount' }) },
        ],
        onError: { target: 'lookupFailed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
      after: {
        lookupTimeout: { target: 'lookupFailed', actions: assign({ error: 'lookup-timeout' }) },
      },
      on: {
        CANCEL: { target: 'cancelling', actions: assign({ endReason: 'customer-cancel' }) },
      },
    },
    lookupFailed: {
      after: {
        inputTimeout: { target: 'cancelling', actions: assign({ endReason: 'timeout' }) },
      },
      on: {
        TOPUP_OFFLINE: {
          guard: 'canTakeMoney',
          target: 'cash',
          actions: assign({ service: 'topup', offline: true, amountDue: null, holder: null }),
        },
        ACTIVITY: { target: 'lookupFailed', reenter: true },
        CANCEL: { target: 'cancelling', actions: assign({ endReason: 'customer-cancel' }) },
      },
    },
    review: {
      after: {
        inputTimeout: [
          { guard: 'isLookupOnly', target: 'finishing', actions: assign({ endReason: 'looked-up' }) },
          { target: 'cancelling', actions: assign({ endReason: 'timeout' }) },
        ],
      },
      on: {
        CONFIRM: [
          { guard: 'isLookupOnly' },
          { guard: 'nothingDue', target: 'review', reenter: true, actions: assign({ error: 'nothing-due' }) },
          { target: 'cash', actions: assign({ error: null }) },
        ],
        // Card pays exactly the amount due and only before any cash: the two are never mixed.
        CARD: [
          { guard: 'cardOffered', target: 'card', actions: assign({ error: null }) },
          { target: 'review', reenter: true, actions: assign({ error: 'card-not-offered' }) },
        ],
        DONE: { guard: 'isLookupOnly', target: 'finishing', actions: assign({ endReason: 'looked-up' }) },
        ACTIVITY: { target: 'review', reenter: true },
        CANCEL: [
          { guard: 'isLookupOnly', target: 'finishing', actions: assign({ endReason: 'looked-up' }) },
          { target: 'cancelling', actions: assign({ endReason: 'customer-cancel' }) },
        ],
      },
    },
    cash: {
      // The actor enables the validator for `accept` and must disable it in its cleanup, which
      // XState runs whenever this state is left, whatever the reason.
      invoke: {
        id: 'acceptCash',
        src: 'acceptCash',
        input: ({ context }) => ({ accept: acceptNow(context), coins: coinsNow(context) }),
      },
      initial: 'idle',
      states: {
        // Re-entering this child (never `cash` itself) restarts the timer and leaves the
        // validator on.
        idle: {
          after: {
            cashTimeout: [
              { guard: 'nothingCredited', target: '#transaction.cancelling', actions: assign({ endReason: 'timeout' }) },
              { target: '#transaction.settling', actions: assign({ endReason: 'timeout-partial' }) },
            ],
          },
          on: {
            NOTE_CREDITED: [
              {
                guard: 'completesPayment',
                target: '#transaction.settling',
                actions: ['recordNote', assign({ endReason: 'paid' })],
              },
              {
                guard: 'fillsTopup',
                target: '#transaction.settling',
                actions: ['recordNote', assign({ endReason: 'topped-up' })],
              },
              { target: 'idle', reenter: true, actions: ['recordNote', 'creditExcessIfStuck', 'updateAccepted'] },
            ],
            COIN_CREDITED: [
              {
                guard: 'completesPayment',
                target: '#transaction.settling',
                actions: ['recordNote', assign({ endReason: 'paid' })],
              },
              {
                guard: 'fillsTopup',
                target: '#transaction.settling',
                actions: ['recordNote', assign({ endReason: 'topped-up' })],
              },
              { target: 'idle', reenter: true, actions: ['recordNote', 'creditExcessIfStuck', 'updateAccepted'] },
            ],
            ACTIVITY: { target: 'idle', reenter: true },
          },
        },
      },
      on: {
        // Refused explicitly: once cash may have been taken, a card would have to pay a part, and
        // a card pays only the whole amount due.
        CARD: { actions: assign({ error: 'card-not-after-cash' }) },
        DONE: { guard: 'toppedUpSomething', target: 'settling', actions: assign({ endReason: 'topped-up' }) },
        CANCEL: [
          { guard: 'nothingCredited', target: 'cancelling', actions: assign({ endReason: 'customer-cancel' }) },
          { target: 'settling', actions: assign({ endReason: 'customer-cancel-partial' }) },
        ],
        CASH_UNAVAILABLE: [
          {
            guard: 'nothingCredited',
            target: 'cancelling',
            actions: assign({ endReason: 'device-fault', error: ({ event }) => event.reason }),
          },
          {
            target: 'settling',
            actions: assign({ endReason: 'device-fault-partial', error: ({ event }) => event.reason }),
          },
        ],
      },
    },
    // The actor journals every outcome (requested, approved, declined, unknown with its reversal)
    // before it reports it, and disables the reader or aborts the terminal in its cleanup.
    card: {
      entry: assign({ cardStage: 'present-card', maskedPan: null, cardStop: null, error: null }),
      exit: assign({ cardStage: null }),
      invoke: {
        id: 'authoriseCard',
        src: 'authoriseCard',
        input: ({ context }) => ({ id: context.id, method: context.card ?? 'reader', amount: context.amountDue ?? 0 }),
      },
      initial: 'customer',
      states: {
        // The customer presents the card, or answers the terminal (PIN); each step restarts the clock.
        customer: {
          after: {
            cardTimeout: { target: 'stopping', actions: assign({ cardStop: 'timeout' }) },
          },
          on: {
            CARD_PROGRESS: [
              { guard: 'cardAuthorising', target: 'authorising', actions: 'cardProgress' },
              { target: 'customer', reenter: true, actions: 'cardProgress' },
            ],
            CANCEL: { target: 'stopping', actions: assign({ cardStop: 'customer' }) },
          },
        },
        // The card data or the amount is with the authoriser: only its answer or its time-out ends this.
        authorising: {
          after: {
            cardAuthTimeout: { target: 'stopping', actions: assign({ cardStop: 'auth-timeout' }) },
          },
          on: {
            CARD_PROGRESS: { actions: 'cardProgress' },
            CANCEL: { actions: [assign({ cardStop: 'customer' }), 'stopCard'] },
          },
        },
        // Asked the actor to stop; it still reports the outcome, which it journalled. A request
        // already sent when the customer's time ran out still gets the authorisation time-out.
        stopping: {
          entry: 'stopCard',
          after: {
            cardAuthTimeout: { actions: sendTo('authoriseCard', (): StopCard => ({ type: 'STOP', why: 'auth-timeout' })) },
          },
          on: { CARD_PROGRESS: { actions: 'cardProgress' } },
        },
      },
      on: {
        CARD_RESULT: [
          {
            guard: 'cardApproved',
            target: 'settling',
            actions: assign({ cardIn: ({ context }) => context.amountDue ?? 0, endReason: 'paid' }),
          },
          { guard: 'cardUnknown', target: 'cancelling', actions: assign({ endReason: 'card-unknown', error: 'card-unknown' }) },
          {
            guard: { type: 'cardStoppedBy', params: { why: 'customer' } },
            target: 'cancelling',
            actions: assign({ endReason: 'customer-cancel' }),
          },
          { guard: { type: 'cardStoppedBy', params: { why: 'timeout' } }, target: 'cancelling', actions: assign({ endReason: 'timeout' }) },
          // Declined or unavailable: nothing was taken; the customer may pay cash or cancel.
          {
            target: 'review',
            actions: assign({
              error: ({ event }) => (event.type === 'CARD_RESULT' && event.outcome === 'declined' ? 'card-declined' : 'card-unavailable'),
              maskedPan: null,
            }),
          },
        ],
      },
    },
    settling: {
      entry: assign({ changeDue: ({ context }) => changeDueOf(context) }),
      invoke: {
        src: 'settle',
        input: ({ context }) => ({
          id: context.id,
          endReason: ended(context),
          credited: context.credited,
          changeDue: context.changeDue,
        }),
        onDone: [
          { guard: ({ context }) => context.changeDue > 0, target: 'payingChange' },
          { guard: ({ context }) => context.receipt, target: 'printing' },
          { target: 'completed' },
        ],
        onError: { target: 'settleFailed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    // The payment is settled and journalled; the change is owed until the hoppers pay it.
    payingChange: {
      entry: assign({ changeOwed: ({ context }) => context.changeDue }),
      invoke: {
        src: 'payChange',
        input: ({ context }) => ({ id: context.id, amount: context.changeDue }),
        onDone: {
          target: 'afterChange',
          actions: assign({ changePaid: ({ event }) => event.output.paid, changeOwed: ({ event }) => event.output.owed }),
        },
        // The payout actor journals every coin; an error leaves what the journal says owed.
        onError: { target: 'afterChange', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    afterChange: {
      always: [{ guard: ({ context }) => context.receipt, target: 'printing' }, { target: 'completed' }],
    },
    // A failed receipt never undoes a payment: it is queued for reprint and the screen shows it.
    printing: {
      invoke: {
        src: 'printReceipt',
        input: ({ context }) => ({ id: context.id }),
        onDone: 'completed',
        onError: { target: 'completed', actions: assign({ receiptError: ({ event }) => errorText(event.error) }) },
      },
    },
    cancelling: {
      invoke: {
        src: 'cancel',
        input: ({ context }) => ({ id: context.id, endReason: ended(context) }),
        onDone: 'cancelled',
        onError: { target: 'settleFailed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    finishing: {
      invoke: {
        src: 'finish',
        input: ({ context }) => ({ id: context.id, endReason: ended(context) }),
        onDone: 'completed',
        onError: { target: 'settleFailed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    completed: { type: 'final', output: ({ context }) => outcome(context, 'completed') },
    cancelled: { type: 'final', output: ({ context }) => outcome(context, 'cancelled') },
    // The journal keeps the transaction open; recovery settles it at the next boot.
    settleFailed: { type: 'final', output: ({ context }) => outcome(context, 'settle-failed') },
  },
});

export type TransactionMachine = typeof transactionMachine;
export type TransactionSnapshot = SnapshotFrom<TransactionMachine>;

/** Whether a note held in escrow may be stacked at all (the validator is open for this customer). */
export function isAcceptingCash(snapshot: TransactionSnapshot): boolean {
  return snapshot.status === 'active' && snapshot.matches('cash');
}

export function isFinished(snapshot: TransactionSnapshot): boolean {
  return snapshot.status === 'done';
}
