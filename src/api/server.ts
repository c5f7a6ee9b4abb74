import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { TransactionDesk } from '../desk/desk.js';
import type { ScreenMessage, ScreenView } from '../ui/view-model.js';
import { BodyTooLarge, closeAfter, notLocal, readJson, sendJson, serveStatic, uiDir } from './http.js';
import { applyIntent, intentSchema } from './intent.js';
import type { ScreenState } from './screen-state.js';

export interface ApiOptions {
  /** 0 picks a free port. */
  port: number;
  screen: ScreenState;
  transactions: TransactionDesk;
  log: Logger;
  /** The built screen (index.html, main.js, …); dist/ui of this checkout by default. */
  staticDir?: string;
}

export interface RunningApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

const EVENTS_PATH = '/api/events';

/**
 * The customer's screen and its API on 127.0.0.1: the page, `GET /api/screen` (the view model),
 * `POST /api/intent` (what the customer pressed) and the WebSocket `/api/events`, which sends the
 * view model on connecting and again on every change.
 */
/** Connections served at once; further ones are closed as they arrive. */
export const MAX_CONNECTIONS = 32;

export async function startApi(opts: ApiOptions): Promise<RunningApi> {
  const dir = opts.staticDir ?? uiDir();
  const log = opts.log.child({ part: 'screen' });
  const message = (view: ScreenView): string => JSON.stringify({ view, serverTime: Date.now() } satisfies ScreenMessage);
  let port = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      log.error({ err: e.message, url: req.url }, 'screen request failed');
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'internal error' });
    });
  });

  // One browser uses a handful of connections: more at once is someone else, and each one costs.
  server.maxConnections = MAX_CONNECTIONS;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = notLocal(req);
    if (refused) return sendJson(res, 403, { ok: false, error: refused });
    const path = pathOf(req.url);
    if (path === null) return sendJson(res, 400, { ok: false, error: 'bad request path' });
    if (path === '/api/screen' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(message(opts.screen.view()));
      return;
    }
    if (path === '/api/intent') {
      if (req.method !== 'POST') return sendJson(res, 405, { ok: false, error: 'POST an intent' });
      // A JSON content type cannot be sent cross-site without the browser asking first.
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return sendJson(res, 415, { ok: false, error: 'send application/json' });
      const body = await readJson(req).catch((e: Error) => e);
      if (body instanceof BodyTooLarge) return closeAfter(req, res, 413, { ok: false, error: body.message });
      if (body instanceof Error) return sendJson(res, 400, { ok: false, error: body.message });
      const parsed = intentSchema.safeParse(body);
      if (!parsed.success) return sendJson(res, 400, { ok: false, error: 'not an intent', issues: parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) });
      const result = applyIntent(parsed.data, opts.transactions, opts.screen);
      log.info({ intent: parsed.data.type, ok: result.ok, ...(result.ok ? {} : { error: result.error }) }, 'screen intent');
      // The view after the intent, so the page need not wait for the push.
      opts.screen.changed();
      if (!result.ok) return sendJson(res, result.status, { ok: false, error: result.error, view: opts.screen.view() });
      return sendJson(res, 200, { ...result, view: opts.screen.view() });
    }
    if (req.method === 'GET' && serveStatic(res, dir, path, 'index.html', securityHeaders(port))) return;
    sendJson(res, 404, { ok: false, error: `nothing at ${path}` });
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  wss.on('error', (e: Error) => log.error({ err: e.message }, 'screen socket error'));
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const refused = pathOf(req.url) !== EVENTS_PATH ? 'no such socket' : notLocal(req);
    if (refused) {
      socket.end(`HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n${refused}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A misbehaving client (bad frame, oversized message) must not become an unhandled error in
      // the process that holds the money.
      ws.on('error', () => ws.terminate());
      ws.send(message(opts.screen.view()));
    });
  });
  const onChange = (view: ScreenView) => {
    const text = message(view);
    for (const ws of wss.clients as Set<WebSocket>) if (ws.readyState === ws.OPEN) ws.send(text);
  };
  opts.screen.on('change', onChange);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  log.info({ url }, 'screen listening');
  return {
    url,
    port,
    close: async () => {
      opts.screen.off('change', onChange);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The path of a request's URL, or null when it does not parse: `//` reads as an empty host, and a
 * throw in the upgrade listener would take the whole process down.
 */
function pathOf(url: string | undefined): string | null {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return null;
  }
}

/** The page may load only its own files and may be framed only by loopback pages (the simulator panel). */
function securityHeaders(port: number): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'self'",
      `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
      "img-src 'self' data:",
      'frame-ancestors http://127.0.0.1:* http://localhost:*',
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; '),
  };
}
