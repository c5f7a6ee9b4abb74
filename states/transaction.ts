/**
 * One customer transaction as a pure XState machine. Every effect (server look-up, validator
 * enable/disable, journal settle/cancel) is an injected actor; the runtime plugs the real ones in
 * with `transactionMachine.provide({ actors: { ... } })`. Amounts are integer fen.
 */
import { and, assign, fromCallback, fromPromise, sendTo, setup, type SnapshotFrom } from 'xstate';

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
}

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
  | 'device-fault-partial';

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
}

export type TransactionEvent =
  | { type: 'NUMBER'; phone: string }
  | { type: 'CONFIRM' }
  | { type: 'DONE' }
  | { type: 'TOPUP_OFFLINE' }
  | { type: 'CANCEL' }
  | { type: 'ACTIVITY' }
  | { type: 'NOTE_CREDITED'; value: number }
  | { type: 'CASH_UNAVAILABLE'; reason: string };

export type TransactionStatus = 'completed' | 'cancelled' | 'settle-failed';

export interface TransactionOutput {
  id: string;
  status: TransactionStatus;
  endReason: EndReason | null;
  credited: number;
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
}
/** Sent to the running acceptCash actor after each credited note: the set it may take has changed. */
export interface AcceptCashUpdate {
  type: 'ACCEPT';
  accept: number[];
}

export interface SettleInput {
  id: string;
  endReason: EndReason;
  credited: number;
}
export interface CloseInput {
  id: string;
  endReason: EndReason;
}

/** What the escrow rule needs to know about the transaction. */
export type EscrowView = Pick<TransactionContext, 'service' | 'credited' | 'amountDue'>;

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
    if (ctx.credited + noteValue - ctx.amountDue > limits.maxOverpay) return 'return';
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
  return { service: ctx.service, amountDue: ctx.amountDue, credited: ctx.credited + value };
}

function acceptNow(ctx: TransactionContext): number[] {
  return acceptableNotes(ctx, ctx.limits, ctx.denominations);
}

// Every state that reaches settling/cancelling/finishing set endReason on the way in.
function ended(ctx: TransactionContext): EndReason {
  if (ctx.endReason === null) throw new Error(`transaction ${ctx.id} closing without an end reason`);
  return ctx.endReason;
}

function outcome(ctx: TransactionContext, status: TransactionStatus): TransactionOutput {
  return { id: ctx.id, status, endReason: ctx.endReason, credited: ctx.credited };
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
    cancel: fromPromise<unknown, CloseInput>(notProvided('cancel')),
    finish: fromPromise<unknown, CloseInput>(notProvided('finish')),
  },
  delays: {
    inputTimeout: ({ context }) => context.timeouts.inputMs,
    lookupTimeout: ({ context }) => context.timeouts.lookupMs,
    cashTimeout: ({ context }) => context.timeouts.cashMs,
  },
  guards: {
    validPhone: ({ event }) => event.type === 'NUMBER' && PHONE.test(event.phone),
    offlineTopup: ({ context }) => context.service === 'topup' && context.offline,
    isLookupOnly: ({ context }) => context.service === 'lookup',
    canTakeMoney: ({ context }) => context.service !== 'lookup',
    nothingDue: ({ context }) => context.service === 'pay' && context.amountDue === 0,
    nothingCredited: ({ context }) => context.credited === 0,
    toppedUpSomething: ({ context }) => context.service === 'topup' && context.credited > 0,
    completesPayment: ({ context, event }) =>
      event.type === 'NOTE_CREDITED' &&
      context.service === 'pay' &&
      context.amountDue !== null &&
      context.credited + event.value >= context.amountDue,
    // Once not even the smallest note fits under the cap, waiting only ends in a timeout.
    fillsTopup: ({ context, event }) =>
      event.type === 'NOTE_CREDITED' &&
      context.service === 'topup' &&
      acceptableNotes(credit(context, event.value), context.limits, context.denominations).length === 0,
  },
  actions: {
    takePhone: assign(({ event }) => (event.type === 'NUMBER' ? { phone: event.phone, error: null } : {})),
    recordNote: assign(({ context, event }) => {
      if (event.type !== 'NOTE_CREDITED') return {};
      return { credited: context.credited + event.value, notes: [...context.notes, event.value] };
    }),
    updateAccepted: sendTo('acceptCash', ({ context }): AcceptCashUpdate => ({
      type: 'ACCEPT',
      accept: acceptNow(context),
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
  }),
  // A credit that lands after the machine stopped taking cash (the validator was already stacking
  // when the customer cancelled) is still the customer's money: keep it in the record so the
  // output never under-reports what went into the cash box.
  on: {
    NOTE_CREDITED: { actions: 'recordNote' },
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
        input: ({ context }) => ({ accept: acceptNow(context) }),
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
              { target: 'idle', reenter: true, actions: ['recordNote', 'updateAccepted'] },
            ],
            ACTIVITY: { target: 'idle', reenter: true },
          },
        },
      },
      on: {
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
    settling: {
      invoke: {
        src: 'settle',
        input: ({ context }) => ({ id: context.id, endReason: ended(context), credited: context.credited }),
        onDone: 'completed',
        onError: { target: 'settleFailed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
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
