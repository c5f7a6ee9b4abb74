/** The business adapter over the envelope link: look-up, batched delivery and card authorisation as envelope services. */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { AccountInfo, AdapterEvents, BusinessAdapter, ChainHeadWitness, CardAuthorisationAnswer, CardAuthorisationRequest, DeliveryAck, OutboxMessage } from '../adapter.js';
import type { CardRead, SensitiveCardData } from '../../../drivers/types.js';
import { CURRENCY } from '../../domain/money.js';
import { UplinkError } from '../errors.js';
import { ErrorCode, Service } from './envelope.js';
import { LinkSession, type Answer, type LinkDown, type SessionOptions } from './session.js';
import type { SensitiveCode } from '../../../drivers/scanner/contract.js';
import type { MobileAnswer, MobileChargeRequest, MobileLink, MobileOrder, MobileOrderRequest } from '../mobile.js';
import { chargeByCode, createOrder, queryMobile } from './mobile-services.js';

const accountAnswer = z.object({
  phone: z.string(),
  holder: z.string().nullish(),
  amountDue: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

const headRef = z.object({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) });

/** A server before issue 15 answers without chain heads; one that keeps them sends the highest it knew before and after the batch. */
const deliverAnswer = z.object({
  chainHead: headRef.optional(),
  chainHeadBefore: headRef.optional(),
  acks: z.array(
    z.discriminatedUnion('status', [
      z.object({ messageId: z.string(), status: z.enum(['accepted', 'duplicate']), serverRef: z.string().min(1) }),
      z.object({ messageId: z.string(), status: z.literal('refused'), error: z.string().min(1) }),
    ]),
  ),
});

const cardAnswer = z.discriminatedUnion('outcome', [
  z.object({ requestId: z.string(), outcome: z.literal('approved'), authCode: z.string().min(1).max(64), serverRef: z.string().min(1).max(200) }),
  z.object({ requestId: z.string(), outcome: z.literal('declined'), reason: z.string().min(1).max(500) }),
]);

const errorBody = z.object({ error: z.string(), detail: z.string().optional() });

export class EnvelopeAdapter extends EventEmitter<AdapterEvents> implements BusinessAdapter, MobileLink {
  private readonly session: LinkSession;

  constructor(
    opts: SessionOptions,
    private readonly witness?: ChainHeadWitness,
  ) {
    super();
    this.session = new LinkSession(opts);
    this.session.on('up', (u) => this.emit('up', u));
    this.session.on('down', (d) => this.emit('down', d));
  }

  get up(): boolean {
    return this.session.up;
  }

  get down(): LinkDown | undefined {
    return this.session.down;
  }

  start(): void {
    this.session.start();
  }

  stop(): Promise<void> {
    return this.session.stop();
  }

  waitUp(timeoutMs: number): Promise<boolean> {
    return this.session.waitUp(timeoutMs);
  }

  async lookup(phone: string): Promise<AccountInfo> {
    const a = await this.session.request(Service.lookup, { phone });
    if (a.error === ErrorCode.unknownAccount) throw new UplinkError('unknown-account', `unknown account ${phone}`);
    throwUnlessDone('look-up', a);
    const parsed = accountAnswer.safeParse(a.body);
    if (!parsed.success) throw new UplinkError('garbage', `unusable look-up answer: ${z.prettifyError(parsed.error)}`);
    if (parsed.data.phone !== phone) throw new UplinkError('garbage', `look-up answer is for ${parsed.data.phone}, asked ${phone}`);
    const { holder, amountDue } = parsed.data;
    return holder ? { phone, holder, amountDue } : { phone, amountDue };
  }

  async deliver(batch: readonly OutboxMessage[]): Promise<DeliveryAck[]> {
    const body = this.witness ? { messages: batch, chainHead: this.witness.report() } : { messages: batch };
    const a = await this.session.request(Service.deliver, body);
    throwUnlessDone('delivery', a);
    const parsed = deliverAnswer.safeParse(a.body);
    // The server answered, but what it acknowledged cannot be told: as if no answer came.
    if (!parsed.success) throw new UplinkError('outcome-unknown', `unusable delivery answer: ${z.prettifyError(parsed.error)}`);
    this.witness?.serverSaw('business', parsed.data);
    return parsed.data.acks;
  }

  chargeByCode(request: MobileChargeRequest, code: SensitiveCode): Promise<MobileAnswer> {
    return chargeByCode(this.session, request, code);
  }

  queryMobile(q: { paymentId: string; txnId: string }): Promise<MobileAnswer> {
    return queryMobile(this.session, q);
  }

  createOrder(request: MobileOrderRequest): Promise<MobileOrder> {
    return createOrder(this.session, request);
  }

  /**
   * The card data never becomes a string: the request body is assembled as bytes with the card's
   * bytes copied in, zeroed as soon as the session has framed it, and the card is wiped before the
   * answer is awaited.
   */
  async authoriseCard(request: CardAuthorisationRequest, read: CardRead): Promise<CardAuthorisationAnswer> {
    let sent: { answer: Promise<Answer> };
    try {
      if (!this.session.up) {
        throw new UplinkError('unreachable', `card authorisation ${request.requestId}: the business link is down`);
      }
      sent = await read.sensitive.consume((card) => {
        const body = cardRequestBody(request, card);
        try {
          // Wrapped so that consume() does not wait for the answer to wipe the card.
          return { answer: this.session.requestBytes(Service.authoriseCard, body) };
        } finally {
          body.fill(0);
        }
      });
    } catch (err) {
      if (err instanceof UplinkError) throw err;
      throw new UplinkError('unreachable', `card authorisation ${request.requestId} not sent: ${(err as Error).message}`, { cause: err });
    } finally {
      read.sensitive.wipe();
    }
    const a = await sent.answer;
    const what = `card authorisation ${request.requestId}`;
    if (a.error === ErrorCode.busy) throw new UplinkError('unreachable', `${what}: the server is busy${said(a)}`);
    // Certain refusals of the request itself: nothing was authorised.
    if (a.error === ErrorCode.badRequest || a.error === ErrorCode.unknownService) {
      throw new UplinkError('rejected', `${what} refused with error ${a.error}${said(a)}`);
    }
    // Anything else may hide an approval (a 'refused' is a conflicting request id that may be approved).
    if (a.error !== ErrorCode.none) throw new UplinkError('outcome-unknown', `${what}: error ${a.error}${said(a)}`);
    const parsed = cardAnswer.safeParse(a.body);
    if (!parsed.success) throw new UplinkError('outcome-unknown', `${what}: unusable answer: ${z.prettifyError(parsed.error)}`);
    if (parsed.data.requestId !== request.requestId) {
      throw new UplinkError('outcome-unknown', `${what}: the answer is for ${parsed.data.requestId}`);
    }
    const answer = parsed.data;
    return answer.outcome === 'approved'
      ? { outcome: 'approved', authCode: answer.authCode, serverRef: answer.serverRef }
      : { outcome: 'declined', reason: answer.reason };
  }
}

/**
 * The request body as UTF-8 JSON bytes in a buffer of its own: the fields without card data through
 * JSON.stringify, the card's bytes copied in. Card fields hold digits and the track's sentinels and
 * separators only, which need no JSON escaping; anything else is refused without being quoted.
 */
export function cardRequestBody(r: CardAuthorisationRequest, card: SensitiveCardData): Buffer {
  const head = JSON.stringify({ requestId: r.requestId, txnId: r.txnId, phone: r.phone, amount: r.amount, currency: CURRENCY });
  const pieces: (string | Buffer)[] = [head.slice(0, -1), ',"card":{"pan":"', card.pan, '","expiry":"', card.expiry, '"'];
  if (card.track2) pieces.push(',"track2":"', card.track2, '"');
  pieces.push('}}');
  let length = 0;
  for (const p of pieces) {
    if (Buffer.isBuffer(p)) {
      if (!p.every((b) => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c)) throw new TypeError('card data with a character JSON would escape');
      length += p.length;
    } else {
      length += Buffer.byteLength(p, 'utf8');
    }
  }
  // Buffer.alloc never hands out a slice of the shared pool, so zeroing it clears every copy.
  const body = Buffer.alloc(length);
  let at = 0;
  for (const p of pieces) at += Buffer.isBuffer(p) ? p.copy(body, at) : body.write(p, at, 'utf8');
  return body;
}

function said(a: Answer): string {
  const s = errorBody.safeParse(a.body).data;
  return s ? `: ${s.error}${s.detail ? ` (${s.detail})` : ''}` : '';
}

function throwUnlessDone(what: string, a: Answer): void {
  if (a.error === ErrorCode.none) return;
  const why = said(a);
  if (a.error === ErrorCode.busy) throw new UplinkError('unreachable', `${what}: the server is busy${why}`);
  if (a.error === ErrorCode.badRequest || a.error === ErrorCode.refused || a.error === ErrorCode.unknownService) {
    throw new UplinkError('rejected', `${what} refused with error ${a.error}${why}`);
  }
  throw new UplinkError('garbage', `${what}: unknown error code ${a.error}${why}`);
}
