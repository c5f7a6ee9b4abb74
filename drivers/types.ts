/**
 * Device-class contracts. The machines and the runtime talk only to these; a driver implements
 * exactly one of them and nothing more. Amounts are integers in minor units (fen).
 *
 * Rules every driver follows:
 * - `open()` resolves once the device answered and was brought to a known, safe state (for a bill
 *   validator: reset, configured, inhibited). It rejects with a clear Error when the port cannot be
 *   opened or the device never answers; the driver then keeps retrying by itself with back-off and
 *   reports `health` changes through the `status` event, so a caller may ignore the rejection.
 * - `close()` stops all polling and releases the port; it never throws.
 * - A capability the device lacks is declared in `capabilities`, never patched in at run time.
 * - Drivers never decide about money. They ask through hooks and report through events.
 */
import type { EventEmitter } from 'node:events';
import type { CodeScanner } from './scanner/contract.js';

/** How a driver logs: a plain callback, so drivers do not depend on the service's logging library. */
export type DriverLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

export type DeviceKind = 'bill-validator' | 'coin-acceptor' | 'coin-hopper' | 'card-reader' | 'payment-terminal' | 'printer' | 'code-scanner';

/** ok: usable. degraded: usable with limits. fault: present but unusable. offline: not answering. */
export type Health = 'ok' | 'degraded' | 'fault' | 'offline';

export interface DeviceStatus {
  health: Health;
  /** Short machine-readable code, e.g. 'stacker-full', 'jam-acceptor', 'no-answer'. */
  code: string;
  /** One line for a log or a technician. */
  detail: string;
}

export interface DeviceIdentity {
  kind: DeviceKind;
  model: string;
  /** Firmware / version string as the device reports it, when it does. */
  version?: string;
  serial?: string;
}

// Event maps are type aliases (not interfaces) so they satisfy EventEmitter's Record constraint.
export type DeviceEvents = {
  status: [DeviceStatus];
};

export interface Device<E extends DeviceEvents & Record<keyof E, any[]> = DeviceEvents> extends EventEmitter<E> {
  readonly kind: DeviceKind;
  open(): Promise<void>;
  close(): Promise<void>;
  status(): DeviceStatus;
  identity(): DeviceIdentity;
}

// ---------------------------------------------------------------- bill validator

export interface Note {
  /** Face value in minor units (fen). */
  value: number;
  /** ISO 4217 alphabetic code, e.g. 'CNY'. */
  currency: string;
  /** The device's own code for this note (ID-003 escrow code, eSSP channel, CCNET bill type). */
  code: number;
}

export type EscrowDecision = 'stack' | 'return';

/** Where a note sat when the validator came back from a power cut, as far as the device says. */
export type BillAtPowerUp = 'none' | 'acceptor' | 'stacker';

export interface BillValidatorHooks {
  /**
   * A note is held in escrow. Resolve with the decision; journal it before resolving. The driver
   * sends the matching command only after the promise resolves. A rejection counts as 'return'.
   */
  escrow(note: Note): Promise<EscrowDecision> | EscrowDecision;
  /**
   * The credit point (ID-003 VEND VALID). Resolve only once the credit is durable: the driver
   * acknowledges to the device after it resolves and not before. If it rejects, the driver does not
   * acknowledge and asks again on the next poll.
   * `note` is null when the driver did not see this note's escrow itself (the host restarted
   * between escrow and credit); the caller decides from its journal what the note was.
   */
  credited(note: Note | null): Promise<void> | void;
}

export type BillValidatorEvents = DeviceEvents & {
  /** A note was refused by the device itself (not by our decision). */
  rejected: [{ reason: string; code: number }];
  /** A note we decided to return has left the validator. */
  returned: [Note | null];
  /** The device reported it came back from a power cut, and where a note was. */
  'power-up': [{ bill: BillAtPowerUp }];
};

export interface BillValidatorCapabilities {
  /** The device can keep a note in escrow for a while (ID-003 HOLD, eSSP hold). */
  hold: boolean;
}

