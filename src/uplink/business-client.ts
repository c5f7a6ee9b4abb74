/**
 * The kiosk's side of the business link: account look-up and payment posting over HTTP + JSON.
 * Every answer is validated; anything unexpected becomes an UplinkError whose `kind` tells the
 * caller whether a retry can help ('unreachable', 'timeout', 'garbage') or not ('rejected',
 * 'unknown-account').
 */
import { z } from 'zod';

export type UplinkErrorKind = 'unreachable' | 'timeout' | 'garbage' | 'rejected' | 'unknown-account';

export class UplinkError extends Error {
  override readonly name = 'UplinkError';
  constructor(
    readonly kind: UplinkErrorKind,
    message: string,
    /** The URL asked, without credentials or query. */
    readonly url: string,
    /** The HTTP status, when the server answered at all. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const phoneSchema = z.string().regex(/^1\d{10}$/);
const fenSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** What the journal's outbox holds for a settled payment, and what the server expects. */
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

const accountAnswer = z.object({
  phone: phoneSchema,
  holder: z.string().nullish(),
  amountDue: fenSchema,
});

const paymentAnswer = z.object({
  status: z.enum(['accepted', 'duplicate']),
  txnId: z.string(),
  serverRef: z.string().min(1),
});

const errorAnswer = z.object({ error: z.string(), message: z.string().optional(), detail: z.string().optional() });

export interface AccountInfo {
  phone: string;
  holder?: string;
  /** In fen. */
  amountDue: number;
}

export interface PaymentAck {
  status: 'accepted' | 'duplicate';
  serverRef: string;
}

export interface BusinessClientOptions {
  /** e.g. http://10.0.0.5:8080; user:password in the URL is sent as Basic authorisation. */
  baseUrl: string;
  /** Per request, including reading the answer. */
  timeoutMs: number;
}

export class BusinessClient {
  private readonly base: URL;
  private readonly authorization: string | undefined;

  constructor(private readonly opts: BusinessClientOptions) {
    const base = new URL(opts.baseUrl);
    // fetch refuses URLs with credentials, and they must never reach a log line.
    if (base.username || base.password) {
      const userInfo = `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`;
      this.authorization = `Basic ${Buffer.from(userInfo).toString('base64')}`;
      base.username = '';
      base.password = '';
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.base = base;
  }

  async lookup(phone: string): Promise<AccountInfo> {
    const { url, status, body } = await this.request('GET', `v1/accounts/${encodeURIComponent(phone)}`);
    if (status === 404 && errorAnswer.safeParse(body).data?.error === 'unknown-account') {
      throw new UplinkError('unknown-account', `unknown account ${phone} (HTTP 404 from ${url})`, url, status);
    }
    this.throwUnlessOk(url, status, body);
    const parsed = accountAnswer.safeParse(body);
    if (!parsed.success) throw this.garbage(url, status, z.prettifyError(parsed.error));
    if (parsed.data.phone !== phone) throw this.garbage(url, status, `answer is for ${parsed.data.phone}, asked ${phone}`);
    const { holder, amountDue } = parsed.data;
    return holder ? { phone, holder, amountDue } : { phone, amountDue };
  }

  async postPayment(payload: PaymentPayload): Promise<PaymentAck> {
    const { url, status, body } = await this.request('POST', 'v1/payments', payload);
    this.throwUnlessOk(url, status, body);
    const parsed = paymentAnswer.safeParse(body);
    if (!parsed.success) throw this.garbage(url, status, z.prettifyError(parsed.error));
    if (parsed.data.txnId !== payload.txnId) {
      throw this.garbage(url, status, `ack is for ${parsed.data.txnId}, sent ${payload.txnId}`);
    }
    return { status: parsed.data.status, serverRef: parsed.data.serverRef };
  }

  private async request(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<{ url: string; status: number; body: unknown }> {
    const target = new URL(path, this.base);
    const url = `${target.origin}${target.pathname}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.authorization) headers.authorization = this.authorization;
    let status: number;
    let text: string;
    try {
      const res = await fetch(target, {
        method,
        headers,
        body: payload === undefined ? undefined : JSON.stringify(payload),
        // A redirect would turn a POST into a GET and hide where the payment went.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') {
        throw new UplinkError('timeout', `${method} ${url}: no answer within ${this.opts.timeoutMs} ms`, url, undefined, { cause: err });
      }
      throw new UplinkError('unreachable', `${method} ${url}: ${describeNetworkError(err)}`, url, undefined, { cause: err });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      if (status >= 200 && status < 300) throw this.garbage(url, status, `body is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
      body = undefined;
    }
    return { url, status, body };
  }

  private throwUnlessOk(url: string, status: number, body: unknown): void {
    if (status >= 200 && status < 300) return;
    const reason = errorAnswer.safeParse(body).data;
    const said = reason ? `: ${reason.error}${reason.message || reason.detail ? ` (${reason.message ?? reason.detail})` : ''}` : '';
    // 4xx: the server understood and refused; resending the same thing will not help.
    if (status >= 400 && status < 500) throw new UplinkError('rejected', `HTTP ${status} from ${url}${said}`, url, status);
    // 5xx: the billing side is not there right now; that is a link problem, worth retrying.
    if (status >= 500) throw new UplinkError('unreachable', `HTTP ${status} from ${url}${said}`, url, status);
    throw this.garbage(url, status, 'unexpected status');
  }

  private garbage(url: string, status: number, why: string): UplinkError {
    return new UplinkError('garbage', `unusable answer from ${url} (HTTP ${status}): ${why}`, url, status);
  }
}

function describeNetworkError(err: unknown): string {
  // undici reports "fetch failed" and puts the real reason (ECONNREFUSED, socket closed) in cause.
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} ${cause.message}` : cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}
