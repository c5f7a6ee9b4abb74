import type { EventType } from '../../src/journal/index.js';
import { Chooser } from './prng.js';
import type { WalletBehaviour } from '../wallet-codes.js';

/** Notes and coins the chaos customer carries (fen); the emulators and the runtime's limits take all of them. */
export const NOTE_VALUES = [100, 500, 1000, 2000, 5000] as const;
export const COIN_VALUES = [50, 100] as const;

export interface Piece {
  device: 'validator' | 'coin';
  value: number;
}

/**
 * How the customer leaves: pays in full, presses cancel, or walks away (the kiosk's time-out ends
 * it). `after` is the number of pieces put in before leaving; 0 with `atReview` leaves before cash.
 */
export type Ending = { kind: 'pay' } | { kind: 'cancel' | 'walk-away'; after: number; atReview: boolean };

/**
 * One cash transaction as the customer means it. Coins go in before notes (as in the soak): a coin
 * cannot be handed back, so it never completes a payment a note could have overpaid.
 */
export interface CashStep {
  kind: 'cash';
  phone: string;
  amountDue: number;
  pieces: Piece[];
  ending: Ending;
}

/**
 * What the card's issuer makes of it. On the reader path these are the reference server's test
 * cards; on the terminal path the ZVT emulator's outcome for the next authorisation. 'auth-timeout'
 * and 'drop-after-approve' approve, then leave the kiosk without the answer: it must reverse.
 */
export const CARD_OUTCOMES = ['approve', 'decline', 'auth-timeout', 'drop-after-approve'] as const;
export type CardOutcome = (typeof CARD_OUTCOMES)[number];

/**
 * A bill paid by card at the review. When the card does not pay (declined, or the kiosk offers no
 * card right now: the reader needs the server) the customer goes on with `cash` as a cash step from
 * the review, its bill being the card's amount.
 */
export interface CardStep {
  kind: 'card';
  outcome: CardOutcome;
  cash: CashStep;
}

/** What the customer does with the kiosk's QR code: pays it with the phone, leaves (cancel), or lets it run out. */
export const WALLET_OUTCOMES = ['pay', 'leave', 'expire'] as const;
export type WalletOutcome = (typeof WALLET_OUTCOMES)[number];

/**
 * A bill paid with a wallet at the review: the kiosk's QR code, or the customer's payment code of
 * `behaviour` shown to the scanner ('leave': the customer cancels while confirming). When the way
 * is not offered (the link is down, the scanner not usable) the QR is tried, then the customer pays `cash`.
 */
export interface MobileStep {
  kind: 'mobile';
  mode: 'qr' | 'code';
  outcome: WalletOutcome;
  /** For a payment code: what the reference gateway does with it (hw-sim/wallet-codes.ts). */
  behaviour?: WalletBehaviour;
  cash: CashStep;
}

/** What the customer does in one turn at the kiosk; the session's switch on `kind` says how it runs. */
export type SessionStep = CashStep | CardStep | MobileStep;

/** How cards are taken in a run: a stripe reader with the server's authorisation, or a ZVT payment terminal. */
export type CardPath = 'reader' | 'terminal';

/** Journal event types whose commit can be followed by an injected SIGKILL (see hw-sim/crash-seam.ts). */
export const CRASH_POINTS = [
  'txn.started',
  'txn.lookup',
  'note.escrowed',
  'note.stacked',
  'note.returned',
  'coin.accepted',
  'txn.settled',
  'txn.cancelled',
  'payout.intended',
  'payout.started',
  'payout.done',
  'receipt.printed',
  'receipt.failed',
  'recovery.decision',
  'terminal.state',
] as const satisfies readonly EventType[];

/** Crash points of a card payment, drawn instead of CRASH_POINTS for some kills of a run with card steps. */
export const CARD_CRASH_POINTS = ['card.requested', 'card.approved', 'card.declined', 'card.unknown', 'txn.reversal'] as const satisfies readonly EventType[];

/** Crash points of a wallet payment, drawn for some kills of a run with wallet steps. */
export const MOBILE_CRASH_POINTS = ['mobile.requested', 'mobile.paid', 'mobile.unknown', 'mobile.revoked'] as const satisfies readonly EventType[];

/** A catalogue event type, or `type#n`: the n-th commit of that type. */
export type CrashPoint = EventType | `${EventType}#${string}`;

/**
 * 'crash-after': the next runtime started is armed to SIGKILL itself right after the commit of the
 * n-th event of that type (it may never come: then no kill). 'timed': SIGKILL from outside,
 * `delayMs` after transaction `step` began, wherever the kiosk is then.
 */
