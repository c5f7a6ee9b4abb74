/**
 * The reference host's end of the business link: mutual TLS (client certificates signed by the
 * CA are required; the terminal is the certificate's common name), envelopes, the look-up,
 * delivery and card authorisation services, and the fault modes the scenarios inject. It shares
 * the envelope layout with the kiosk (docs/business-link.md) but validates what it receives with
 * its own schemas. Card requests hold card data: never logged, and only the masked number is kept.
 */
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CURRENCY, PAYING_SERVICES, PHONE_PATTERN } from '../../src/domain/index.js';
import { EnvelopeDecoder, EnvelopeError, encodeMessage, ErrorCode, Service, type EnvelopeMessage } from '../../src/uplink/link/envelope.js';
import { cardRequestBody, decide, describeIssues, maskPan, type CardMode } from './card-authorisation.js';
import { headSchema } from './chain-heads.js';
import type { HostStore, PaymentOutcome } from './store.js';
import { chargeBody, orderBody, queryBody, revokeBody, type WalletGateway } from './wallet-gateway.js';

/**
 * 'down' refuses connections (and drops the open ones); 'slow' answers business requests late;
 * 'error' answers them with a busy error; 'garbage' answers them with bytes that are no envelope;
 * 'drop-after-store' stores a delivery (or approves a card), then drops the connection instead of
 * answering it;
 * 'double-ack' answers every delivery twice, and acknowledges a message it never received.
 * The link's own hello and echo are answered in every mode but 'down'.
 */
export const HOST_MODES = ['ok', 'slow', 'down', 'garbage', 'error', 'drop-after-store', 'double-ack'] as const;
export type HostMode = (typeof HOST_MODES)[number];

export interface HostTls {
  /** PEM: the CA kiosk certificates must be signed by. */
  ca: string | Buffer;
  /** PEM: this server's certificate and key. */
  cert: string | Buffer;
  key: string | Buffer;
}

export interface BusinessLinkOptions {
  port: number;
  host: string;
  tls: HostTls;
  store: HostStore;
  mode: () => { mode: HostMode; delayMs: number };
  /** The card mode of a terminal (card-authorisation.ts). */
  cardMode: (terminalId: string) => CardMode;
  /** The wallet payment gateway (wallet-gateway.ts). */
  wallet: WalletGateway;
  log?: Pick<Logger, 'info' | 'warn'>;
}

export interface RunningBusinessLink {
  port: number;
  /** Presents another certificate from now on; open connections are dropped so clients see it. */
  setServerCertificate(c: { cert: string | Buffer; key: string | Buffer }): void;
  /** Drops every open connection (a 'down' that starts now). */
  dropConnections(): void;
  close(): Promise<void>;
}

const phone = z.string().regex(PHONE_PATTERN, 'phone must be 11 digits starting with 1');
const fen = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const id = z.string().min(1).max(200);
const when = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be a date-time');

const paymentBody = z.object({
  messageId: id,
  txnId: id,
  service: z.enum(PAYING_SERVICES),
  phone,
  amount: fen.positive(),
  currency: z.literal(CURRENCY),
  cashIn: fen,
  cardIn: fen.optional(),
  // Checked against the authorisations by the store: an unproven card part is an anomaly, not a refusal.
  card: z
    .object({
      method: z.enum(['reader', 'terminal']),
      requestId: id.optional(),
      receiptNo: z.number().int().nonnegative().optional(),
      maskedPan: z.string().max(19).optional(),
    })
    .optional(),
  mobileIn: fen.optional(),
  mobile: z.object({ paymentId: id, mode: z.enum(['code', 'qr']), wallet: z.string().max(32) }).optional(),
  settledAt: when,
});
const reversalBody = z.object({
  messageId: id,
  txnId: id,
  reverses: id,
  amount: fen.positive(),
  currency: z.literal(CURRENCY),
  reason: z.string().min(1).max(500),
  createdAt: when,
});
const claimBody = z.object({
  messageId: id,
  claimId: id,
  txnId: id,
  claimCode: z.string().min(1).max(32),
  reason: z.enum(['note-unresolved', 'change-owed']),
  status: z.enum(['open', 'confirmed', 'credited']),
  phone: phone.nullable(),
  amount: fen.positive(),
  currency: z.literal(CURRENCY),
  denomination: fen.positive().optional(),
  collection: z.number().int().nonnegative().optional(),
  createdAt: when,
});
const lookupBody = z.object({ phone });
const deliverBody = z.object({
  messages: z.array(z.object({ messageId: id, kind: z.string(), payload: z.record(z.string(), z.unknown()) })).max(1000),
  /** The kiosk's journal chain head when it sent the batch; absent from kiosks before issue 15. */
  chainHead: headSchema.optional(),
});