export interface BillValidator extends Device<BillValidatorEvents> {
  readonly kind: 'bill-validator';
  readonly capabilities: BillValidatorCapabilities;
  /** Must be called before open(). */
  setHooks(hooks: BillValidatorHooks): void;
  /** The notes this device accepts, as read from the device (ID-003 0x8A), in ascending value. */
  denominations(): readonly Note[];
  /** Accept the listed face values (fen); others are disabled in the device. */
  enable(values: readonly number[]): Promise<void>;
  /** Stop accepting. A note already in escrow is still resolved through the hooks. */
  disable(): Promise<void>;
}

// ---------------------------------------------------------------- declared for later issues

export interface Coin {
  value: number;
  currency: string;
  /** The device's coin position / channel. */
  code: number;
}

export type CoinAcceptorEvents = DeviceEvents & {
  /**
   * A coin was accepted and routed to the cash box. Journal it in the listener, with `counter`:
   * the device's event counter of this coin, which resumeFrom() takes after a restart.
   */
  coin: [Coin, { counter: number }];
  /** Events were lost between polls; counts cannot be trusted for the current transaction. */
  'events-lost': [{ count: number }];
  /**
   * Every device event up to this counter has been reported (after the coins of one read, a
   * start-up or a reset). Events that are not coins move it too: journal it when it differs from
   * the last coin's, so that resumeFrom() after a restart does not take them for lost ones.
   */
  counter: [{ counter: number }];
};

export interface CoinAcceptor extends Device<CoinAcceptorEvents> {
  readonly kind: 'coin-acceptor';
  coins(): readonly Coin[];
  enable(values: readonly number[]): Promise<void>;
  disable(): Promise<void>;
  /**
   * Before the first open: the event counter the host had journalled last. The device keeps
   * accepting while the host is down, so the events after it still in the device's buffer are
   * reported as coins at the open instead of being taken as the baseline.
   */
  resumeFrom(counter: number): void;
  /**
   * Reads the device's buffer now and reports what is in it before resolving. Called after
   * disable(), when a transaction closes: a coin taken just before the inhibit belongs to it, and
   * the next routine poll may come after it has closed.
   */
  drain(): Promise<void>;
}

/** The hopper's own record of its payouts (ccTalk header 166). */
export interface HopperStatus {
  /**
   * Goes up by one with every dispense command the hopper accepted (255 wraps to 1); 0 only after
   * power-up or reset. Comparing it with the value journalled before a dispense tells whether that
   * dispense was accepted: the rule that prevents paying twice.
   */
  event: number;
  /** Coins of the current payout still to pay (0 when idle). */
  remaining: number;
  /** Coins paid by the last payout. Kept across a power cut by the hopper. */
  paid: number;
  /** Coins the last payout could not pay (hopper empty or jammed). */
  unpaid: number;
}

/** The hopper event counter after `event`: 255 wraps to 1, because 0 means "just powered up". */
export function nextHopperEvent(event: number): number {
  return event >= 255 ? 1 : event + 1;
}

export interface CoinHopper extends Device {
  readonly kind: 'coin-hopper';
  /** The value of one coin of this hopper, in minor units (from configuration). */
  readonly coinValue: number;
  /** Configuration name, e.g. 'hopper-100'. */
  readonly name: string;
  readStatus(): Promise<HopperStatus>;
  /**
   * Sends ONE dispense command for `count` coins (1..255) and resolves with the event counter the
   * hopper gave it, without waiting for the coins. The driver never re-sends a dispense whose answer
   * was lost: it reads the status and compares the event counter instead, and rejects when it
   * cannot tell (the caller then settles from readStatus()).
   */
  dispense(count: number): Promise<{ event: number }>;
  /** Polls the status until the payout with this event counter has ended. */
  awaitPayout(event: number): Promise<{ paid: number; unpaid: number }>;
  /** Stops the motor at once; resolves with the coins of the payout left unpaid. */
  emergencyStop(): Promise<number>;
  /** ccTalk test hopper (163): the fault flags the hopper reports, empty when all is well. */
  selfTest(): Promise<string[]>;
}

