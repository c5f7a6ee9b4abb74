import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Why a request must be refused, or null. Both servers listen on 127.0.0.1 only, but a page on
 * any web site the kiosk's browser might open could still reach them through DNS rebinding or a
 * cross-site form: so the Host must name the loopback address, and an Origin, when sent, must be
 * the server's own.
 */
export function notLocal(req: IncomingMessage): string | null {
  const host = req.headers.host ?? '';
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return 'bad Host header';
  }
  if (!LOOPBACK.has(hostname)) return `Host ${host} is not the loopback address`;
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    return 'bad Origin header';
  }
  if (!LOOPBACK.has(from.hostname) || from.host !== host) return `Origin ${origin} is not this server`;
  return null;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A request body over its limit: answered 413, and the rest of it is never read. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`body too large (the limit is ${limit} bytes)`);
  }
}

/**
 * A small JSON body; rejects anything larger than `limit` bytes or not JSON. A body announced or
 * found to be larger stops being read at once: the caller answers 413 and closes the connection
 * (closeAfter), so a client cannot make the kiosk read 200 MB.
 */
export function readJson(req: IncomingMessage, limit = 4096): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const announced = Number(req.headers['content-length'] ?? 0);
    if (announced > limit) {
      req.pause();
      return reject(new BodyTooLarge(limit));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) {
        chunks.push(c);
        return;
      }
      req.off('data', onData);
      req.pause();
      reject(new BodyTooLarge(limit));
    };
    req.on('data', onData);
    req.on('end', () => {
      if (size > limit) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

/**
 * Answers and closes the connection without reading what is left of the request: the socket
 * stops reading, the answer goes out, and the connection is ended (destroyed soon after, should
 * the client not close its side).
 */
export function closeAfter(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const socket = req.socket;
  socket.pause();
  res.shouldKeepAlive = false;
  res.setHeader('connection', 'close');
  res.on('finish', () => {
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  sendJson(res, status, body);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

/** Serves a file of `dir` named by the URL path ('/' is `index`); false when there is none. */
export function serveStatic(res: ServerResponse, dir: string, urlPath: string, index: string, headers: Record<string, string> = {}): boolean {
  let name: string;
  try {
    name = urlPath === '/' ? index : decodeURIComponent(urlPath).replace(/^\/+/, '');
  } catch {
    return false;
  }
  const type = TYPES[extname(name)];
  const path = normalize(join(dir, name));
  if (!type || !path.startsWith(dir + sep) || !existsSync(path) || !statSync(path).isFile()) return false;
  const body = readFileSync(path);
  // The kiosk's page must pick up a new version after an update without a cache to clear.
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'content-length': body.length, ...headers });
  res.end(body);
  return true;
}

/** dist/ui of this checkout, found from this file whether it runs from source or from dist/. */
export function uiDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the kiosk folder (package.json)');
    dir = up;
  }
  return join(dir, 'dist', 'ui');
}
