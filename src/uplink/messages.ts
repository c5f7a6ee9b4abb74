/**
 * What the outbox holds, kind by kind, as the business side receives it. The forwarder checks each
 * message against these before sending, so a malformed row is set aside instead of being refused
 * by the server over and over.
 */
import { z } from 'zod';

const phoneSchema = z.string().regex(/^1\d{10}$/);
const fenSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** A settled payment (Journal.settle). */
export const paymentPayloadSchema = z.object({
  messageId: z.string().min(1),
  txnId: z.string().min(1),
  service: z.enum(['pay', 'topup']),
  phone: phoneSchema,
  amount: fenSchema.positive(),
  currency: z.literal('CNY'),
  cashIn: fenSchema,
  settledAt: z.string().min(1),
});
export type PaymentPayload = z.infer<typeof paymentPayloadSchema>;

/** The undoing of an earlier online request whose outcome must not stay half-done (Journal.queueReversal). */
export const reversalPayloadSchema = z.object({
  messageId: z.string().min(1),
  txnId: z.string().min(1),
  /** The message id of the request being undone. */
  reverses: z.string().min(1),
  amount: fenSchema.positive(),
  currency: z.literal('CNY'),
  reason: z.string().min(1),
  createdAt: z.string().min(1),
});
export type ReversalPayload = z.infer<typeof reversalPayloadSchema>;

export const OUTBOX_KINDS = { payment: paymentPayloadSchema, reversal: reversalPayloadSchema } as const;
export type OutboxKind = keyof typeof OUTBOX_KINDS;

export function isOutboxKind(kind: string): kind is OutboxKind {
  return Object.hasOwn(OUTBOX_KINDS, kind);
}
