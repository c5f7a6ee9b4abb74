/**
 * One long-lived mutual-TLS connection to the business server, carrying envelopes. Requests are
 * matched to answers by sequence number, each with its own time-out. The link counts as up once
 * the server answered a hello on a verified connection; it is probed with an echo when quiet, and
 * re-established with exponential back-off and jitter whenever it is lost.
 *
 * A request that was written but never answered (time-out, connection lost) fails as
 * 'outcome-unknown': the server may have acted on it. Only a request made while the link is down
 * fails as 'unreachable', because nothing was sent.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, createSecureContext, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { UplinkError } from '../errors.js';
import { clientTlsOptions, TlsSetupError, type TlsMaterial } from '../../tls/material.js';
import { DEFAULT_LIMITS, EnvelopeDecoder, EnvelopeError, encodeFrames, encodeMessage, MAX_SEQ, Service, type EnvelopeLimits } from './envelope.js';

/** Why the link is down. 'server-certificate': the server's certificate was not trusted. */
export type DownReason = 'refused' | 'server-certificate' | 'client-certificate' | 'tls' | 'timeout' | 'closed' | 'protocol' | 'stopped';

export interface LinkDown {
  reason: DownReason;
  /** One line for logs and alarms: error code and message, never key material. */
  detail: string;
}

export interface LinkUp {
  /** The body of the server's answer to the hello. */
  server: unknown;
}

export type SessionEvents = { up: [LinkUp]; down: [LinkDown] };

export interface Answer {
  error: number;
  body: unknown;
}

export interface SessionOptions {
  host: string;
  port: number;
  /** The name the server certificate must carry (a DNS name or an IP address). */
  serverName: string;
  tls: TlsMaterial;
  /** Default per-request time-out; also bounds connecting (TCP, TLS and hello). */
  timeoutMs: number;
  /** A link quiet for this long is probed with an echo; an unanswered probe drops it. */
  probeIntervalMs: number;
  backoff: { initialMs: number; maxMs: number };
  /** What the kiosk says about itself in the hello. */
  hello?: Record<string, unknown>;
  limits?: EnvelopeLimits;
  /** In [0, 1); replaceable so tests are deterministic. */
  random?: () => number;
  log?: Pick<Logger, 'debug' | 'warn'>;
}

interface Pending {
  service: number;
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Connection {
  socket: TLSSocket;
  decoder: EnvelopeDecoder;
  /** The TLS handshake finished (the server's certificate was accepted). */
  secured: boolean;
  /** The first thing that went wrong with this connection; it names the 'down'. */
  failure?: LinkDown;
}

const SERVICE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Service).map(([k, v]) => [v, k]));

export class LinkSession extends EventEmitter<SessionEvents> {
  private readonly opts: SessionOptions;
  private readonly limits: EnvelopeLimits;
  private readonly random: () => number;
  private conn: Connection | undefined;
  private isUp = false;
  private running = false;
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private failures = 0;
  private lastDown: LinkDown | undefined;
  private lastReceived = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> = Promise.resolve();
  /** Answers that matched no request: late (after their time-out) or repeated. */
  strayAnswers = 0;

  constructor(opts: SessionOptions) {
    super();
    this.opts = opts;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.random = opts.random ?? Math.random;
    try {
      // A key that does not match its certificate would otherwise only show as failed connections.
      createSecureContext({ ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key });
    } catch (e) {
      throw new TlsSetupError(`tls: the certificate, key or CA cannot be used: ${(e as Error).message}`);
    }
  }

  get up(): boolean {
    return this.isUp;
  }

