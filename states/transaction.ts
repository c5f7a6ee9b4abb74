/**
 * One customer transaction as a pure XState machine. Every effect (server look-up, validator
 * enable/disable, journal settle/cancel) is an injected actor; the runtime plugs the real ones in
 * with `transactionMachine.provide({ actors: { ... } })`. Amounts are integer fen.
 */
import { and, assign, type SnapshotFrom } from 'xstate';
import { cardState } from './transaction-card.js';
import { mobileState } from './transaction-mobile.js';
import { acceptNow, changeDueOf, coinsNow, ended, errorText, outcome, transactionSetup } from './transaction-setup.js';
import { DEFAULT_DENOMINATIONS, type TransactionOutput } from './transaction-types.js';

export * from './transaction-types.js';
export { acceptableNotes, escrowDecision, type EscrowView, type TransactionLimits } from './escrow.js';

export const transactionMachine = transactionSetup.createMachine({
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
    mobileModes: input.mobile ?? [],
    mobileMode: null,
    mobileIn: 0,
    mobileStage: null,
    paymentId: null,
    maskedCode: null,
    qr: null,
    mobileStop: null,
    mobileReason: null,
  }),
  // A credit that lands after the machine stopped taking cash (the validator was already stacking
  // when the customer cancelled) is still the customer's money: keep it in the record so the
  // output never under-reports what went into the cash box.
  on: {
    NOTE_CREDITED: { actions: 'recordNote' },
    COIN_CREDITED: { actions: 'recordNote' },
    // Outside `cash` a note in escrow is not this customer's payment: it goes back.
    NOTE_ESCROWED: { actions: 'notTakingCash' },
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
        // A wallet, like a card, pays exactly the amount due and only before any cash.
        MOBILE: [
          { guard: 'mobileOffered', target: 'mobile', actions: 'chooseMobile' },
          { target: 'review', reenter: true, actions: assign({ error: 'mobile-not-offered' }) },
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
        MOBILE: { actions: assign({ error: 'mobile-not-after-cash' }) },
        NOTE_ESCROWED: { actions: 'answerEscrow' },
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
    card: cardState,
    mobile: mobileState,
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
