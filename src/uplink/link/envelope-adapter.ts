/** The business adapter over the envelope link: look-up and batched delivery as envelope services. */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { AccountInfo, AdapterEvents, BusinessAdapter, CardAuthorisationAnswer, CardAuthorisationRequest, DeliveryAck, OutboxMessage } from '../adapter.js';
import type { CardRead } from '../../../drivers/types.js';
import { UplinkError } from '../errors.js';
import { ErrorCode, Service } from './envelope.js';
import { LinkSession, type Answer, type LinkDown, type SessionOptions } from './session.js';

const accountAnswer = z.object({
  phone: z.string(),
  holder: z.string().nullish(),
  amountDue: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

const deliverAnswer = z.object({
  acks: z.array(
    z.discriminatedUnion('status', [
      z.object({ messageId: z.string(), status: z.enum(['accepted', 'duplicate']), serverRef: z.string().min(1) }),
      z.object({ messageId: z.string(), status: z.literal('refused'), error: z.string().min(1) }),
    ]),
  ),
});

const errorBody = z.object({ error: z.string(), detail: z.string().optional() });

export class EnvelopeAdapter extends EventEmitter<AdapterEvents> implements BusinessAdapter {
  private readonly session: LinkSession;

  constructor(opts: SessionOptions) {
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
    const a = await this.session.request(Service.deliver, { messages: batch });
    throwUnlessDone('delivery', a);
    const parsed = deliverAnswer.safeParse(a.body);
    // The server answered, but what it acknowledged cannot be told: as if no answer came.
    if (!parsed.success) throw new UplinkError('outcome-unknown', `unusable delivery answer: ${z.prettifyError(parsed.error)}`);
    return parsed.data.acks;
  }

  // PLACEHOLDER until the card-authorisation envelope service lands (helper card-link replaces it).
  authoriseCard(_request: CardAuthorisationRequest, read: CardRead): Promise<CardAuthorisationAnswer> {
    read.sensitive.wipe();
    return Promise.reject(new UplinkError('unreachable', 'card authorisation is not available on this link'));
  }
}

function throwUnlessDone(what: string, a: Answer): void {
  if (a.error === ErrorCode.none) return;
  const said = errorBody.safeParse(a.body).data;
  const why = said ? `: ${said.error}${said.detail ? ` (${said.detail})` : ''}` : '';
  if (a.error === ErrorCode.busy) throw new UplinkError('unreachable', `${what}: the server is busy${why}`);
  if (a.error === ErrorCode.badRequest || a.error === ErrorCode.refused || a.error === ErrorCode.unknownService) {
    throw new UplinkError('rejected', `${what} refused with error ${a.error}${why}`);
  }
  throw new UplinkError('garbage', `${what}: unknown error code ${a.error}${why}`);
}