// ---------------------------------------------------------------- card reader (magnetic stripe)

/** What the rest of the kiosk may know of a card: never the full number, never track data. */
export interface MaskedCard {
  /** First 6 and last 4 digits at most, the rest masked. */
  maskedPan: string;
  /** YYMM as on the stripe. */
  expiry: string;
  /** Keyed hash for matching the same card (HMAC-SHA256 with a key derived from the terminal secret); never reversible. */
  panHash: string;
  /** The tracks the card data was taken from (the others were absent or unreadable). */
  tracks: readonly (1 | 2)[];
}

/** The sensitive part of one read, as views on buffers that wipe() zero-fills. */
export interface SensitiveCardData {
  /** ASCII digits. */
  readonly pan: Buffer;
  /** ASCII YYMM. */
  readonly expiry: Buffer;
  /** Track 1 and track 2 as read, sentinels included, LRC excluded; absent when unreadable. */
  readonly track1: Buffer | undefined;
  readonly track2: Buffer | undefined;
}

/**
 * The only holder of card data in the kiosk. It is handed to the call that sends it to the business
 * system over TLS and wiped right after; it prints, logs and serialises as a redacted placeholder.
 * Strings made from the buffers cannot be wiped: make them only inside `consume`, for the request body.
 */
export interface SensitiveCard {
  readonly wiped: boolean;
  /** Runs `use` with the data, then wipes it whether `use` succeeded or not. Throws when already wiped. */
  consume<T>(use: (data: SensitiveCardData) => Promise<T> | T): Promise<T>;
  /** Zero-fills every buffer. Idempotent. */
  wipe(): void;
}

/** One good read: the masked card for the flow and the journal, the sensitive part for one uplink call. */
export interface CardRead {
  card: MaskedCard;
  sensitive: SensitiveCard;
}

/** Why a swipe gave no card. The reader never says more than this and a short detail without card data. */
export type BadReadReason =
  | 'empty'
  | 'no-start-sentinel'
  | 'no-end-sentinel'
  | 'too-short'
  | 'too-long'
  | 'bad-lrc'
  | 'bad-character'
  | 'bad-format'
  | 'bad-pan'
  | 'tracks-disagree'
  | 'device-error';

export interface CardReaderCapabilities {
  /** The device reports a card entering and leaving (insert readers); swipe readers do not. */
  presence: boolean;
}

export type CardReaderEvents = DeviceEvents & {
  /** A good read while enabled. The listener owns `sensitive` and must consume() or wipe() it. */
  read: [CardRead];
  /** A swipe that gave no card, e.g. 'too-short' for a swipe too fast. */
  'bad-read': [{ reason: BadReadReason; detail: string }];
  /** Only when capabilities.presence. */
  inserted: [];
  removed: [];
};

export interface CardReader extends Device<CardReaderEvents> {
  readonly kind: 'card-reader';
  readonly capabilities: CardReaderCapabilities;
  /** Reads are reported only while enabled; a swipe while disabled is dropped and its data zeroed. */
  enable(): Promise<void>;
  disable(): Promise<void>;
}

// ---------------------------------------------------------------- payment terminal (EMV/PIN, e.g. ZVT)

/**
 * approved: the terminal reported success and completed the command.
 * declined: certain that no money was taken (refused, declined, aborted, or never sent).
 * unknown: anything else (time-out, link lost, approval without completion): the caller reverses.
 */
export type AuthorisationOutcome = 'approved' | 'declined' | 'unknown';

/** A receipt the terminal asked the kiosk to print. */
export interface TerminalReceipt {
  type: 'merchant' | 'customer' | 'administration' | 'unspecified';
  lines: string[];
}

/** What the terminal reported about a payment it booked (status information with result 00). */
export interface ApprovalRecord {
  /** The caller's reference given to authorise(); the terminal does not carry it. */
  ref: string;
  /** Minor units, as the terminal reported it. */
  amount: number;
  /** The handle for reverse(). */
  receiptNo: number;
  trace?: number;
  terminalId?: string;
  /** The card scheme as the terminal names it, e.g. 'VISA'. Never the card number. */
  cardName?: string;
}

