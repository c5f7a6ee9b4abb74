import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { peerCredentials, type Peer } from './peer.js';
import { controlRequest, type ControlRequest, type ControlResponse } from './protocol.js';

const MAX_LINE = 64 * 1024;

/** `peer` is given on a socket served with `identify`: who the kernel says sent the request. */
export type ControlHandler = (req: ControlRequest, peer?: Peer) => Promise<ControlResponse> | ControlResponse;

export interface ServeControlOptions {
  /** File mode of the socket: 0600 (the service's user only) unless told. */
  mode?: number;
  /** Group given the socket (a number; the folder's set-group-id bit is the other way). */
  gid?: number;
  /** Ask the kernel who connected (SO_PEERCRED) and hand it to the handler with each request. */
  identify?: boolean;
}

/** Serves the control protocol on a unix socket, by default readable only by the service's own user. */
export async function serveControl(path: string, handle: ControlHandler, opts: ServeControlOptions = {}): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true });
  // A socket file left by a killed process would make listen() fail with EADDRINUSE.
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    if (!opts.identify) {
      serveConnection(socket, handle);
      return;
    }
    // Nothing is read before the sender is known; a sender that cannot be named is refused.
    socket.pause();
    peerCredentials(socket).then(
      (peer) => {
        serveConnection(socket, (req) => handle(req, peer));
        socket.resume();
      },
      (e: Error) => socket.end(JSON.stringify({ ok: false, error: e.message }) + '\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (opts.gid !== undefined) chownSync(path, process.getuid?.() ?? -1, opts.gid);
  chmodSync(path, opts.mode ?? 0o600);
  return server;
}

function serveConnection(socket: Socket, handle: (req: ControlRequest) => Promise<ControlResponse> | ControlResponse): void {
  let buffered = '';
  let queue = Promise.resolve();
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_LINE && !buffered.includes('\n')) {
      socket.end(JSON.stringify({ ok: false, error: 'request line too long' }) + '\n');
      return;
    }
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      // Answers go out in request order even when a handler is slow.
      queue = queue.then(async () => {
        const answer = await answerLine(line, handle);
        if (!socket.destroyed) socket.write(JSON.stringify(answer) + '\n');
      });
    }
  });
}

/** One request line checked against the protocol; never throws. */
export function parseRequestLine(line: string): { ok: true; req: ControlRequest } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  const parsed = controlRequest.safeParse(json);
  if (!parsed.success) {
    return { ok: false, error: `bad request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'cmd'}: ${i.message}`).join('; ')}` };
  }
  return { ok: true, req: parsed.data };
}

async function answerLine(line: string, handle: (req: ControlRequest) => Promise<ControlResponse> | ControlResponse): Promise<ControlResponse> {
  const parsed = parseRequestLine(line);
  if (!parsed.ok) return parsed;
  try {
    return await handle(parsed.req);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
