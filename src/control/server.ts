import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { controlRequest, type ControlRequest, type ControlResponse } from './protocol.js';

const MAX_LINE = 64 * 1024;

export type ControlHandler = (req: ControlRequest) => Promise<ControlResponse> | ControlResponse;

/** Serves the control protocol on a unix socket readable only by the service's own user. */
export async function serveControl(path: string, handle: ControlHandler): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true });
  // A socket file left by a killed process would make listen() fail with EADDRINUSE.
  rmSync(path, { force: true });
  const server = createServer((socket) => serveConnection(socket, handle));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

function serveConnection(socket: Socket, handle: ControlHandler): void {
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

async function answerLine(line: string, handle: ControlHandler): Promise<ControlResponse> {
  const parsed = parseRequestLine(line);
  if (!parsed.ok) return parsed;
  try {
    return await handle(parsed.req);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