export interface AuthorisationResult {
  outcome: AuthorisationOutcome;
  /** Machine-readable cause, e.g. 'approved', 'declined', 'aborted', 'refused', 'not-ready', 'timeout', 'no-completion', 'link-lost'. */
  code: string;
  /** One line for a log or the screen, without card data. */
  detail: string;
  /** The terminal's result code (0 = success) when it sent one. */
  resultCode?: number;
  /** Present once the terminal reported a booking, also when the outcome is unknown. */
  approval?: ApprovalRecord;
  receipts: TerminalReceipt[];
}

export interface ReversalResult {
  /** reversed includes "already reversed"; refused means the terminal said it cannot. */
  outcome: 'reversed' | 'refused' | 'unknown';
  code: string;
  detail: string;
  resultCode?: number;
  receipts: TerminalReceipt[];
}

export interface EndOfDayResult {
  outcome: 'done' | 'refused' | 'unknown';
  code: string;
  detail: string;
  resultCode?: number;
  /** Total booked since the last end of day, minor units, when the terminal reports it. */
  total?: number;
  receipts: TerminalReceipt[];
}

export interface AuthoriseOptions {
  /**
   * Called when the terminal reports the booking, before the driver acknowledges that report to the
   * terminal. Resolve once the approval (with its receipt number) is durable; a rejection makes the
   * outcome 'unknown'.
   */
  approved?(record: ApprovalRecord): Promise<void> | void;
}

/** Intermediate status for the customer screen ("insert card", "enter PIN", "please wait"). */
export interface TerminalProgress {
  stage: 'insert-card' | 'pin' | 'waiting-host' | 'remove-card' | 'please-wait' | 'declined' | 'other';
  /** The terminal's own status code. */
  code: number;
  text: string;
}

export type PaymentTerminalEvents = DeviceEvents & {
  progress: [TerminalProgress];
};

/**
 * A certified payment terminal driven over an ECR protocol. The kiosk never sees card data on this
 * path. One command runs at a time; a second call waits for the first. None of the methods reject
 * on a device or link fault: the fault is in the result's outcome and code.
 */
export interface PaymentTerminal extends Device<PaymentTerminalEvents> {
  readonly kind: 'payment-terminal';
  /** Pays `amount` minor units; `ref` is the caller's transaction reference (logged, echoed in the approval). */
  authorise(amount: number, ref: string, options?: AuthoriseOptions): Promise<AuthorisationResult>;
  /** Reverses a booking by the receipt number the terminal gave it. */
  reverse(receiptNo: number): Promise<ReversalResult>;
  endOfDay(): Promise<EndOfDayResult>;
  /** Asks the terminal to abort the running authorisation (customer cancel); resolves once asked. */
  abort(): Promise<void>;
}

// ---------------------------------------------------------------- printer

export interface ReceiptLine {
  text: string;
  align?: 'left' | 'center' | 'right';
  emphasis?: boolean;
  /** Double width and height, for the amount lines. */
  large?: boolean;
}

export interface Receipt {
  lines: ReceiptLine[];
  /** Content of a QR code printed under the lines (the transaction id). */
  qr?: string;
}

export class PrinterError extends Error {
  constructor(
    /** 'paper-out' | 'cover-open' | 'error' | 'offline' | … */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Printer extends Device {
  readonly kind: 'printer';
  /**
   * Checks the real-time status, prints, cuts, and checks the status again. Resolves only when the
   * printer reported no fault after the job; rejects with a PrinterError otherwise (the receipt may
   * then be partly printed, and the caller keeps it for a reprint).
   */
  print(receipt: Receipt): Promise<void>;
}

export type AnyDevice = BillValidator | CoinAcceptor | CoinHopper | CardReader | PaymentTerminal | Printer | CodeScanner;