export type KillPlan =
  | { kind: 'crash-after'; point: CrashPoint }
  | { kind: 'timed'; step: number; delayMs: number }
  /** SIGKILL `delayMs` after the card was presented in (card) step `step`: during the authorisation. */
  | { kind: 'card-timed'; step: number; delayMs: number }
  /** SIGKILL `delayMs` after the kiosk's QR was shown in (wallet) step `step`: during the query loop. */
  | { kind: 'mobile-timed'; step: number; delayMs: number };

export type FaultPlan =
  /** The validator jams while the step's first note is being stacked; cleared once the step ended. */
  | { kind: 'validator-jam'; step: number }
  /** The hopper runs out of coins before the step (the journal still believes it full). */
  | { kind: 'hopper-empty'; step: number; hopper: 'h100' | 'h50' }
  /** The printer runs out of paper before the step; a fresh roll after step `clearAfter` (never if past the end). */
  | { kind: 'paper-out'; step: number; clearAfter: number };

/** The server goes down `delayMs` into step `downAt` and comes back once step `upAfter` has ended. */
export interface OutagePlan {
  downAt: number;
  delayMs: number;
  upAfter: number;
}

export interface RunPlan {
  seed: number;
  /** Every run has a card device fitted: the reader, or in a share of runs the terminal instead. */
  cardPath: CardPath;
  steps: SessionStep[];
  kills: KillPlan[];
  fault: FaultPlan;
  outage: OutagePlan;
}

/** The whole run from its seed alone: the same seed gives the same plan. */
export function generatePlan(seed: number): RunPlan {
  const c = new Chooser(seed);
  const count = c.int(1, 4);
  const cardPath: CardPath = c.chance(0.3) ? 'terminal' : 'reader';
  const steps = Array.from({ length: count }, (_, i): SessionStep => {
    const cash = cashStep(c, i);
    if (!c.chance(0.45)) return cash;
    return { kind: 'card', outcome: c.weighted({ approve: 5, decline: 3, 'auth-timeout': 2, 'drop-after-approve': 2 }), cash };
  });
  const cardSteps = steps.flatMap((s, i) => (s.kind === 'card' ? [i] : []));
  const kills = Array.from({ length: Number(c.weighted({ 1: 5, 2: 3, 3: 2 })) }, () => killPlan(c, count, cardSteps));
  const downAt = c.int(0, count - 1);
  const plan: RunPlan = {
    seed,
    cardPath,
    steps,
    kills,
    fault: faultPlan(c, steps),
    outage: { downAt, delayMs: c.int(0, 2500), upAfter: c.int(downAt, count - 1) },
  };
  addWallet(plan);
  return plan;
}

/**
 * Wallet steps and kills, drawn from a chooser of their own after everything else, so that what a
 * seed drew before wallets existed is drawn the same: some cash steps (not one the validator jams
 * in) become wallet steps, and in half of the runs with one a kill becomes a wallet kill.
 */
function addWallet(plan: RunPlan): void {
  const c = new Chooser(plan.seed ^ 0x6d6f6231);
  plan.steps = plan.steps.map((s, i) => {
    if (s.kind !== 'cash' || (plan.fault.kind === 'validator-jam' && plan.fault.step === i) || !c.chance(0.3)) return s;
    return { kind: 'mobile', mode: 'qr', outcome: c.weighted({ pay: 5, leave: 2, expire: 2 }), cash: s };
  });
  // Code or QR, and the code's behaviour, from a third chooser: the draws above stay as they were.
  const m = new Chooser(plan.seed ^ 0x636f6465);
  for (const s of plan.steps) {
    if (s.kind !== 'mobile' || !m.chance(0.6)) continue;
    s.mode = 'code';
    s.behaviour = m.weighted({
      paid: 4,
      'paid-after-confirm': 3,
      'failed-insufficient-balance': 1,
      'failed-code-expired': 1,
      'failed-code-used': 1,
      'no-answer': 1,
      'answer-lost-after-paying': 2,
      'paid-after-revoke-sent': 2,
      'confirming-forever': 1,
    });
  }
  const walletSteps = plan.steps.flatMap((s, i) => (s.kind === 'mobile' ? [i] : []));
  if (walletSteps.length === 0 || !c.chance(0.5)) return;
  const k = c.int(0, plan.kills.length - 1);
  if (c.chance(0.4)) {
    plan.kills[k] = { kind: 'mobile-timed', step: c.pick(walletSteps), delayMs: c.int(0, 2500) };
  } else {
    const point = c.pick(MOBILE_CRASH_POINTS);
    plan.kills[k] = { kind: 'crash-after', point: c.chance(0.3) ? `${point}#2` : point };
  }
}