/** Something no envelope starts with: what a confused proxy might send. */
const GARBAGE = Buffer.from('HTTP/1.1 502 Bad Gateway\r\n\r\n<html>502</html>');

type Ack = { messageId: string; status: 'accepted' | 'duplicate'; serverRef: string } | { messageId: string; status: 'refused'; error: string };

export async function startBusinessLink(o: BusinessLinkOptions): Promise<RunningBusinessLink> {
  const sockets = new Set<Socket>();
  const held = new Set<NodeJS.Timeout>();
  const server = createServer({ ...o.tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (socket) => serve(socket));
  server.on('connection', (raw: Socket) => {
    if (o.mode().mode === 'down') {
      raw.destroy();
      return;
    }
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
  });
  server.on('tlsClientError', (err) => o.log?.warn({ err: err.message }, 'business link: TLS handshake refused'));

  function serve(socket: TLSSocket): void {
    const terminalId = String(socket.getPeerCertificate().subject?.CN ?? '');
    const decoder = new EnvelopeDecoder();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      let messages: EnvelopeMessage[];
      try {
        messages = decoder.push(chunk);
      } catch (err) {
        if (!(err instanceof EnvelopeError)) throw err;
        o.log?.warn({ terminalId, err: err.message }, 'business link: unusable bytes, connection closed');
        socket.destroy();
        return;
      }
      for (const m of messages) if (!m.response) handle(socket, terminalId, m);
    });
  }

  function handle(socket: TLSSocket, terminalId: string, m: EnvelopeMessage): void {
    const reply = (error: number, body: unknown): void => {
      if (!socket.destroyed) socket.write(encodeMessage({ seq: m.seq, service: m.service, error, response: true, body }));
    };
    if (m.service === Service.hello) {
      const claimed = (m.body as { terminalId?: unknown } | null)?.terminalId;
      if (typeof claimed === 'string' && claimed !== terminalId) {
        o.store.addAnomaly('terminal-id-mismatch', null, `certificate says ${terminalId}, hello says ${claimed}`);
      }
      return reply(ErrorCode.none, { terminalId, server: 'kiosk reference host' });
    }
    if (m.service === Service.echo) return reply(ErrorCode.none, m.body);
    const services: number[] = [Service.lookup, Service.deliver, Service.authoriseCard, Service.chargeByCode, Service.queryMobile, Service.createOrder];
    if (!services.includes(m.service)) {
      return reply(ErrorCode.unknownService, { error: 'unknown-service', detail: `no service ${m.service}` });
    }
    const { mode, delayMs } = o.mode();
    if (mode === 'garbage') {
      socket.write(GARBAGE);
      return;
    }
    if (mode === 'error') return reply(ErrorCode.busy, { error: 'busy', detail: 'billing is not available' });
    if (m.service === Service.authoriseCard) return authoriseCard(socket, terminalId, m.seq, reply, mode, delayMs, m.body);
    if (m.service === Service.chargeByCode || m.service === Service.queryMobile || m.service === Service.createOrder) {
      return wallet(socket, terminalId, m.service, reply, mode, delayMs, m.body);
    }
    const [error, body] = m.service === Service.lookup ? lookup(m.body) : deliver(terminalId, m.body);
    if (mode === 'drop-after-store' && m.service === Service.deliver) {
      o.log?.info({ terminalId, seq: m.seq }, 'business link: stored, dropping the connection before answering');
      socket.destroy();
      return;
    }
    if (mode === 'slow') {
      const timer = setTimeout(() => {
        held.delete(timer);
        reply(error, body);
      }, delayMs);
      held.add(timer);
      return;
    }
    if (mode === 'double-ack' && m.service === Service.deliver && error === ErrorCode.none) {
      const { acks } = body as { acks: Ack[] };
      const doubled = { acks: [...acks, ...acks, { messageId: 'never-sent:payment', status: 'accepted', serverRef: 'P999999' }] };
      reply(error, doubled);
      reply(error, doubled);
      return;
    }
    reply(error, body);
  }

  /** Decides, records, then answers as the card's behaviour and the host's mode say. */
  function authoriseCard(
    socket: TLSSocket,
    terminalId: string,
    seq: number,
    reply: (error: number, body: unknown) => void,
    mode: HostMode,
    delayMs: number,
    body: unknown,
  ): void {
    const q = cardRequestBody.safeParse(body);
    if (!q.success) return reply(ErrorCode.badRequest, { error: 'invalid-body', detail: describeIssues(q.error) });
    const { card, ...r } = q.data;
    const decision = decide(o.cardMode(terminalId), card.pan);
    const result = o.store.authoriseCard(
      { ...r, maskedPan: maskPan(card.pan) },
      decision.behaviour === 'decline' ? { outcome: 'declined', reason: decision.reason! } : { outcome: 'approved' },
      decision.behaviour,
      terminalId,
    );
    if (result.status === 'conflict') return reply(ErrorCode.refused, { error: 'conflict', detail: result.detail });
    const answer = (): void => reply(ErrorCode.none, result.answer);
    // A request id seen before is answered from the record: that is how a kiosk confirms an outcome it missed.
    const behaviour = result.status === 'new' ? decision.behaviour : 'approve';
    if (behaviour === 'timeout') {
      o.log?.info({ terminalId, seq, requestId: r.requestId }, 'business link: card approved, never answered');
      return;
    }
    if (behaviour === 'drop-after-approve' || mode === 'drop-after-store') {
      o.log?.info({ terminalId, seq, requestId: r.requestId }, 'business link: card recorded, dropping the connection before answering');
      socket.destroy();
      return;
    }
    if (behaviour === 'bad-answer') return reply(ErrorCode.none, { requestId: r.requestId, outcome: 'maybe' });
    if (mode === 'slow') {
      const timer = setTimeout(() => {
        held.delete(timer);
        answer();
      }, delayMs);
      held.add(timer);
      return;
    }
    answer();
  }

  /** The wallet services: recorded first, then answered as the code's behaviour and the host's mode say. */
  function wallet(
    socket: TLSSocket,
    terminalId: string,
    service: number,
    reply: (error: number, body: unknown) => void,
    mode: HostMode,
    delayMs: number,
    body: unknown,
  ): void {
    let answer: unknown = null;
    if (service === Service.chargeByCode) {
      const q = chargeBody.safeParse(body);
      // The body holds the payment code: say where it is malformed, never what it holds.
      if (!q.success) return reply(ErrorCode.badRequest, { error: 'invalid-body', detail: describeIssues(q.error) });
      const r = o.wallet.charge(q.data, terminalId);
      if (r.kind === 'silent') return;
      if (r.kind === 'drop' || mode === 'drop-after-store') {
        o.log?.info({ terminalId, paymentId: q.data.paymentId }, 'business link: wallet charge recorded, dropping the connection before answering');
        socket.destroy();
        return;
      }
      answer = r.answer;
    } else if (service === Service.queryMobile) {
      const q = queryBody.safeParse(body);
      if (!q.success) return reply(ErrorCode.badRequest, { error: 'invalid-body', detail: z.prettifyError(q.error) });
      answer = o.wallet.query(q.data);
      if (answer === null) return;
    } else {
      const q = orderBody.safeParse(body);
      if (!q.success) return reply(ErrorCode.badRequest, { error: 'invalid-body', detail: z.prettifyError(q.error) });
      answer = o.wallet.createOrder(q.data, terminalId);
    }
    if (mode === 'slow') {
      const timer = setTimeout(() => {
        held.delete(timer);
        reply(ErrorCode.none, answer);
      }, delayMs);
      held.add(timer);
      return;
    }
    reply(ErrorCode.none, answer);
  }

  function lookup(body: unknown): [number, unknown] {
    const q = lookupBody.safeParse(body);
    if (!q.success) return [ErrorCode.badRequest, { error: 'invalid-phone', detail: z.prettifyError(q.error) }];
    const acc = o.store.account(q.data.phone);
    if (!acc) return [ErrorCode.unknownAccount, { error: 'unknown-account' }];
    return [ErrorCode.none, { phone: acc.phone, amountDue: acc.amountDue, ...(acc.holder ? { holder: acc.holder } : {}) }];
  }

  function deliver(terminalId: string, body: unknown): [number, unknown] {
    const q = deliverBody.safeParse(body);
    if (!q.success) return [ErrorCode.badRequest, { error: 'invalid-body', detail: z.prettifyError(q.error) }];
    // A revoke the gateway asks to try again gets no acknowledgement: the kiosk sends it again.
    const acks = o.store.batch(() => q.data.messages.map((m) => store(terminalId, m)).filter((a): a is Ack => a !== null));
    if (!q.data.chainHead) return [ErrorCode.none, { acks }];
    const v = o.store.chainHeads.report(terminalId, q.data.chainHead, new Date().toISOString());
    if (v.anomaly) o.store.addAnomaly(v.anomaly.kind, null, v.anomaly.detail);
    return [ErrorCode.none, { acks, chainHead: v.highest, ...(v.before ? { chainHeadBefore: v.before } : {}) }];
  }

  function store(terminalId: string, m: { messageId: string; kind: string; payload: Record<string, unknown> }): Ack | null {
    const refuse = (error: string): Ack => ({ messageId: m.messageId, status: 'refused', error });
    let outcome: PaymentOutcome;
    if (m.kind === 'payment') {
      const p = paymentBody.safeParse(m.payload);
      if (!p.success) return refuse(`invalid-payment: ${z.prettifyError(p.error)}`);
      if (p.data.messageId !== m.messageId) return refuse('invalid-payment: messageId differs from the envelope');
      outcome = o.store.recordPayment(p.data, terminalId);
      if (outcome.status === 'accepted' && p.data.mobile) o.wallet.settled(p.data.txnId, p.data.mobile.paymentId, p.data.mobileIn ?? 0);
    } else if (m.kind === 'mobile-revoke') {
      const r = revokeBody.safeParse(m.payload);
      if (!r.success) return refuse(`invalid-mobile-revoke: ${z.prettifyError(r.error)}`);
      if (r.data.messageId !== m.messageId) return refuse('invalid-mobile-revoke: messageId differs from the envelope');
      const ref = o.wallet.revoke(r.data, terminalId);
      return ref === null ? null : { messageId: m.messageId, status: 'accepted', serverRef: ref };
    } else if (m.kind === 'reversal') {
      const r = reversalBody.safeParse(m.payload);
      if (!r.success) return refuse(`invalid-reversal: ${z.prettifyError(r.error)}`);
      if (r.data.messageId !== m.messageId) return refuse('invalid-reversal: messageId differs from the envelope');
      outcome = o.store.recordReversal(r.data, terminalId);
    } else if (m.kind === 'claim') {
      const c = claimBody.safeParse(m.payload);
      if (!c.success) return refuse(`invalid-claim: ${z.prettifyError(c.error)}`);
      if (c.data.messageId !== m.messageId) return refuse('invalid-claim: messageId differs from the envelope');
      outcome = o.store.recordClaim(c.data, terminalId);
    } else {
      return refuse(`unsupported-kind: ${m.kind}`);
    }
    if (outcome.status === 'conflict') {
      o.log?.warn({ terminalId, messageId: m.messageId, detail: outcome.detail }, 'conflicting duplicate');
      return refuse(`conflict: ${outcome.detail}`);
    }
    return { messageId: m.messageId, status: outcome.status, serverRef: outcome.serverRef };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const dropConnections = (): void => {
    for (const s of sockets) s.destroy();
  };
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    setServerCertificate(c) {
      server.setSecureContext({ ca: o.tls.ca, cert: c.cert, key: c.key });
      dropConnections();
    },
    dropConnections,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const t of held) clearTimeout(t);
        held.clear();
        server.close(() => resolve());
        dropConnections();
      });
      return closing;
    },
  };
}
