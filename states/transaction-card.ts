/**
 * The card payment as one state of the transaction machine. The authoriseCard actor journals every
 * outcome (requested, approved, declined, unknown with its reversal) before it reports it, and
 * disables the reader or aborts the terminal in its cleanup.
 */
import { assign, sendTo } from 'xstate';
import { transactionSetup } from './transaction-setup.js';
import type { StopCard } from './transaction-types.js';

export const cardState = transactionSetup.createStateConfig({
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
});
