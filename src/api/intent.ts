import { z } from 'zod';
import type { TransactionEvent } from '../../states/transaction.js';
import type { TransactionDesk } from '../desk/desk.js';
import { PAYING_SERVICES } from '../domain/service.js';
import type { Intent } from '../ui/view-model.js';
import type { ScreenState } from './screen-state.js';

export const intentSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), service: z.enum(PAYING_SERVICES) }).strict(),
  // The machine checks the number; this only keeps junk out of it and out of the journal.
  z.object({ type: z.literal('number'), phone: z.string().regex(/^\d{1,20}$/) }).strict(),
  z.object({ type: z.literal('confirm') }).strict(),
  z.object({ type: z.literal('card') }).strict(),
  z.object({ type: z.literal('mobile'), mode: z.enum(['code', 'qr']) }).strict(),
  z.object({ type: z.literal('done') }).strict(),
  z.object({ type: z.literal('cancel') }).strict(),
  z.object({ type: z.literal('activity') }).strict(),
]) satisfies z.ZodType<Intent>;

export type IntentResult = { ok: true; note?: string } | { ok: false; status: 409; error: string };

const EVENTS: Record<Exclude<Intent['type'], 'start' | 'number' | 'mobile'>, TransactionEvent> = {
  confirm: { type: 'CONFIRM' },
  card: { type: 'CARD' },
  done: { type: 'DONE' },
  cancel: { type: 'CANCEL' },
  activity: { type: 'ACTIVITY' },
};

/**
 * What the customer asked for, passed to the runtime exactly as the control socket would pass it.
 * An intent the running transaction cannot take now (a stale screen, a double tap) is refused.
 */
export function applyIntent(intent: Intent, desk: TransactionDesk, screen: ScreenState): IntentResult {
  const refuse = (error: string): IntentResult => ({ ok: false, status: 409, error });
  if (intent.type === 'start') {
    if (desk.active()) return refuse('a transaction is already running');
    screen.dismiss();
    try {
      desk.start(intent.service);
    } catch (e) {
      return refuse((e as Error).message);
    }
    return { ok: true };
  }
  const a = desk.active();
  if (!a) {
    // Without a transaction, done and cancel close the summary of the last one.
    if (intent.type === 'done' || intent.type === 'cancel') return screen.dismiss() ? { ok: true } : refuse('nothing to close');
    if (intent.type === 'activity') return { ok: true };
    return refuse('no transaction is running');
  }
  const event: TransactionEvent =
    intent.type === 'number'
      ? { type: 'NUMBER', phone: intent.phone }
      : intent.type === 'mobile'
        ? { type: 'MOBILE', mode: intent.mode }
        : EVENTS[intent.type];
  if (!a.actor.getSnapshot().can(event)) return refuse(`'${intent.type}' is not possible now`);
  const r = desk.customer(event);
  if (!r.ok) return refuse(r.error);
  return typeof r.deferred === 'string' ? { ok: true, note: r.deferred } : { ok: true };
}