function cashStep(c: Chooser, index: number): CashStep {
  const coins = c.weighted({ 0: 5, 1: 3, 2: 2 });
  const notes = c.weighted({ 1: 6, 2: 3, 0: 1 });
  const pieces: Piece[] = [
    ...Array.from({ length: Number(coins) }, (): Piece => ({ device: 'coin', value: c.pick(COIN_VALUES) })),
    ...Array.from({ length: Number(notes) }, (): Piece => ({ device: 'validator', value: c.pick(NOTE_VALUES) })),
  ];
  if (pieces.length === 0) pieces.push({ device: 'validator', value: c.pick(NOTE_VALUES) });
  const total = pieces.reduce((a, p) => a + p.value, 0);
  const last = pieces[pieces.length - 1]!.value;
  const kind = c.weighted({ exact: 7, overpay: 5, cancel: 4, 'walk-away': 4 });
  // Change smaller than the last piece, so that the last piece (and only it) completes the payment.
  const changes = [50, 100, 150, 200, 300, 500].filter((ch) => ch < last);
  const change = kind === 'overpay' && changes.length > 0 ? c.pick(changes) : 0;
  const ending: Ending =
    kind === 'cancel' || kind === 'walk-away'
      ? (() => {
          const after = c.int(0, pieces.length - 1);
          return { kind, after, atReview: after === 0 && c.chance(0.4) };
        })()
      : { kind: 'pay' };
  return { kind: 'cash', phone: `1390000${String(index + 1).padStart(4, '0')}`, amountDue: total - change, pieces, ending };
}

function killPlan(c: Chooser, steps: number, cardSteps: number[]): KillPlan {
  if (cardSteps.length > 0 && c.chance(0.5)) {
    if (c.chance(0.4)) return { kind: 'card-timed', step: c.pick(cardSteps), delayMs: c.int(0, 2500) };
    const point = c.pick(CARD_CRASH_POINTS);
    const nth = c.weighted({ 1: 6, 2: 3 });
    return { kind: 'crash-after', point: nth === '1' ? point : `${point}#${nth}` };
  }
  if (c.chance(0.55)) {
    const point = c.pick(CRASH_POINTS);
    const nth = c.weighted({ 1: 6, 2: 3, 3: 1 });
    return { kind: 'crash-after', point: nth === '1' ? point : `${point}#${nth}` };
  }
  return { kind: 'timed', step: c.int(0, steps - 1), delayMs: c.int(0, 4000) };
}

/** The cash a step may take: a card step's only if its card does not pay. */
export function cashOf(s: SessionStep): CashStep {
  return s.kind === 'cash' ? s : s.cash;
}

function faultPlan(c: Chooser, steps: SessionStep[]): FaultPlan {
  const withNote = steps.flatMap((s, i) => (cashOf(s).pieces.some((p) => p.device === 'validator') ? [i] : []));
  const kind = c.weighted({ 'validator-jam': withNote.length > 0 ? 1 : 0, 'hopper-empty': 1, 'paper-out': 1 });
  const step = kind === 'validator-jam' ? c.pick(withNote) : c.int(0, steps.length - 1);
  if (kind === 'validator-jam') return { kind, step };
  if (kind === 'hopper-empty') return { kind, step, hopper: c.pick(['h100', 'h50'] as const) };
  return { kind: 'paper-out', step, clearAfter: c.int(step, steps.length) };
}

/** The plan in one line, for the run's report. */
export function describePlan(p: RunPlan): string {
  const steps = p.steps.map((step) => {
    const s = cashOf(step);
    const pieces = s.pieces.map((x) => (x.device === 'coin' ? `c${x.value}` : `n${x.value}`)).join('+');
    const end = s.ending.kind === 'pay' ? '' : ` ${s.ending.kind}@${s.ending.atReview ? 'review' : s.ending.after}`;
    const wallet = step.kind === 'mobile' ? (step.mode === 'code' ? `wallet code ${step.behaviour ?? 'paid'} ${step.outcome}` : `wallet qr ${step.outcome}`) : '';
    const card = step.kind === 'card' ? `card ${step.outcome}, else ` : step.kind === 'mobile' ? `${wallet}, else ` : '';
    return `due ${s.amountDue} ${card}[${pieces}]${end}`;
  });
  const kills = p.kills.map((k) =>
    k.kind === 'crash-after'
      ? `after ${k.point}`
      : k.kind === 'timed'
        ? `kill ${k.delayMs} ms into #${k.step + 1}`
        : k.kind === 'card-timed'
          ? `kill ${k.delayMs} ms after the card in #${k.step + 1}`
          : `kill ${k.delayMs} ms after the QR in #${k.step + 1}`,
  );
  const f = p.fault;
  const fault = f.kind === 'hopper-empty' ? `${f.hopper} empty before #${f.step + 1}` : `${f.kind} at #${f.step + 1}`;
  return `${p.cardPath} | ${steps.join('; ')} | kills: ${kills.join(', ')} | fault: ${fault} | server down ${p.outage.delayMs} ms into #${p.outage.downAt + 1}, up after #${p.outage.upAfter + 1}`;
}
