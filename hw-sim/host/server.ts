/**
 * Reference central server: the business side the kiosk talks to (the envelope link over mutual
 * TLS, business-link.ts), plus a plain-HTTP admin endpoint on loopback that tests, scenarios and
 * technicians use to seed accounts, read what arrived and inject faults. It is not a kiosk link:
 * the fault mode never applies to it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { PHONE_PATTERN } from '../../src/domain/phone.js';
import { HOST_MODES, startBusinessLink, type HostMode, type HostTls, type RunningBusinessLink } from './business-link.js';
import { CARD_MODES, type CardMode } from './card-authorisation.js';
import { HostStore, type AccountSeed, type HostRecords } from './store.js';
import { WALLET_MODES, WalletGateway } from './wallet-gateway.js';
import { startManagementServer, type ManagementServerOptions, type RunningManagement } from './management.js';
import { startManagementConsumer, type ManagementConsumerOptions } from './management-mqtt.js';

export { HOST_MODES, type HostMode, type HostTls } from './business-link.js';
export { CARD_BEHAVIOURS, CARD_MODES, TEST_PANS, type CardMode } from './card-authorisation.js';

export interface HostOptions {
  /** The business link's TLS port; 0 picks a free one. */
  port: number;
  /** Address the business link listens on (default 127.0.0.1). */
  host?: string;
  /** The admin HTTP port, always on 127.0.0.1; default 0 (a free one). */
  adminPort?: number;
  /** The business link's certificate and key, and the CA that signs kiosk certificates. */
  tls: HostTls;
  dbPath: string;
  /** Created or updated on every start. */
  accounts?: AccountSeed[];
  mode?: HostMode;
  /** How long 'slow' holds each business answer. */
  delayMs?: number;
  /** The card mode of every terminal without one of its own (default 'by-card'). */
  cardMode?: CardMode;
  log?: Pick<Logger, 'info' | 'warn'>;
  /** The management side (mutual TLS on its own port); absent: not served. */
  management?: Omit<ManagementServerOptions, 'dbPath' | 'log'>;
  /** The management side as a consumer on an MQTT broker instead (docs/management-mqtt.md); wins over `management`. */
  managementMqtt?: Omit<ManagementConsumerOptions, 'dbPath' | 'log'>;
}

export interface RunningHost {
  /** The admin HTTP endpoint, e.g. http://127.0.0.1:8481 (GET /_records, POST /_mode, /_card, /_accounts, /_wallet, /_wallet/pay-order, /_chain-heads/reset?terminal=…). */
  url: string;
  adminPort: number;
  /** The business link's TLS port. */
  port: number;
  /** Presents another server certificate on the business link (the wrong-certificate scenarios). */
  setServerCertificate(c: { cert: string | Buffer; key: string | Buffer }): void;
  records(): HostRecords;
  management: RunningManagement | undefined;
  close(): Promise<void>;
  setMode(mode: HostMode, delayMs?: number): void;
  /** The card mode of one terminal (by its certificate's common name), or of all without their own. */
  setCardMode(mode: CardMode, terminalId?: string): void;
  /** The wallet payment gateway (admin: GET/POST /_wallet, POST /_wallet/pay-order). */
  wallet: WalletGateway;
}

export const DEMO_ACCOUNTS: readonly AccountSeed[] = [
  { phone: '13800138000', amountDue: 5000, holder: 'Zhang San' },
  { phone: '13900139000', amountDue: 12350, holder: 'Li Si' },
  { phone: '13700137000', amountDue: 0, holder: 'Wang Wu' },
];

const DEFAULT_SLOW_MS = 2000;
const MAX_BODY_BYTES = 16 * 1024;

const phone = z.string().regex(PHONE_PATTERN, 'phone must be 11 digits starting with 1');
const fen = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const accountBody = z.object({ phone, amountDue: fen, holder: z.string().min(1).max(100).optional() });

const modeBody = z.object({
  mode: z.enum(HOST_MODES),
  delayMs: z.number().int().nonnegative().max(600_000).optional(),
});

/** Without terminalId: the default of every terminal; with it, that terminal's own (null clears it). */
const cardBody = z.object({
  mode: z.enum(CARD_MODES).nullable(),
  terminalId: z.string().min(1).max(200).optional(),
});

