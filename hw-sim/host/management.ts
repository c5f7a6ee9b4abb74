/**
 * Reference management server: HTTPS with mutual TLS on its own port. The terminal is the common
 * name of the client certificate it presented (signed by the pinned CA), never a field of the body.
 * Routes: POST /v1/heartbeat (answered with the commands waiting for that terminal), /v1/counters,
 * /v1/alarms, /v1/commands/<id>/ack, /v1/journal-extracts; GET /v1/updates/<path> (the update
 * repository, with Range). Admin: staged roll-outs on POST and GET /_rollouts. The admin routes (queue a command,
 * print what it holds, fault mode) are served on the host's plain loopback admin HTTP instead.
 *
 * Fault modes: 'refuse' drops each connection before the handshake, 'late' holds each answer
 * (after storing), 'error' answers 503 without storing, 'drop' stores and then cuts the
 * connection without an answer.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { z } from 'zod';
import { headSchema } from './chain-heads.js';
import { ManagementStore, type ManagementRecords } from './management-store.js';
import { Rollout } from './rollout.js';
import { UpdateFiles } from './update-files.js';

export const MANAGEMENT_MODES = ['ok', 'refuse', 'late', 'error', 'drop'] as const;
export type ManagementMode = (typeof MANAGEMENT_MODES)[number];

export interface ManagementServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** The host's SQLite file; these tables live beside the business ones. */
  dbPath: string;
  /** PEM: the CA that signs kiosk certificates, and this server's certificate and key. */
  tls: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
  mode?: ManagementMode;
  /** How long 'late' holds each answer. */
  delayMs?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
  /** An update repository (`kiosk-sim release publish`) served under GET /v1/updates/. */
  updatesDir?: string;
}

export interface RunningManagement {
  port: number;
  url: string;
  setMode(mode: ManagementMode, delayMs?: number): void;
  queueCommand(c: { terminalId: string; type: string; args?: Record<string, unknown>; by?: string }): ReturnType<ManagementStore['queueCommand']>;
  records(): ManagementRecords;
  /** Serves an admin route of the host's plain HTTP; false when the route is not one of these. */
  admin(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
  /** Forgets the chain heads a terminal reported (see ChainHeadBook.reset); returns the rows forgotten. */
  resetChainHeads(terminalId: string): number;
  close(): Promise<void>;
  /** The update repository's files, when one is served. */
  updates: UpdateFiles | undefined;
}

const DEFAULT_LATE_MS = 3000;
/** A staged roll-out asked for on the admin HTTP (hw-sim/host/rollout.ts); terminals default to every one heard from. */
const rolloutBody = z
  .object({
    version: z.string().min(1).max(64),
    url: z.string().url(),
    digest: z.string().regex(/^[0-9a-f]{64}$/),
    terminals: z.array(z.string().min(1)).optional(),
    groups: z.array(z.number().min(0).max(100)).min(1).default([1, 10, 100]),
    maxFailureRate: z.number().min(0).max(1).default(0.2),
    healthyWithinMs: z.number().int().positive().default(600_000),
  })
  .strict();
/** A journal extract of up to 5,000 events fits well within this. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const text = (max: number) => z.string().min(1).max(max);
const alarmIn = z.object({
  id: text(128),
  action: z.enum(['raise', 'clear']),
  kind: text(64),
  source: text(128),
  severity: z.enum(['warning', 'critical']),
  detail: z.string().max(1000),
  at: text(64),
});
const alarmsBody = z.object({ alarms: z.array(alarmIn).max(1000) });
const ackBody = z.object({ ok: z.boolean(), result: z.record(z.string(), z.unknown()).default({}) });
const extractBody = z.object({ commandId: text(128), events: z.array(z.unknown()) }).passthrough();
const anyObject = z.record(z.string(), z.unknown());
const queueBody = z
  .object({ terminalId: text(64), type: text(64), args: z.record(z.string(), z.unknown()).optional(), by: text(128).optional() })
  .strict();
const modeBody = z.object({ mode: z.enum(MANAGEMENT_MODES), delayMs: z.number().int().nonnegative().max(600_000).optional() }).strict();

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

async function readJson<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'body-too-large', `body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'malformed-json', 'body is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, 'invalid-body', z.prettifyError(parsed.error));
  return parsed.data;
}

export async function startManagementServer(opts: ManagementServerOptions): Promise<RunningManagement> {
  const store = new ManagementStore(opts.dbPath);
  let mode: ManagementMode = opts.mode ?? 'ok';
  let delayMs = opts.delayMs ?? DEFAULT_LATE_MS;
  const log = opts.log;
  const updates = opts.updatesDir ? new UpdateFiles(opts.updatesDir) : undefined;
  const rollouts: Rollout[] = [];
  const rolloutTimer = setInterval(() => rollouts.forEach((r) => r.tick()), 1000).unref();
  const sockets = new Set<Socket>();
  const held = new Set<NodeJS.Timeout>();

  /** Answers as the fault mode says, once the request has been stored. */
  function answer(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    if (mode === 'drop') {
      req.socket.destroy();
      return;
    }
    if (mode !== 'late') return sendJson(res, 200, body);
    const timer = setTimeout(() => {
      held.delete(timer);
      if (!res.destroyed) sendJson(res, 200, body);
    }, delayMs);
    held.add(timer);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (mode === 'error') throw new HttpError(503, 'unavailable', 'management server in error mode');
    const terminal = terminalOf(req);
    const path = new URL(req.url ?? '/', 'https://management').pathname;
    if (req.method === 'GET' && path.startsWith('/v1/updates/') && updates) {
      if (updates.serve(req, res, decodeURIComponent(path.slice('/v1/updates/'.length)))) return;
      throw new HttpError(404, 'not-found', `no update file ${path}`);
    }
    if (req.method !== 'POST') throw new HttpError(405, 'method-not-allowed', `${req.method} is not allowed`);
    if (path === '/v1/heartbeat') {
      const body = await readJson(req, anyObject);
      store.heartbeat(terminal, body);
      // The chain head a kiosk reports (absent before issue 15): kept, compared, and sent back.
      const head = headSchema.safeParse(body.chainHead);
      const v = head.success ? store.chainHead(terminal, head.data) : undefined;
      const heads = v ? { chainHead: v.highest, ...(v.before ? { chainHeadBefore: v.before } : {}) } : {};
      return answer(req, res, { commands: store.pendingCommands(terminal), ...heads });
    }
    if (path === '/v1/counters') {
      store.counters(terminal, await readJson(req, anyObject));
      return answer(req, res, { ok: true });
    }
    if (path === '/v1/alarms') {
      const { alarms } = await readJson(req, alarmsBody);
      return answer(req, res, { acked: store.alarms(terminal, alarms) });
    }
    const ack = /^\/v1\/commands\/([^/]+)\/ack$/.exec(path);
    if (ack) {
      const body = await readJson(req, ackBody);
      return answer(req, res, { status: store.acknowledge(terminal, decodeURIComponent(ack[1]!), body) });
    }
    if (path === '/v1/journal-extracts') {
      const body = await readJson(req, extractBody);
      store.extract(terminal, body.commandId, body);
      return answer(req, res, { ok: true, events: body.events.length });
    }
    throw new HttpError(404, 'not-found', `no route ${req.method} ${path}`);
  }

