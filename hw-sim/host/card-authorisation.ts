/**
 * The reference host's card authorisation service (envelope service 0x0103): what it answers, and
 * how a scenario chooses the answer, per terminal through the admin endpoint or per card through
 * the test card numbers below. It stands in for an acquirer, so it keeps the masked number only.
 */
import { z } from 'zod';
import { CURRENCY, PHONE_PATTERN } from '../../src/domain/index.js';

/**
 * approve: approves and answers. decline: declines ('insufficient-funds') and answers.
 * timeout: approves and records, then never answers. drop-after-approve: approves and records,
 * then drops the connection instead of answering. bad-answer: approves and records, then answers
 * with a body the kiosk cannot use. Every behaviour but decline leaves an approval the kiosk must
 * reverse unless it got the answer.
 */
export const CARD_BEHAVIOURS = ['approve', 'decline', 'timeout', 'drop-after-approve', 'bad-answer'] as const;
export type CardBehaviour = (typeof CARD_BEHAVIOURS)[number];

/** A terminal's card mode: 'by-card' (the default) lets the card number decide. */
export const CARD_MODES = ['by-card', ...CARD_BEHAVIOURS] as const;
export type CardMode = (typeof CARD_MODES)[number];

/**
 * Test card numbers with a fixed behaviour (they pass the check digit and are never issued); any
 * other number is approved. The decline reason is part of the behaviour.
 */
export const TEST_PANS: Readonly<Record<string, { behaviour: CardBehaviour; reason?: string }>> = {
  '4000000000000002': { behaviour: 'decline', reason: 'do-not-honour' },
  '4000000000009995': { behaviour: 'decline', reason: 'insufficient-funds' },
  '4000000000000119': { behaviour: 'timeout' },
  '4000000000000259': { behaviour: 'drop-after-approve' },
  '4000000000000341': { behaviour: 'bad-answer' },
};

const DEFAULT_DECLINE = 'insufficient-funds';

export interface CardDecision {
  behaviour: CardBehaviour;
  /** For 'decline'. */
  reason?: string;
}

/** The terminal's mode wins; under 'by-card' the test card numbers decide, and anything else is approved. */
export function decide(mode: CardMode, pan: string): CardDecision {
  if (mode !== 'by-card') return mode === 'decline' ? { behaviour: mode, reason: DEFAULT_DECLINE } : { behaviour: mode };
  return TEST_PANS[pan] ?? { behaviour: 'approve' };
}

/** First 6 and last 4 digits at most, with at least 4 masked, as the kiosk masks. */
export function maskPan(pan: string): string {
  const last = Math.min(4, Math.max(0, pan.length - 4));
  const first = Math.min(6, Math.max(0, pan.length - last - 4));
  return pan.slice(0, first) + '*'.repeat(pan.length - first - last) + pan.slice(pan.length - last);
}

export const cardRequestBody = z.object({
  requestId: z.string().min(1).max(200),
  txnId: z.string().min(1).max(200),
  phone: z.string().regex(PHONE_PATTERN),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  currency: z.literal(CURRENCY),
  card: z.object({
    pan: z.string().regex(/^\d{12,19}$/),
    expiry: z.string().regex(/^\d{4}$/),
    track2: z.string().max(40).optional(),
  }),
});
export type CardRequest = z.infer<typeof cardRequestBody>;

/** Where a card request is malformed, by field path and problem only: the values may be card data. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.code}`).join('; ');
}

export type CardAnswerBody =
  | { requestId: string; outcome: 'approved'; authCode: string; serverRef: string }
  | { requestId: string; outcome: 'declined'; reason: string };
