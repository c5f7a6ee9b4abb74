/**
 * The contract between the local API and the customer's screen. The server derives it from the
 * runtime's machines and the journal; the screen only renders it and answers with intents. Types
 * only, so both the server build and the browser build can import it. Amounts are fen.
 */

export type ScreenName =
  | 'starting'
  | 'home'
  | 'number'
  | 'lookup'
  | 'lookupFailed'
  | 'review'
  | 'cash'
  | 'card'
  /** A wallet payment: the customer's payment code under the scanner, or the kiosk's QR code. */
  | 'mobile'
  | 'finishing'
  | 'result'
  /** A transaction ended with the customer's money not fully delivered: what is owed and the claim code. */
  | 'slip'
  | 'outOfService'
  | 'maintenance';

/** src/domain's PayingService; a copy because the screen is compiled apart from src (see format.ts). */
export type Service = 'pay' | 'topup';

/** Degraded conditions the customer is told about before paying. */
export type Notice =
  /** No hopper can pay change: an excess over the amount due is credited to the account. */
  | 'no-change'
  /** The coin acceptor is not usable: notes only. */
  | 'no-coins'
  /** The printer is not usable: no paper receipt. */
  | 'no-receipt'
  /** The central server is unreachable: only top-ups, forwarded later. */
  | 'offline';

/** Why the kiosk takes no customers. */
export type OutReason = 'no-cash' | 'no-link' | 'boot-failed' | 'operator';

/** What a finished transaction came to (the journal's record, not the screen's guess). */
/** 'card-reversed': the card authorisation's outcome was not known, so it was reversed and nothing paid. */
/** 'mobile-revoked': the wallet payment was not confirmed in time, so it was revoked and nothing paid. */
export type Outcome = 'paid' | 'topped-up' | 'cancelled' | 'timeout' | 'fault' | 'pending' | 'card-reversed' | 'mobile-revoked';

/** What the wallet screen asks of the customer now. */
export type MobileStage = 'show-code' | 'unknown-wallet' | 'requesting' | 'confirming' | 'revoking' | 'scan-qr';

export interface MobileView {
  mode: 'code' | 'qr';
  stage: MobileStage;
  /** The scanned code as the customer may see it (first 2 / last 4 digits). */
  maskedCode: string | null;
  /** The kiosk's QR code as an image (a data URL), once the order exists. */
  qrImage: string | null;
}

/** What the card screen asks of the customer now. */
export type CardStage = 'present' | 'read-error' | 'authorising' | 'pin' | 'wait' | 'remove';

export interface CardView {
  stage: CardStage;
  /** What takes the card: the kiosk's stripe reader (swipe only) or a payment terminal (insert, tap or swipe). */
  via: 'reader' | 'terminal';
  /** First 6 / last 4 at most, once the card is read (stripe reader only). */
  maskedPan: string | null;
}

export type FinishingPhase = 'settling' | 'change' | 'printing' | 'cancelling';

export interface Offers {
  pay: boolean;
  topup: boolean;
  cash: boolean;
  coins: boolean;
  change: boolean;
  /** A card can pay the amount due (a usable payment terminal, or a card reader with the link up). */
  card: boolean;
  /** The wallet ways offered within the running transaction: the customer's code, the kiosk's QR. */
  mobile: ('code' | 'qr')[];
  receipt: boolean;
}

export interface Amounts {
  /** What the account owes; null for a top-up. */
  due: number | null;
  /** Notes and coins taken so far. */
  inserted: number;
  /** Still to pay before the amount due is reached; null for a top-up. */
  remaining: number | null;
  /** Change to be paid back in coins (fixed once the payment settles). */
  change: number;
  changePaid: number;
  /** Change the hoppers could not pay: claimable with the claim code. */
  owed: number;
  /** What goes to the account (the excess too when no change can be paid). */
  credited: number;
  /** Paid by card. */
  card: number;
  /** Paid by a mobile wallet. */
  mobile: number;
}

export interface ResultView {
  outcome: Outcome;
  /** Some money was taken although the transaction did not complete the payment. */
  partial: boolean;
  receipt: 'printed' | 'failed' | 'none';
}

/** Why a fault slip was made (src/journal/fault-slip.ts). */
export type SlipReason = 'note-unresolved' | 'change-owed' | 'change-credited' | 'card-reversed' | 'recovered';

/** The fault slip as the screen shows it, in both languages at once. Amounts in fen. */
export interface SlipView {
  reasons: SlipReason[];
  /** Cash put in, the notes not credited included. */
  inserted: number;
  card: number;
  credited: number;
  changePaid: number;
  /** Change not paid, claimable with the code. */
  owed: number;
  /** Notes the validator kept without crediting them. */
  unresolved: number;
  /** Owed change credited to the phone account instead. */
  changeCredited: number;
  /** Card payments reversed: nothing was charged. */
  cardReversed: number;
  claimCode: string | null;
  /** The operator's service number. */
  serviceNumber: string;
  /** The paper slip: printed, waiting for a reprint (the printer could not), still printing, or none (no printer fitted). */
  paper: 'printed' | 'queued' | 'printing' | 'no-printer';
}

export interface ScreenView {
  screen: ScreenName;
  /** The running (or just finished) transaction's id, so a screen can tell one customer from the next. */
  txnId: string | null;
  service: Service | null;
  phone: string | null;
  holder: string | null;
  amounts: Amounts | null;
  /** While taking cash: the note and coin values that would be taken now. */
  accepts: { notes: number[]; coins: number[] } | null;
  phase: FinishingPhase | null;
  /** On the card screen. */
  card: CardView | null;
  /** On the wallet screen. */
  mobile: MobileView | null;
  result: ResultView | null;
  /** On the slip screen. */
  slip: SlipView | null;
  claimCode: string | null;
  /**
   * Why the last input was refused: 'bad-number', 'nothing-due', 'unknown-account', 'lookup-failed',
   * 'card-declined', 'card-unavailable', 'card-not-after-cash', 'mobile-failed', 'mobile-unavailable',
   * 'mobile-timeout', 'mobile-not-after-cash'.
   */
  error: string | null;
  /** The wallet gateway's reason with 'mobile-failed' (e.g. 'insufficient-balance', 'code-expired'). */
  errorReason: string | null;
  offers: Offers;
  notices: Notice[];
  /** When the screen gives up waiting for the customer (epoch ms on the server's clock). */
  deadline: { at: number; totalMs: number } | null;
  reason: OutReason | null;
}

/** What travels to the screen: the view plus the server's clock, to count down without clock skew. */
export interface ScreenMessage {
  view: ScreenView;
  serverTime: number;
}

export type Intent =
  | { type: 'start'; service: Service }
  | { type: 'number'; phone: string }
  | { type: 'confirm' }
  | { type: 'card' }
  | { type: 'mobile'; mode: 'code' | 'qr' }
  | { type: 'done' }
  | { type: 'cancel' }
  | { type: 'activity' };
