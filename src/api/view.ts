import { acceptableNotes, type TransactionContext } from '../../states/transaction.js';
import type { Capabilities } from '../../states/terminal.js';
import type { FaultFacts, TxnRow } from '../journal/index.js';
import { maskHolderName } from '../domain/holder-name.js';
import type { Amounts, CardStage, CardView, FinishingPhase, MobileStage, MobileView, Notice, Offers, Outcome, ScreenName, ScreenView, Service, SlipView } from '../ui/view-model.js';
import { qrImage } from './qr-image.js';

export type Deadline = { at: number; totalMs: number };

/** Everything the screen is derived from, read from the runtime at one moment. */
export interface ScreenInput {
  terminal: { state: string; caps: Capabilities };
  /** The optional devices this kiosk has, so a missing one is not announced as broken. */
  fitted: { coins: boolean; printer: boolean };
  transaction: { id: string; state: string; context: TransactionContext; deadline: Deadline | null } | null;
  /** The transaction that just ended, while its summary is on the screen. */
  result: { txn: TxnRow; receipt: 'printed' | 'failed' | 'none'; deadline: Deadline; slip: FaultFacts | null } | null;
  /** The operator's service number, shown with a fault slip. */
  serviceNumber: string;
}

const SERVING = new Set(['inService', 'degraded']);

const PHASES: Record<string, FinishingPhase> = {
  settling: 'settling',
  finishing: 'settling',
  payingChange: 'change',
  afterChange: 'change',
  printing: 'printing',
  cancelling: 'cancelling',
};

const INPUT_SCREENS = new Set<ScreenName>(['number', 'lookup', 'lookupFailed', 'review', 'cash', 'card', 'mobile']);

// The stages of both card paths (the reader's and a payment terminal's progress) as the screen words them.
const CARD_STAGES: Record<string, CardStage> = {
  'present-card': 'present',
  'insert-card': 'present',
  'read-error': 'read-error',
  authorising: 'authorising',
  'waiting-host': 'authorising',
  pin: 'pin',
  'remove-card': 'remove',
};

function cardView(ctx: TransactionContext): CardView {
  return { stage: CARD_STAGES[ctx.cardStage ?? 'present-card'] ?? 'wait', via: ctx.card === 'terminal' ? 'terminal' : 'reader', maskedPan: ctx.maskedPan };
}

const MOBILE_STAGES = new Set<MobileStage>(['show-code', 'unknown-wallet', 'requesting', 'confirming', 'revoking', 'scan-qr']);

function mobileView(ctx: TransactionContext): MobileView {
  const stage = MOBILE_STAGES.has(ctx.mobileStage as MobileStage) ? (ctx.mobileStage as MobileStage) : 'show-code';
  return { mode: ctx.mobileMode ?? 'code', stage, maskedCode: ctx.maskedCode, qrImage: ctx.qr && stage === 'scan-qr' ? qrImage(ctx.qr.codeUrl) : null };
}

/**
 * The customer's screen as a pure function of the runtime's state. The screen decides nothing
 * about money: every amount here comes from the transaction machine or the journal.
 */
export function screenView(input: ScreenInput): ScreenView {
  const { caps, state } = input.terminal;
  const serving = SERVING.has(state);
  const offers: Offers = {
    pay: serving && caps.services.includes('pay'),
    topup: serving && caps.services.includes('topup'),
    cash: caps.cash,
    coins: caps.coins,
    change: caps.change,
    card: serving && caps.card !== null,
    mobile: [],
    receipt: caps.receipt,
  };
  const base: ScreenView = {
    screen: 'starting',
    txnId: null,
    service: null,
    phone: null,
    holder: null,
    amounts: null,
    accepts: null,
    phase: null,
    card: null,
    mobile: null,
    result: null,
    slip: null,
    claimCode: null,
    error: null,
    errorReason: null,
    offers,
    notices: [],
    deadline: null,
    reason: null,
  };
  if (input.transaction) return transactionView(base, input.transaction, input.fitted);
  if (input.result) return resultView(base, input.result, input.serviceNumber, input.fitted.printer);
  if (state === 'outOfService.operator') return { ...base, screen: 'maintenance', reason: 'operator' };
  if (state === 'outOfService.bootFailed') return { ...base, screen: 'outOfService', reason: 'boot-failed' };
  if (!state.startsWith('outOfService') && !serving) return base;
  if (offers.pay || offers.topup) return { ...base, screen: 'home', notices: terminalNotices(caps, input.fitted) };
  return { ...base, screen: 'outOfService', reason: caps.cash ? 'no-link' : 'no-cash' };
}

function terminalNotices(caps: Capabilities, fitted: ScreenInput['fitted']): Notice[] {
  const notices: Notice[] = [];
  if (!caps.change) notices.push('no-change');
  if (fitted.coins && !caps.coins) notices.push('no-coins');
  if (fitted.printer && !caps.receipt) notices.push('no-receipt');
  if (!caps.online) notices.push('offline');
  return notices;
}

