/** The transaction machine's vocabulary: its input, context, events, and the inputs and outputs of its actors. */
import type { Service } from '../src/domain/service.js';
import type { HopperSupply } from './change.js';
import type { TransactionLimits } from './escrow.js';

export type { Service } from '../src/domain/service.js';

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
  /** Wallet payment: the customer showing the payment code. Default: cashMs. */
  mobileScanMs?: number;
  /** Wallet payment: the gateway's answer to the charge, before the kiosk starts asking. Default: lookupMs. */
  mobileChargeMs?: number;
  /** Wallet payment: pause between queries while the customer confirms. Default: 3000. */
  mobileQueryIntervalMs?: number;
  /** Wallet payment: how long the kiosk queries before it revokes. Default: 45000. */
  mobileQueryLimitMs?: number;
  /** The kiosk's QR code: how long the customer has to pay it before the order is closed. Default: 120000. */
  mobileQrMs?: number;
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
  /** Wallet payment offered: 'code' (the scanner and the gateway), 'qr' (the gateway only), both, or none. */
  mobile?: readonly MobileMode[];
}

/** 'code': the customer's payment code under the kiosk's scanner; 'qr': the customer scans the kiosk's QR code. */
export type MobileMode = 'code' | 'qr';

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
  | 'card-unknown'
  /** The wallet payment was not known to be paid in time: revoked (or the order closed), never paid. */
  | 'mobile-revoked';

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
  /** Wallet modes offered for this transaction. */
  mobileModes: readonly MobileMode[];
  /** The wallet payment under way, once chosen. */
  mobileMode: MobileMode | null;
  /** Paid by a wallet (fen), set at the credit point. */
  mobileIn: number;
  /** What the wallet screen shows: 'show-code', 'unknown-wallet', 'requesting', 'confirming', 'revoking', 'scan-qr'. */
  mobileStage: string | null;
  /** The gateway's id of the payment under way (journalled before it was sent). */
  paymentId: string | null;
  /** The scanned code as the customer may see it (first 2 / last 4 digits); never the code. */
  maskedCode: string | null;
  /** The kiosk's QR: what it encodes and until when it may be paid. */
  qr: { codeUrl: string; expiresAt: string } | null;
  /** Why the wallet payment is being given up, once decided. */
  mobileStop: MobileStop | null;
  /** The gateway's reason for a failed wallet payment, shown at the review. */
  mobileReason: string | null;
}

export type MobileStop = 'customer' | 'timeout' | 'query-limit';

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
  /** The customer chose to pay the amount due with a wallet (at the review, before any cash). */
  | { type: 'MOBILE'; mode: MobileMode }
  | NoteEscrowed
  | MobileProgress
  | MobileResult
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

/** From the startMobile actor: what the customer should see now. */
export interface MobileProgress {
  type: 'MOBILE_PROGRESS';
  stage: 'show-code' | 'unknown-wallet' | 'requesting' | 'scan-qr';
  /** Journalled before sending: from here only the gateway's answer or a revoke ends the payment. */
  paymentId?: string;
  maskedCode?: string;
  qr?: { codeUrl: string; expiresAt: string };
}

/**
 * From the startMobile actor once its outcome is journalled. paid: credited. failed and
 * unavailable: no money moved. cancelled: stopped before anything was sent. confirming: ask again.
 * unknown: no answer: ask again. revoked: the kiosk had already decided to revoke; never credited.
 */
export interface MobileResult {
  type: 'MOBILE_RESULT';
  outcome: 'paid' | 'failed' | 'unavailable' | 'cancelled' | 'confirming' | 'unknown' | 'revoked';
  reason?: string;
}

export interface StartMobileInput {
  id: string;
  mode: MobileMode;
  /** Exactly the amount due, fen. */
  amount: number;
}
/** Sent to the running startMobile actor: stop waiting for a code (ignored once the code was sent). */
export interface StopMobile {
  type: 'STOP';
}
export interface QueryMobileInput {
  id: string;
  paymentId: string;
}
/** What a query found, journalled: 'revoked' when the kiosk had decided to revoke before. */
export interface QueryMobileOutput {
  outcome: 'paid' | 'failed' | 'confirming' | 'unknown' | 'revoked';
  reason?: string;
}
export interface RevokeMobileInput {
  id: string;
  paymentId: string;
  reason: string;
}
/** 'revoked': the revoke is journalled and queued. 'paid': the payment was credited before the decision. */
export interface RevokeMobileOutput {
  outcome: 'revoked' | 'paid';
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
  /** Paid by a wallet, fen; present only when a wallet paid. */
  mobileIn?: number;
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

/**
 * Sent by the runtime when the validator holds a note in escrow. The machine answers at once with
 * an emitted EscrowAnswer: whether it is taking cash now and, if so, what the escrow rule says.
 */
export interface NoteEscrowed {
  type: 'NOTE_ESCROWED';
  value: number;
}

/** Emitted in answer to NOTE_ESCROWED. */
export interface EscrowAnswer {
  type: 'escrow';
  /** The machine is taking cash for this customer; when false the note is not this transaction's. */
  takingCash: boolean;
  decision: 'stack' | 'return';
}
