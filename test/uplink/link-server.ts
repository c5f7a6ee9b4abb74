/** A scripted business server for the link tests: real mutual TLS, envelopes, a handler per test. */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type TLSSocket, type TlsOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import { createDevPki, type DevPkiFiles } from '../../hw-sim/pki/dev-pki.js';
import { EnvelopeDecoder, encodeMessage, Service, type EnvelopeMessage } from '../../src/uplink/link/envelope.js';
import { loadTlsMaterial, type TlsMaterial } from '../../src/tls/material.js';

export interface Pki {
  files: DevPkiFiles;
  /** What the kiosk loads: CA, its certificate and key. */
  kiosk: TlsMaterial;
  /** What a server presents: its certificate and key, and the CA it checks clients against. */
  server: { ca: Buffer; cert: Buffer; key: Buffer };
}

export async function makePki(dir: string, terminalId = 'T-0001'): Promise<Pki> {
  const { files } = await createDevPki(dir, { terminalId });
  const r = (f: string) => readFileSync(f);
  return {
    files,
    kiosk: loadTlsMaterial({ ca: files.ca, cert: files.clientCert, key: files.clientKey }),
    server: { ca: r(files.ca), cert: r(files.serverCert), key: r(files.serverKey) },
  };
}

/** Answers one request: return a body (error 0), [error, body], or nothing to stay silent. */
export type Handler = (m: EnvelopeMessage, socket: TLSSocket) => unknown | Promise<unknown>;

export interface ScriptedServer {
  port: number;
  server: Server;
  sockets: Set<TLSSocket>;
  /** Terminal ids (client certificate CN) of each accepted connection, in order. */
  peers: string[];
  requests: EnvelopeMessage[];
  handler: Handler;
  close(): Promise<void>;
}

export const answer = (error: number, body: unknown) => ({ [ANSWER]: true, error, body });
const ANSWER = Symbol('answer');

/** Hello and echo are answered; everything else goes to `handler`. */
export async function scriptedServer(t: Test, pki: Pki, handler: Handler, tls: TlsOptions = {}, port = 0): Promise<ScriptedServer> {
  const sockets = new Set<TLSSocket>();
  const s: ScriptedServer = {
    port: 0,
    server: undefined as unknown as Server,
    sockets,
    peers: [],
    requests: [],
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        for (const sock of sockets) sock.destroy();
        s.server.close(() => resolve());
      }),
  };
  const server = createServer(
    { ...pki.server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ...tls },
    (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      s.peers.push(String(socket.getPeerCertificate().subject?.CN ?? ''));
      const decoder = new EnvelopeDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const m of decoder.push(chunk)) {
          s.requests.push(m);
          const reply = (error: number, body: unknown) => {
            if (!socket.destroyed) socket.write(encodeMessage({ seq: m.seq, service: m.service, error, response: true, body }));
          };
          if (m.service === Service.hello) reply(0, { terminalId: s.peers.at(-1) });
          else if (m.service === Service.echo) reply(0, {});
          else {
            void Promise.resolve(s.handler(m, socket)).then((out) => {
              if (out === undefined) return;
              const o = out as { [ANSWER]?: boolean; error: number; body: unknown };
              if (o[ANSWER]) reply(o.error, o.body);
              else reply(0, out);
            });
          }
        }
      });
    },
  );
  server.on('tlsClientError', () => undefined);
  s.server = server;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  s.port = (server.address() as AddressInfo).port;
  t.teardown(() => s.close());
  return s;
}