function transactionView(base: ScreenView, t: NonNullable<ScreenInput['transaction']>, fitted: ScreenInput['fitted']): ScreenView {
  const ctx = t.context;
  const top = t.state.split('.')[0] ?? t.state;
  const phase = PHASES[top] ?? null;
  const screen: ScreenName = INPUT_SCREENS.has(top as ScreenName) ? (top as ScreenName) : 'finishing';
  const service: Service | null = ctx.service === 'lookup' ? null : ctx.service;
  // The change the machine fixed at settlement once there is one; before that, what the excess
  // would come to (only when the hoppers pay change: otherwise the excess is credited).
  const due = ctx.service === 'pay' ? ctx.amountDue : null;
  const excess = due !== null && ctx.change !== null ? Math.max(0, ctx.credited - due) : 0;
  const change = ctx.changeDue > 0 ? ctx.changeDue : excess;
  const amounts: Amounts = {
    due,
    inserted: ctx.credited,
    remaining: due === null ? null : Math.max(0, due - ctx.credited),
    change,
    changePaid: ctx.changePaid,
    owed: ctx.changeOwed,
    credited: ctx.credited - change,
    card: ctx.cardIn,
    mobile: ctx.mobileIn,
  };
  const notices: Notice[] = [];
  if (ctx.service === 'pay' && ctx.change === null) notices.push('no-change');
  if (fitted.coins && ctx.coins.length === 0) notices.push('no-coins');
  if (fitted.printer && !ctx.receipt) notices.push('no-receipt');
  if (ctx.offline) notices.push('offline');
  return {
    ...base,
    screen,
    txnId: t.id,
    service,
    phone: ctx.phone,
    // Masked here, so the full name never reaches the browser.
    holder: ctx.holder ? maskHolderName(ctx.holder) : null,
    amounts,
    accepts:
      screen === 'cash'
        ? { notes: acceptableNotes(ctx, ctx.limits, ctx.denominations), coins: acceptableNotes(ctx, ctx.limits, ctx.coins) }
        : null,
    phase: screen === 'finishing' ? (phase ?? 'settling') : null,
    card: screen === 'card' ? cardView(ctx) : null,
    mobile: screen === 'mobile' ? mobileView(ctx) : null,
    // Within a transaction the card and the wallet are offered as the machine was told at its start.
    offers: {
      ...base.offers,
      card: ctx.card !== null && ctx.service === 'pay' && ctx.credited === 0,
      mobile: ctx.service === 'pay' && ctx.credited === 0 ? [...ctx.mobileModes] : [],
    },
    error: errorCode(top, ctx.error),
    errorReason: ctx.error === 'mobile-failed' ? ctx.mobileReason : null,
    notices,
    deadline: INPUT_SCREENS.has(screen) ? t.deadline : null,
  };
}

function errorCode(state: string, error: string | null): string | null {
  if (error === null) return null;
  if (state === 'lookupFailed') return /^unknown account/.test(error) ? 'unknown-account' : 'lookup-failed';
  if (error === 'bad-number' || error === 'nothing-due') return error;
  if (error === 'card-declined' || error === 'card-unavailable' || error === 'card-not-after-cash') return error;
  if (error === 'mobile-failed' || error === 'mobile-unavailable' || error === 'mobile-timeout' || error === 'mobile-not-after-cash') return error;
  // Faults that end a transaction are told through the result, not as an input error.
  return null;
}

const OUTCOMES: [RegExp, Outcome][] = [
  [/^paid$/, 'paid'],
  [/^topped-up$/, 'topped-up'],
  [/^customer-cancel/, 'cancelled'],
  [/^timeout/, 'timeout'],
  [/^device-fault/, 'fault'],
  [/^card-unknown$/, 'card-reversed'],
  [/^mobile-revoked$/, 'mobile-revoked'],
];

function slipView(txn: TxnRow, f: FaultFacts, serviceNumber: string, printer: boolean): SlipView {
  const unresolved = f.unresolved.reduce((a, b) => a + b, 0);
  return {
    reasons: f.reasons,
    inserted: txn.cashIn + unresolved,
    card: txn.cardIn,
    credited: txn.credited,
    changePaid: txn.changePaid,
    owed: f.owed,
    unresolved,
    changeCredited: f.changeCredited,
    cardReversed: f.cardReversed,
    claimCode: f.claimCode,
    serviceNumber,
    // Without a printer the slip is queued too (for the record), but nothing failed: there is none.
    paper: !printer ? 'no-printer' : f.slip === 'none' ? 'printing' : f.slip,
  };
}

function resultView(base: ScreenView, r: NonNullable<ScreenInput['result']>, serviceNumber: string, printer: boolean): ScreenView {
  const { txn } = r;
  // A transaction the journal still holds open could not be settled: recovery closes it.
  const outcome: Outcome = txn.status === 'open' ? 'pending' : (OUTCOMES.find(([re]) => re.test(txn.endReason ?? ''))?.[1] ?? 'pending');
  const due = txn.service === 'pay' ? txn.amountDue : null;
  const change = txn.changePaid + txn.changeOwed;
  return {
    ...base,
    screen: 'result',
    txnId: txn.id,
    service: txn.service === 'lookup' ? null : txn.service,
    phone: txn.phone,
    amounts: {
      due,
      inserted: txn.cashIn,
      remaining: due === null ? null : Math.max(0, due - txn.credited),
      change,
      changePaid: txn.changePaid,
      owed: txn.changeOwed,
      credited: txn.credited,
      card: txn.cardIn,
      mobile: txn.mobileIn,
    },
    result: {
      outcome,
      partial: txn.cashIn > 0 && outcome !== 'paid' && outcome !== 'topped-up',
      receipt: r.receipt,
    },
    ...(r.slip ? { screen: 'slip' as const, slip: slipView(txn, r.slip, serviceNumber, printer) } : {}),
    claimCode: r.slip ? r.slip.claimCode : txn.changeOwed > 0 ? txn.claimCode : null,
    deadline: r.deadline,
  };
}