  /** Why the link is down, when it is and a connection has been tried. */
  get down(): LinkDown | undefined {
    return this.isUp ? undefined : this.lastDown;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Closes the connection; requests still waiting fail as 'outcome-unknown'. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.reconnectTimer);
    if (this.conn) this.fail(this.conn, 'stopped', 'the link was stopped');
    await this.closed;
  }

  /** Resolves true as soon as the link is up, false when it is not within `timeoutMs`. */
  waitUp(timeoutMs: number): Promise<boolean> {
    if (this.isUp) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onUp = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.off('up', onUp);
        resolve(false);
      }, timeoutMs);
      this.once('up', onUp);
    });
  }

  /** Sends a request and resolves with the server's answer (whatever its error code). */
  request(service: number, body: unknown, timeoutMs = this.opts.timeoutMs): Promise<Answer> {
    const conn = this.conn;
    if (!this.isUp || !conn) {
      const why = this.lastDown ? `${this.lastDown.reason}: ${this.lastDown.detail}` : 'not connected yet';
      return Promise.reject(new UplinkError('unreachable', `business link is down (${why})`));
    }
    return this.send(conn, service, body, timeoutMs);
  }

  /**
   * Sends a request whose body is already UTF-8 JSON bytes. The bytes are copied into the frame
   * before this returns (the caller may zero `body` at once), and the frame is zeroed as soon as
   * the socket has taken it: the way card data goes out without ever becoming a string.
   */
  requestBytes(service: number, body: Buffer, timeoutMs = this.opts.timeoutMs): Promise<Answer> {
    const conn = this.conn;
    if (!this.isUp || !conn) return this.request(service, undefined, timeoutMs);
    return this.send(conn, service, body, timeoutMs);
  }

  private connect(): void {
    const { host, port, serverName, tls } = this.opts;
    const options: ConnectionOptions = { ...clientTlsOptions(tls, serverName), host, port };
    if (isIP(serverName)) {
      // SNI carries host names only; the certificate is still checked against the address.
      delete options.servername;
      options.checkServerIdentity = (_host, cert) => checkServerIdentity(serverName, cert);
    }
    const socket = connect(options);
    const conn: Connection = { socket, decoder: new EnvelopeDecoder(this.limits), secured: false };
    this.conn = conn;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.connectTimer = setTimeout(() => this.fail(conn, 'timeout', `no session within ${this.opts.timeoutMs} ms`), this.opts.timeoutMs);
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      conn.secured = true;
      this.hello(conn);
    });
    socket.on('data', (chunk: Buffer) => this.received(conn, chunk));
    socket.on('error', (err) => this.fail(conn, ...classify(err)));
    socket.once('close', () => this.lost(conn));
  }

  private hello(conn: Connection): void {
    this.send(conn, Service.hello, this.opts.hello ?? {}, this.opts.timeoutMs).then(
      (answer) => {
        if (this.conn !== conn || conn.failure) return;
        if (answer.error !== 0) {
          this.fail(conn, 'protocol', `the server refused the hello (error ${answer.error})`);
          return;
        }
        clearTimeout(this.connectTimer);
        this.isUp = true;
        this.failures = 0;
        this.lastDown = undefined;
        this.probeTimer = setInterval(() => this.probe(conn), this.opts.probeIntervalMs);
        this.emit('up', { server: answer.body });
      },
      (err: Error) => this.fail(conn, 'timeout', `no answer to the hello: ${err.message}`),
    );
  }

  private probe(conn: Connection): void {
    if (Date.now() - this.lastReceived < this.opts.probeIntervalMs) return;
    this.send(conn, Service.echo, {}, this.opts.timeoutMs).catch((err: Error) =>
      this.fail(conn, 'timeout', `keep-alive not answered: ${err.message}`),
    );
  }

  /** A Buffer body is taken as encoded JSON, and its frame is zeroed once written. */
  private send(conn: Connection, service: number, body: unknown, timeoutMs: number): Promise<Answer> {
    const seq = this.nextSeq;
    this.nextSeq = seq >= MAX_SEQ ? 1 : seq + 1;
    const head = { seq, service, error: 0, response: false };
    const encoded = Buffer.isBuffer(body);
    const bytes = encoded ? encodeFrames(head, body, this.limits) : encodeMessage({ ...head, body }, this.limits);
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new UplinkError('outcome-unknown', `no answer to ${nameOf(service)} #${seq} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { service, resolve, reject, timer });
      // The socket may queue the buffer itself until it can write; it is done with it by the callback.
      conn.socket.write(bytes, () => {
        if (encoded) bytes.fill(0);
      });
    });
  }

  private received(conn: Connection, chunk: Buffer): void {
    if (this.conn !== conn) return;
    this.lastReceived = Date.now();
    let messages;
    try {
      messages = conn.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      this.fail(conn, 'protocol', `unusable bytes from the server: ${err.message}`);
      return;
    }
    for (const m of messages) {
      const p = m.response ? this.pending.get(m.seq) : undefined;
      if (!p) {
        this.strayAnswers += 1;
        this.opts.log?.debug({ seq: m.seq, service: m.service, response: m.response }, 'message matching no request ignored');
        continue;
      }
      this.pending.delete(m.seq);
      clearTimeout(p.timer);
      if (m.service !== p.service) {
        p.reject(new UplinkError('garbage', `answer #${m.seq} is for service ${m.service}, asked ${nameOf(p.service)}`));
      } else {
        p.resolve({ error: m.error, body: m.body });
      }
    }
  }

  /** Records why this connection is going away (the first reason wins) and closes it. */
  private fail(conn: Connection, reason: DownReason, detail: string): void {
    conn.failure ??= { reason, detail };
    conn.socket.destroy();
  }

  private lost(conn: Connection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    clearTimeout(this.connectTimer);
    clearInterval(this.probeTimer);
    const down = conn.failure ?? {
      reason: 'closed',
      // Under TLS 1.3 a server that refuses the kiosk's certificate says so only by closing.
      detail: conn.secured && !this.isUp
        ? 'the server closed the connection before answering the hello (does it accept this kiosk certificate?)'
        : 'the server closed the connection',
    };
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new UplinkError('outcome-unknown', `connection lost before the answer to ${nameOf(p.service)} #${seq} (${down.reason}: ${down.detail})`));
    }
    this.pending.clear();
    const wasUp = this.isUp;
    this.isUp = false;
    if (!wasUp) this.failures += 1;
    // Repeated failures of the same kind are one 'down', not one per attempt.
    if (wasUp || this.lastDown?.reason !== down.reason || this.lastDown.detail !== down.detail) this.emit('down', down);
    this.lastDown = down;
    if (this.running) this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectDelay());
  }

  /** Exponential back-off with equal jitter, so that many kiosks do not reconnect in step. */
  private reconnectDelay(): number {
    const { initialMs, maxMs } = this.opts.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(this.failures - 1, 0), 30));
    return Math.floor(ceiling / 2 + (this.random() * ceiling) / 2);
  }
}

function nameOf(service: number): string {
  return SERVICE_NAMES[service] ?? `service 0x${service.toString(16)}`;
}

/** Sorts a socket error into the reason an operator can act on. */
export function classify(err: Error): [DownReason, string] {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const detail = code ? `${code}: ${err.message}` : err.message;
  if (code === 'ECONNREFUSED') return ['refused', detail];
  if (code === 'ETIMEDOUT') return ['timeout', detail];
  // An alert from the server about our certificate.
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|ACCESS_DENIED)/.test(code)) {
    return ['client-certificate', detail];
  }
  if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|WRONG_VERSION_NUMBER/.test(code)) return ['tls', detail];
  // Our verification of the server's certificate.
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|INVALID_PURPOSE)/.test(code)) {
    return ['server-certificate', detail];
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return ['tls', detail];
  return ['closed', detail];
}
