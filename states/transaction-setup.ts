/**
 * The transaction machine's setup: its types, default actors (none takes money), delays, guards
 * and actions. The states are in transaction.ts, the card payment in transaction-card.ts.
 */
import { assign, emit, fromCallback, fromPromise, sendTo, setup } from 'xstate';
import { isPhoneNumber } from '../src/domain/phone.js';
import { acceptableNotes, escrowDecision, type EscrowView } from './escrow.js';
import type {
  AcceptCashInput,
  AcceptCashUpdate,
  AuthoriseCardInput,
  CardStop,
  CloseInput,
  EndReason,
  EscrowAnswer,
  LookupInput,
  LookupResult,
  MobileMode,
  QueryMobileInput,
  QueryMobileOutput,
  RevokeMobileInput,
  RevokeMobileOutput,
  StartMobileInput,
  StopMobile,
  PayChangeInput,
  PayChangeOutput,
  SettleInput,
  StopCard,
  TransactionContext,
  TransactionEvent,
  TransactionInput,
  TransactionOutput,
  TransactionStatus,
} from './transaction-types.js';

function credit(ctx: TransactionContext, value: number): EscrowView {
  return { service: ctx.service, amountDue: ctx.amountDue, credited: ctx.credited + value, change: ctx.change };
}

export function acceptNow(ctx: TransactionContext): number[] {
  return acceptableNotes(ctx, ctx.limits, ctx.denominations);
}

export function coinsNow(ctx: TransactionContext): number[] {
  return acceptableNotes(ctx, ctx.limits, ctx.coins);
}

/** The change a settlement pays back: the excess over the amount due when change is in coins. */
export function changeDueOf(ctx: TransactionContext): number {
  if (ctx.service !== 'pay' || ctx.change === null || ctx.amountDue === null) return 0;
  return Math.max(0, ctx.credited - ctx.amountDue);
}

// Every state that reaches settling/cancelling/finishing set endReason on the way in.
export function ended(ctx: TransactionContext): EndReason {
  if (ctx.endReason === null) throw new Error(`transaction ${ctx.id} closing without an end reason`);
  return ctx.endReason;
}

export function outcome(ctx: TransactionContext, status: TransactionStatus): TransactionOutput {
  return {
    id: ctx.id,
    status,
    endReason: ctx.endReason,
    credited: ctx.credited,
    changePaid: ctx.changePaid,
    changeOwed: ctx.changeOwed,
    ...(ctx.cardIn > 0 ? { cardIn: ctx.cardIn } : {}),
    ...(ctx.mobileIn > 0 ? { mobileIn: ctx.mobileIn } : {}),
  };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Query every 3 s for up to 45 s, as the wallets' own documents prescribe for a payment being confirmed. */
export const DEFAULT_QUERY_INTERVAL_MS = 3000;
export const DEFAULT_QUERY_LIMIT_MS = 45_000;
/** How long the kiosk's QR code may be paid before the order is closed. */
export const DEFAULT_QR_MS = 120_000;

const notProvided = (name: string) => () => Promise.reject(new Error(`${name} actor not provided`));

export const transactionSetup = setup({
  types: {
    input: {} as TransactionInput,
    context: {} as TransactionContext,
    events: {} as TransactionEvent,
    output: {} as TransactionOutput,
    emitted: {} as EscrowAnswer,
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
    // Without a real scanner and gateway nothing can be sent, so nothing is charged.
    startMobile: fromCallback<StopMobile, StartMobileInput>(({ sendBack }) => {
      sendBack({ type: 'MOBILE_RESULT', outcome: 'unavailable', reason: 'startMobile actor not provided' });
    }),
    queryMobile: fromPromise<QueryMobileOutput, QueryMobileInput>(notProvided('queryMobile')),
    revokeMobile: fromPromise<RevokeMobileOutput, RevokeMobileInput>(notProvided('revokeMobile')),
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
    mobileScanTimeout: ({ context }) => context.timeouts.mobileScanMs ?? context.timeouts.cashMs,
    mobileChargeTimeout: ({ context }) => context.timeouts.mobileChargeMs ?? context.timeouts.lookupMs,
    mobileQueryInterval: ({ context }) => context.timeouts.mobileQueryIntervalMs ?? DEFAULT_QUERY_INTERVAL_MS,
    mobileQueryLimit: ({ context }) =>
      context.mobileMode === 'qr' ? (context.timeouts.mobileQrMs ?? DEFAULT_QR_MS) : (context.timeouts.mobileQueryLimitMs ?? DEFAULT_QUERY_LIMIT_MS),
  },
  guards: {
    validPhone: ({ event }) => event.type === 'NUMBER' && isPhoneNumber(event.phone),
    offlineTopup: ({ context }) => context.service === 'topup' && context.offline,
    isLookupOnly: ({ context }) => context.service === 'lookup',
    canTakeMoney: ({ context }) => context.service !== 'lookup',
    nothingDue: ({ context }) => context.service === 'pay' && context.amountDue === 0,
    nothingCredited: ({ context }) => context.credited === 0,
    cardOffered: ({ context }) =>
      context.card !== null && context.service === 'pay' && context.amountDue !== null && context.amountDue > 0 && context.credited === 0,
    mobileOffered: ({ context, event }) =>
      event.type === 'MOBILE' &&
      context.mobileModes.includes(event.mode) &&
      context.service === 'pay' &&
      context.amountDue !== null &&
      context.amountDue > 0 &&
      context.credited === 0,
    mobileSent: ({ event }) => event.type === 'MOBILE_PROGRESS' && event.stage === 'requesting' && event.paymentId !== undefined,
    mobileOrdered: ({ event }) => event.type === 'MOBILE_PROGRESS' && event.stage === 'scan-qr' && event.qr !== undefined,
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
    mobileProgress: assign(({ event }) => {
      if (event.type !== 'MOBILE_PROGRESS') return {};
      return {
        mobileStage: event.stage,
        ...(event.paymentId !== undefined ? { paymentId: event.paymentId } : {}),
        ...(event.maskedCode !== undefined ? { maskedCode: event.maskedCode } : {}),
        ...(event.qr !== undefined ? { qr: event.qr } : {}),
      };
    }),
    // The credit point was journalled by the actor that reports it.
    mobilePaid: assign(({ context }) => ({ mobileIn: context.amountDue ?? 0, endReason: 'paid' as const, error: null })),
    mobileFailed: assign(({ event }) =>
      event.type === 'MOBILE_RESULT'
        ? { error: event.outcome === 'unavailable' ? 'mobile-unavailable' : 'mobile-failed', mobileReason: event.reason ?? null }
        : {},
    ),
    chooseMobile: assign(({ event }) => (event.type === 'MOBILE' ? { mobileMode: event.mode as MobileMode, error: null } : {})),
    stopCard: sendTo('authoriseCard', ({ context }): StopCard => ({ type: 'STOP', why: context.cardStop ?? 'customer' })),
    updateAccepted: sendTo('acceptCash', ({ context }): AcceptCashUpdate => ({
      type: 'ACCEPT',
      accept: acceptNow(context),
      coins: coinsNow(context),
    })),
    // The answer to NOTE_ESCROWED while taking cash: the escrow rule on what has been credited so far.
    answerEscrow: emit(({ context, event }): EscrowAnswer => ({
      type: 'escrow',
      takingCash: true,
      decision: event.type === 'NOTE_ESCROWED' ? escrowDecision(context, event.value, context.limits, true) : 'return',
    })),
    notTakingCash: emit({ type: 'escrow', takingCash: false, decision: 'return' } satisfies EscrowAnswer),
  },
});