/** The gateway's behaviour for every code ('by-code': the code decides), and its timings. */
const walletBody = z.object({
  mode: z.enum(WALLET_MODES).optional(),
  confirmMs: z.number().int().nonnegative().max(600_000).optional(),
  orderTtlMs: z.number().int().positive().max(3_600_000).optional(),
  refuseRevokes: z.number().int().nonnegative().max(1000).optional(),
});
const payOrderBody = z.object({ paymentId: z.string().min(1).max(200) });

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'body-too-large', `body exceeds ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJson<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const text = await readBody(req);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'malformed-json', 'body is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, 'invalid-body', z.prettifyError(parsed.error));
  return parsed.data;
}

export async function startHost(opts: HostOptions): Promise<RunningHost> {
  const store = new HostStore(opts.dbPath);
  const wallet = new WalletGateway(store.db, { anomaly: (kind, txnId, detail) => store.addAnomaly(kind, txnId, detail) });
  const seeds = opts.accounts ?? (store.created ? DEMO_ACCOUNTS : []);
  for (const a of seeds) store.upsertAccount(a);

  let mode: HostMode = opts.mode ?? 'ok';
  let delayMs = opts.delayMs ?? DEFAULT_SLOW_MS;
  let cardDefault: CardMode = opts.cardMode ?? 'by-card';
  const cardModes = new Map<string, CardMode>();
  const sockets = new Set<Socket>();
  const log = opts.log;
  let link: RunningBusinessLink | undefined;

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method} ${path}`;
    if (route === 'GET /healthz') return sendJson(res, 200, { ok: true, mode });
    if (route === 'GET /_card') return sendJson(res, 200, cardState());
    if (route === 'GET /_records') return sendJson(res, 200, store.records());
    if (route === 'POST /_chain-heads/reset') {
      // An operator's admin call after a deliberately replaced journal: both servers forget the heads.
      const terminal = new URL(req.url ?? '/', 'http://host').searchParams.get('terminal');
      if (!terminal || !/^[\w.:-]{1,64}$/.test(terminal)) throw new HttpError(400, 'invalid-query', 'POST /_chain-heads/reset needs ?terminal=<terminal id>');
      const forgotten = { business: store.chainHeads.reset(terminal), management: management?.resetChainHeads(terminal) ?? 0 };
      log?.warn({ terminal, forgotten }, 'chain heads reset by the operator');
      return sendJson(res, 200, { terminal, forgotten });
    }
    if (route === 'GET /_wallet') return sendJson(res, 200, walletState());
    if (route === 'POST /_wallet') {
      const w = await readJson(req, walletBody);
      if (w.mode !== undefined) wallet.mode = w.mode;
      if (w.confirmMs !== undefined) wallet.confirmMs = w.confirmMs;
      if (w.orderTtlMs !== undefined) wallet.orderTtlMs = w.orderTtlMs;
      if (w.refuseRevokes !== undefined) wallet.refuseRevokes = w.refuseRevokes;
      log?.info({ wallet: w }, 'host wallet gateway');
      return sendJson(res, 200, walletState());
    }
    if (route === 'POST /_wallet/pay-order') {
      const { paymentId } = await readJson(req, payOrderBody);
      if (wallet.payment(paymentId)?.mode !== 'qr') throw new HttpError(404, 'no-order', `no order ${paymentId}`);
      return sendJson(res, 200, wallet.payOrder(paymentId));
    }
    if (route === 'POST /_accounts') return sendJson(res, 200, store.upsertAccount(await readJson(req, accountBody)));
    if (route === 'POST /_mode') {
      const m = await readJson(req, modeBody);
      setMode(m.mode, m.delayMs);
      return sendJson(res, 200, { mode, delayMs });
    }
    if (route === 'POST /_card') {
      const c = await readJson(req, cardBody);
      if (c.mode === null && c.terminalId === undefined) throw new HttpError(400, 'invalid-body', 'only a terminal\'s own card mode can be cleared');
      if (c.mode === null) cardModes.delete(c.terminalId!);
      else setCardMode(c.mode, c.terminalId);
      return sendJson(res, 200, cardState());
    }
    if (management && (await management.admin(req, res, path))) return;
    throw new HttpError(404, 'not-found', `no route ${route}`);
  }

  function setCardMode(m: CardMode, terminalId?: string): void {
    if (terminalId === undefined) cardDefault = m;
    else cardModes.set(terminalId, m);
    log?.info({ cardMode: m, terminalId }, 'host card mode');
  }

  function cardState(): { default: CardMode; terminals: Record<string, CardMode> } {
    return { default: cardDefault, terminals: Object.fromEntries(cardModes) };
  }

  function walletState() {
    const { mode: m, confirmMs, orderTtlMs, refuseRevokes } = wallet;
    return { mode: m, confirmMs, orderTtlMs, refuseRevokes, payments: wallet.payments(), balance: wallet.balance() };
  }

  function setMode(m: HostMode, ms?: number): void {
    mode = m;
    if (ms !== undefined) delayMs = ms;
    if (mode === 'down') link?.dropConnections();
    log?.info({ mode, delayMs }, 'host mode');
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    control(req, res, path).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.code, message: err.message });
        // The rest of an oversized body is not worth reading.
        if (err.status === 413) res.on('finish', () => req.socket.destroy());
        return;
      }
      log?.warn({ err }, 'host request failed');
      sendJson(res, 500, { error: 'internal', message: 'internal error' });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.adminPort ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    store.close();
    throw err;
  }
  let management: RunningManagement | undefined;
  try {
    link = await startBusinessLink({
      port: opts.port,
      host: opts.host ?? '127.0.0.1',
      tls: opts.tls,
      store,
      mode: () => ({ mode, delayMs }),
      cardMode: (terminalId) => cardModes.get(terminalId) ?? cardDefault,
      wallet,
      ...(log ? { log } : {}),
    });
    if (opts.managementMqtt) management = await startManagementConsumer({ ...opts.managementMqtt, dbPath: opts.dbPath, ...(log ? { log } : {}) });
    else management = opts.management && (await startManagementServer({ ...opts.management, dbPath: opts.dbPath, ...(log ? { log } : {}) }));
  } catch (err) {
    await link?.close();
    await new Promise((resolve) => server.close(resolve));
    store.close();
    throw err;
  }
  const business = link;
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${hostPart}:${addr.port}`;
  log?.info({ url, port: business.port, dbPath: opts.dbPath }, 'host listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    adminPort: addr.port,
    port: business.port,
    setMode,
    setCardMode,
    wallet,
    setServerCertificate: (c) => business.setServerCertificate(c),
    records: () => store.records(),
    management,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const managementClosed = management?.close();
        const businessClosed = business.close();
        server.close(() => {
          store.close();
          void Promise.all([managementClosed, businessClosed]).then(() => resolve());
        });
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
