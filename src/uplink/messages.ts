/**
 * What the outbox holds, kind by kind, as the business side receives it. The forwarder checks each
 * message against these before sending, so a malformed row is set aside instead of being refused
 * by the server over and over.
 */
import { z } from 'zod';
import { CURRENCY } from '../domain/money.js';
import { PHONE_PATTERN } from '../domain/phone.js';
import { PAYING_SERVICES } from '../domain/service.js';

const phoneSchema = z.string().regex(PHONE_PATTERN);
const fenSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** What a payment says of its card part. Never the card number: at most first 6 and last 4 digits. */
export const paymentCardSchema = z
  .object({
    method: z.enum(['reader', 'terminal']),
    /** Reader path: the requestId of the authorisation that approved it. */
    requestId: z.string().min(1).optional(),
    /** Terminal path: the terminal's receipt number of the booking. */
    receiptNo: z.number().int().nonnegative().optional(),
    maskedPan: z.string().regex(/^\d{0,6}\*+\d{0,4}$/, 'must be masked (first 6 / last 4 digits at most)').optional(),
  })
  .refine((c) => c.method !== 'reader' || c.requestId !== undefined, { message: 'a reader payment names its authorisation (requestId)', path: ['requestId'] });

/** Which wallet payment paid a bill: its id at the gateway, never the payment code. */
export const paymentMobileSchema = z.object({
  paymentId: z.string().min(1),
  mode: z.enum(['code', 'qr']),
  wallet: z.string().min(1),
});

/** A settled payment (Journal.settle). Cash payments carry no card fields. */
export const paymentPayloadSchema = z
  .object({
    messageId: z.string().min(1),
    txnId: z.string().min(1),
    service: z.enum(PAYING_SERVICES),
    phone: phoneSchema,
    amount: fenSchema.positive(),
    currency: z.literal(CURRENCY),
    cashIn: fenSchema,
    /** What the card paid, in fen; absent means 0. */
    cardIn: fenSchema.optional(),
    card: paymentCardSchema.optional(),
    /** What a mobile wallet paid, in fen; absent means 0. */
    mobileIn: fenSchema.optional(),
    mobile: paymentMobileSchema.optional(),
    settledAt: z.string().min(1),
  })
  .refine((p) => ((p.cardIn ?? 0) > 0) === (p.card !== undefined), { message: 'a card part (cardIn > 0) and its card go together', path: ['card'] })
  .refine((p) => ((p.mobileIn ?? 0) > 0) === (p.mobile !== undefined), { message: 'a wallet part (mobileIn > 0) and its payment go together', path: ['mobile'] });
export type PaymentPayload = z.infer<typeof paymentPayloadSchema>;

/** The undoing of an earlier online request whose outcome must not stay half-done (Journal.queueReversal). */
export const reversalPayloadSchema = z.object({
  messageId: z.string().min(1),
  txnId: z.string().min(1),
  /** The message id of the request being undone. */
  reverses: z.string().min(1),
  amount: fenSchema.positive(),
  currency: z.literal(CURRENCY),
  reason: z.string().min(1),
  createdAt: z.string().min(1),
});
export type ReversalPayload = z.infer<typeof reversalPayloadSchema>;

/**
 * Money the kiosk holds for a customer (Journal.noteUnresolved, Journal.settleOwedChange): a note it
 * neither stacked nor returned, or change it could not pay. 'open' is paid by staff against the
 * claim code; 'confirmed' names an open claim a cash count proved (same claimId); 'credited' asks
 * the server to top the phone account up with owed change.
 */
export const claimPayloadSchema = z
  .object({
    messageId: z.string().min(1),
    claimId: z.string().min(1),
    txnId: z.string().min(1),
    claimCode: z.string().min(1),
    reason: z.enum(['note-unresolved', 'change-owed']),
    status: z.enum(['open', 'confirmed', 'credited']),
    phone: phoneSchema.nullable(),
    amount: fenSchema.positive(),
    currency: z.literal(CURRENCY),
    denomination: fenSchema.positive().optional(),
    collection: z.number().int().nonnegative().optional(),
    createdAt: z.string().min(1),
  })
  .refine((c) => (c.reason === 'note-unresolved') === (c.denomination !== undefined), { message: 'a note claim names its note, only it', path: ['denomination'] })
  .refine((c) => c.status !== 'credited' || (c.reason === 'change-owed' && c.phone !== null), { message: 'only owed change is credited, to a phone account', path: ['status'] })
  .refine((c) => (c.status === 'confirmed') === (c.collection !== undefined), { message: 'a confirmation names its collection', path: ['collection'] });
export type ClaimPayload = z.infer<typeof claimPayloadSchema>;

/**
 * The undoing of a wallet payment not known to be paid (Journal.mobile.unknown): 'revoke' for a
 * scanned code, 'close' for an order shown as a QR. The gateway acknowledges it only once done, so
 * the forwarder sends it until it is.
 */
export const mobileRevokePayloadSchema = z.object({
  messageId: z.string().min(1),
  txnId: z.string().min(1),
  paymentId: z.string().min(1),
  action: z.enum(['revoke', 'close']),
  amount: fenSchema.positive(),
  currency: z.literal(CURRENCY),
  reason: z.string().min(1),
  createdAt: z.string().min(1),
});
export type MobileRevokePayload = z.infer<typeof mobileRevokePayloadSchema>;

export const OUTBOX_KINDS = {
  payment: paymentPayloadSchema,
  reversal: reversalPayloadSchema,
  claim: claimPayloadSchema,
  'mobile-revoke': mobileRevokePayloadSchema,
} as const;
export type OutboxKind = keyof typeof OUTBOX_KINDS;

export function isOutboxKind(kind: string): kind is OutboxKind {
  return Object.hasOwn(OUTBOX_KINDS, kind);
}
