/**
 * The wallet payment as one state of the transaction machine: the customer's payment code under
 * the scanner, or the kiosk's QR code. The startMobile actor enables the scanner only while a code
 * is wanted, journals the request before the code leaves the kiosk and reports the gateway's
 * answer; the machine then queries every few seconds while the customer confirms, up to a limit,
 * and revokes what is not known to be paid. Every actor journals its outcome before it reports it.
 */
import { assign, sendTo } from 'xstate';
import { transactionSetup } from './transaction-setup.js';
import type { StopMobile } from './transaction-types.js';

export const mobileState = transactionSetup.createStateConfig({
  entry: assign({
    mobileStage: ({ context }) => (context.mobileMode === 'qr' ? 'scan-qr' : 'show-code'),
    paymentId: null,
    maskedCode: null,
    qr: null,
    mobileStop: null,
    mobileReason: null,
    error: null,
  }),
  exit: assign({ mobileStage: null }),
  invoke: {
    id: 'startMobile',
    src: 'startMobile',
    input: ({ context }) => ({ id: context.id, mode: context.mobileMode ?? 'code', amount: context.amountDue ?? 0 }),
  },
  initial: 'scanning',
  states: {
    // The scanner is on and the customer shows the code (or the order is being created); a code of
    // no known wallet is refused by the actor and the clock starts again.
    scanning: {
      after: { mobileScanTimeout: { target: 'stopping', actions: assign({ mobileStop: 'timeout' }) } },
      on: {
        MOBILE_PROGRESS: [
          { guard: 'mobileSent', target: 'requesting', actions: 'mobileProgress' },
          { guard: 'mobileOrdered', target: 'confirming', actions: 'mobileProgress' },
          { target: 'scanning', reenter: true, actions: 'mobileProgress' },
        ],
        CANCEL: { target: 'stopping', actions: assign({ mobileStop: 'customer' }) },
      },
    },
    // Asked the actor to stop; a code already on its way still gets its answer.
    stopping: {
      entry: sendTo('startMobile', (): StopMobile => ({ type: 'STOP' })),
      on: {
        MOBILE_PROGRESS: [
          { guard: 'mobileSent', target: 'requesting', actions: 'mobileProgress' },
          { guard: 'mobileOrdered', target: 'revoking', actions: 'mobileProgress' },
        ],
      },
    },
    // The code is with the gateway: its answer, or, after the charge time-out, the queries decide.
    requesting: {
      after: { mobileChargeTimeout: 'confirming' },
      on: { CANCEL: { actions: assign({ mobileStop: 'customer' }) } },
    },
    confirming: {
      entry: assign({ mobileStage: ({ context }) => (context.mobileMode === 'qr' ? 'scan-qr' : 'confirming') }),
      after: { mobileQueryLimit: { target: 'revoking', actions: assign({ mobileStop: 'query-limit' }) } },
      on: {
        CANCEL: { target: 'revoking', actions: assign({ mobileStop: 'customer' }) },
        MOBILE_PROGRESS: { actions: 'mobileProgress' },
        // Still confirming, or the charge's late "no answer": the queries go on.
        MOBILE_RESULT: [
          { guard: ({ event }) => event.outcome === 'paid', target: '#transaction.settling', actions: 'mobilePaid' },
          { guard: ({ event }) => event.outcome === 'failed', target: '#transaction.review', actions: 'mobileFailed' },
          // Consumed here, so that it does not restart `confirming` (and its limit) from the parent.
          {},
        ],
      },
      initial: 'waiting',
      states: {
        waiting: { after: { mobileQueryInterval: 'querying' } },
        querying: {
          invoke: {
            src: 'queryMobile',
            input: ({ context }) => ({ id: context.id, paymentId: context.paymentId ?? '' }),
            onDone: [
              { guard: ({ event }) => event.output.outcome === 'paid', target: '#transaction.settling', actions: 'mobilePaid' },
              {
                guard: ({ event }) => event.output.outcome === 'failed',
                target: '#transaction.review',
                actions: assign({ error: 'mobile-failed', mobileReason: ({ event }) => event.output.reason ?? null }),
              },
              { target: 'waiting' },
            ],
            // A query that failed (link down, no answer) is one more try that told nothing.
            onError: 'waiting',
          },
        },
      },
    },
    // Not known to be paid: the revoke (or the order's close) is journalled and queued. Late
    // answers change nothing here; the actor's output says what the journal decided.
    revoking: {
      entry: assign({ mobileStage: 'revoking' }),
      invoke: {
        src: 'revokeMobile',
        input: ({ context }) => ({ id: context.id, paymentId: context.paymentId ?? '', reason: context.mobileStop ?? 'query-limit' }),
        onDone: [
          { guard: ({ event }) => event.output.outcome === 'paid', target: '#transaction.settling', actions: 'mobilePaid' },
          { target: '#transaction.cancelling', actions: assign({ endReason: 'mobile-revoked', error: 'mobile-revoked' }) },
        ],
        onError: { target: '#transaction.settleFailed', actions: assign({ error: 'mobile-revoke-failed' }) },
      },
      on: { MOBILE_RESULT: {}, CANCEL: {}, MOBILE_PROGRESS: {} },
    },
  },
  on: {
    MOBILE_RESULT: [
      { guard: ({ event }) => event.outcome === 'paid', target: 'settling', actions: 'mobilePaid' },
      { guard: ({ event }) => event.outcome === 'failed' || event.outcome === 'unavailable', target: 'review', actions: 'mobileFailed' },
      { guard: ({ event }) => event.outcome === 'revoked', target: 'cancelling', actions: assign({ endReason: 'mobile-revoked' }) },
      // Sent, no clear answer, and the customer has left (or no QR to show): give up at once.
      {
        guard: ({ context, event }) =>
          (event.outcome === 'confirming' || event.outcome === 'unknown') &&
          (context.mobileStop === 'customer' || (context.mobileMode === 'qr' && context.qr === null)),
        target: '.revoking',
      },
      { guard: ({ event }) => event.outcome === 'confirming' || event.outcome === 'unknown', target: '.confirming' },
      { guard: ({ context }) => context.mobileStop === 'customer', target: 'cancelling', actions: assign({ endReason: 'customer-cancel' }) },
      // Cancelled by the scan time-out: back to the review to choose again.
      { target: 'review', actions: assign({ error: 'mobile-timeout' }) },
    ],
  },
});
