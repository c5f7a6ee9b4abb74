/**
 * Reference central server: the business side the kiosk talks to, over HTTP/1.1 + JSON, plus
 * control endpoints that tests and scenarios use to seed accounts, read what arrived and inject
 * faults. Business routes honour the fault mode; control routes never do.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { HostStore, type AccountSeed } from './store.js';

export type HostMode = 'ok' | 'slow' | 'down' | 'garbage';

export interface HostOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  dbPath: string;
  /** Created or updated on every start. */
  accounts?: AccountSeed[];
  mode?: HostMode;
  /** How long 'slow' holds each business answer. */
  delayMs?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

export interface RunningHost {
  url: string;
  port: number;
  close(): Promise<void>;
  setMode(mode: HostMode, delayMs?: number): void;
}

export const DEMO_ACCOUNTS: readonly AccountSeed[] = [
  { phone: '13800138000', amountDue: 5000, holder: 'Zhang San' },
  { phone: '13900139000', amountDue: 12350, holder: 'Li Si' },
  { phone: '13700137000', amountDue: 0, holder: 'Wang Wu' },
];

const DEFAULT_SLOW_MS = 2000;
const MAX_BODY_BYTES = 16 * 1024;

const phone = z.string().regex(/^1\d{10}$/, 'phone must be 11 digits starting with 1');
const fen = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const id = z.string().min(1).max(128);

const paymentBody = z.object({
  messageId: id,
  txnId: id,
  service: z.enum(['pay', 'topup']),
  phone,
  amount: fen.positive(),
  currency: z.literal('CNY'),
  cashIn: fen,
  settledAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'settledAt must be a date-time'),
});

const accountBody = z.object({ phone, amountDue: fen, holder: z.string().min(1).max(100).optional() });

const modeBody = z.object({
  mode: z.enum(['ok', 'slow', 'down', 'garbage']),
  delayMs: z.number().int().nonnegative().max(600_000).optional(),
});

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
  const seeds = opts.accounts ?? (store.created ? DEMO_ACCOUNTS : []);
  for (const a of seeds) store.upsertAccount(a);

  let mode: HostMode = opts.mode ?? 'ok';
  let delayMs = opts.delayMs ?? DEFAULT_SLOW_MS;
  const heldAnswers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const log = opts.log;

  /** Sends a business answer the way the current mode dictates. */
  function answer(res: ServerResponse, status: number, body: unknown): void {
    if (mode !== 'slow') {
      sendJson(res, status, body);
      return;
    }
    const timer = setTimeout(() => {
      heldAnswers.delete(timer);
      if (!res.destroyed) sendJson(res, status, body);
    }, delayMs);
    heldAnswers.add(timer);
  }

  async function business(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    // 'down' and 'garbage' stand for a dead link or a broken proxy: the request never reaches billing.
    if (mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (mode === 'garbage') {
      if (req.method === 'GET') sendJson(res, 200, { result: 'OK', data: [1, 2, 3] });
      else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
      }
      return;
    }
    const account = /^\/v1\/accounts\/([^/]+)$/.exec(path);
    if (account && req.method === 'GET') {
      let p: string;
      try {
        p = decodeURIComponent(account[1]!);
      } catch {
        throw new HttpError(400, 'invalid-phone', 'phone is not valid URL encoding');
      }
      if (!phone.safeParse(p).success) throw new HttpError(400, 'invalid-phone', 'phone must be 11 digits starting with 1');
      const acc = store.account(p);
      if (!acc) return answer(res, 404, { error: 'unknown-account' });
      return answer(res, 200, { phone: acc.phone, amountDue: acc.amountDue, ...(acc.holder ? { holder: acc.holder } : {}) });
    }
    if (path === '/v1/payments' && req.method === 'POST') {
      const p = await readJson(req, paymentBody);
      const outcome = store.recordPayment(p);
      if (outcome.status === 'conflict') {
        log?.warn({ txnId: p.txnId, detail: outcome.detail }, 'conflicting duplicate payment');
        return answer(res, 409, { error: 'conflict', txnId: p.txnId, serverRef: outcome.serverRef, detail: outcome.detail });
      }
      log?.info({ txnId: p.txnId, status: outcome.status, serverRef: outcome.serverRef }, 'payment');
      return answer(res, 200, { status: outcome.status, txnId: p.txnId, serverRef: outcome.serverRef });
    }
    if (account || path === '/v1/payments') throw new HttpError(405, 'method-not-allowed', `${req.method} is not allowed on ${path}`);
    throw new HttpError(404, 'not-found', `no route ${req.method} ${path}`);
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method} ${path}`;
    if (route === 'GET /healthz') return sendJson(res, 200, { ok: true, mode });
    if (route === 'GET /_records') return sendJson(res, 200, store.records());
    if (route === 'POST /_accounts') return sendJson(res, 200, store.upsertAccount(await readJson(req, accountBody)));
    if (route === 'POST /_mode') {
      const m = await readJson(req, modeBody);
      setMode(m.mode, m.delayMs);
      return sendJson(res, 200, { mode, delayMs });
    }
    throw new HttpError(404, 'not-found', `no route ${route}`);
  }

  function setMode(m: HostMode, ms?: number): void {
    mode = m;
    if (ms !== undefined) delayMs = ms;
    log?.info({ mode, delayMs }, 'host mode');
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    const handler = path.startsWith('/v1/') ? business : control;
    handler(req, res, path).catch((err: unknown) => {
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
      server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${hostPart}:${addr.port}`;
  log?.info({ url, dbPath: opts.dbPath }, 'host listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: addr.port,
    setMode,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const t of heldAnswers) clearTimeout(t);
        heldAnswers.clear();
        server.close(() => {
          store.close();
          resolve();
        });
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