  const server: Server = createServer(
    { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (req, res) => {
      route(req, res).catch((err: unknown) => fail(res, err));
    },
  );
  server.on('connection', (s: Socket) => {
    if (mode === 'refuse') {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (err) => log?.warn({ err: err.message }, 'management: TLS handshake refused'));

  function fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent || res.destroyed) return;
    if (err instanceof HttpError) return sendJson(res, err.status, { error: err.code, message: err.message });
    log?.warn({ err }, 'management request failed');
    sendJson(res, 500, { error: 'internal', message: 'internal error' });
  }

  function setMode(m: ManagementMode, ms?: number): void {
    mode = m;
    if (ms !== undefined) delayMs = ms;
    log?.info({ mode, delayMs }, 'management mode');
  }

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
  const url = `https://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log?.info({ url }, 'management server listening');

  let closing: Promise<void> | undefined;
  return {
    port: addr.port,
    url,
    setMode,
    queueCommand: (c) => store.queueCommand(c),
    records: () => store.records(),
    updates,
    resetChainHeads: (terminalId) => store.resetChainHeads(terminalId),
    async admin(req, res, path) {
      const r = `${req.method} ${path}`;
      try {
        if (r === 'GET /_management') sendJson(res, 200, store.records());
        else if (r === 'POST /_commands') sendJson(res, 200, store.queueCommand(await readJson(req, queueBody)));
        else if (r === 'GET /_rollouts') sendJson(res, 200, rollouts.map((x) => x.status()));
        else if (r === 'POST /_rollouts') {
          const body = await readJson(req, rolloutBody);
          const terminals = body.terminals ?? store.records().heartbeats.map((h) => h.terminalId);
          const rollout = new Rollout(store, { ...body, terminals });
          rollouts.push(rollout);
          sendJson(res, 200, rollout.tick());
        }
        else if (r === 'POST /_management/mode') {
          const m = await readJson(req, modeBody);
          setMode(m.mode, m.delayMs);
          sendJson(res, 200, { mode, delayMs });
        } else return false;
      } catch (err) {
        fail(res, err);
      }
      return true;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(rolloutTimer);
        for (const t of held) clearTimeout(t);
        held.clear();
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

/** The terminal a request comes from: the common name of its verified client certificate. */
function terminalOf(req: IncomingMessage): string {
  const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) throw new HttpError(403, 'no-terminal', 'the client certificate names no terminal');
  return name;
}
