/**
 * The wallet services over the envelope link (docs/business-link.md, "Mobile wallet payments"):
 * charge by code (0x0110), query (0x0111), create order (0x0112). The payment code never becomes a
 * string: the request body is assembled as bytes with the code's bytes copied in, zeroed as soon
 * as the session has framed it, and the code is wiped before the answer is awaited.
 */
import { z } from 'zod';
import type { SensitiveCode } from '../../../drivers/scanner/contract.js';
import { CURRENCY } from '../../domain/money.js';
import { UplinkError } from '../errors.js';
import type { MobileAnswer, MobileChargeRequest, MobileOrder, MobileOrderRequest } from '../mobile.js';
import { ErrorCode, Service } from './envelope.js';
import type { Answer, LinkSession } from './session.js';

const mobileAnswer = z.discriminatedUnion('outcome', [
  z.object({ paymentId: z.string(), outcome: z.literal('paid'), gatewayRef: z.string().min(1).max(200) }),
  z.object({ paymentId: z.string(), outcome: z.literal('failed'), reason: z.string().min(1).max(500) }),
  z.object({ paymentId: z.string(), outcome: z.literal('confirming') }),
]);

const orderAnswer = z.object({
  paymentId: z.string(),
  codeUrl: z.string().min(1).max(2000),
  expiresAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be a date-time'),
});

const errorBody = z.object({ error: z.string(), detail: z.string().optional() });

export async function chargeByCode(session: LinkSession, request: MobileChargeRequest, code: SensitiveCode): Promise<MobileAnswer> {
  const what = `wallet charge ${request.paymentId}`;
  let sent: { answer: Promise<Answer> };
  try {
    if (!session.up) throw new UplinkError('unreachable', `${what}: the business link is down`);
    sent = await code.consume((bytes) => {
      const body = chargeBody(request, bytes);
      try {
        // Wrapped so that consume() does not wait for the answer to wipe the code.
        return { answer: session.requestBytes(Service.chargeByCode, body) };
      } finally {
        body.fill(0);
      }
    });
  } catch (err) {
    if (err instanceof UplinkError) throw err;
    throw new UplinkError('unreachable', `${what} not sent: ${(err as Error).message}`, { cause: err });
  } finally {
    code.wipe();
  }
  return answerOf(what, request.paymentId, await sent.answer);
}

export async function queryMobile(session: LinkSession, q: { paymentId: string; txnId: string }): Promise<MobileAnswer> {
  const what = `wallet query ${q.paymentId}`;
  if (!session.up) throw new UplinkError('unreachable', `${what}: the business link is down`);
  return answerOf(what, q.paymentId, await session.request(Service.queryMobile, q));
}

export async function createOrder(session: LinkSession, r: MobileOrderRequest): Promise<MobileOrder> {
  const what = `wallet order ${r.paymentId}`;
  if (!session.up) throw new UplinkError('unreachable', `${what}: the business link is down`);
  const a = await session.request(Service.createOrder, { ...r, currency: CURRENCY });
  failUnlessDone(what, a);
  const parsed = orderAnswer.safeParse(a.body);
  // An order may exist at the gateway: the caller closes it (a close of an unknown order is harmless).
  if (!parsed.success || parsed.data.paymentId !== r.paymentId) throw new UplinkError('outcome-unknown', `${what}: unusable answer`);
  return parsed.data;
}

/**
 * A charge or a query answered. Anything but a clear answer for this payment may hide a payment:
 * 'outcome-unknown', and the caller asks again or revokes. Only a refusal of the request itself
 * (bad request, unknown service) and 'busy' are certain that nothing was charged.
 */
function answerOf(what: string, paymentId: string, a: Answer): MobileAnswer {
  failUnlessDone(what, a);
  const parsed = mobileAnswer.safeParse(a.body);
  if (!parsed.success) throw new UplinkError('outcome-unknown', `${what}: unusable answer: ${z.prettifyError(parsed.error)}`);
  if (parsed.data.paymentId !== paymentId) throw new UplinkError('outcome-unknown', `${what}: the answer is for ${parsed.data.paymentId}`);
  const { paymentId: _p, ...answer } = parsed.data;
  return answer;
}

function failUnlessDone(what: string, a: Answer): void {
  if (a.error === ErrorCode.none) return;
  const s = errorBody.safeParse(a.body).data;
  const said = s ? `: ${s.error}${s.detail ? ` (${s.detail})` : ''}` : '';
  if (a.error === ErrorCode.busy) throw new UplinkError('unreachable', `${what}: the server is busy${said}`);
  if (a.error === ErrorCode.badRequest || a.error === ErrorCode.unknownService) {
    throw new UplinkError('rejected', `${what} refused with error ${a.error}${said}`);
  }
  throw new UplinkError('outcome-unknown', `${what}: error ${a.error}${said}`);
}

/**
 * The charge body as UTF-8 JSON bytes in a buffer of its own: the fields without the code through
 * JSON.stringify, the code's digits copied in. Anything but digits is refused without being quoted.
 */
export function chargeBody(r: MobileChargeRequest, code: Buffer): Buffer {
  if (!code.every((b) => b >= 0x30 && b <= 0x39)) throw new TypeError('a payment code holds digits only');
  const head = JSON.stringify({ paymentId: r.paymentId, txnId: r.txnId, phone: r.phone, amount: r.amount, currency: CURRENCY, wallet: r.wallet });
  const open = Buffer.from(`${head.slice(0, -1)},"code":"`, 'utf8');
  const close = Buffer.from('"}', 'utf8');
  // Buffer.alloc never hands out a slice of the shared pool, so zeroing it clears every copy.
  const body = Buffer.alloc(open.length + code.length + close.length);
  open.copy(body, 0);
  code.copy(body, open.length);
  close.copy(body, open.length + code.length);
  return body;
}
