/**
 * Short HTTPS requests to the management server: one connection per request (no keep-alive), mutual
 * TLS 1.2 or newer with the server's CA pinned, a hard deadline per request, JSON both ways.
 */
import { request } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { z } from 'zod';
import { clientTlsOptions, type TlsMaterial } from '../tls/material.js';
import type { ManagementTarget } from './transport.js';

/**
 * 'certificate': this kiosk refused the server's certificate (not from the pinned CA, wrong name,
 * expired); 'handshake': the server refused this kiosk's certificate or TLS failed otherwise.
 */
export type ManagementErrorKind = 'refused' | 'certificate' | 'handshake' | 'timeout' | 'network' | 'http' | 'garbage';

export class ManagementError extends Error {
  override readonly name = 'ManagementError';
  constructor(
    readonly kind: ManagementErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** An answer bigger than this is not a management answer. */
const MAX_ANSWER_BYTES = 1024 * 1024;

const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export class ManagementClient {
  /**
   * Made once: building it parses the key and the CA, a millisecond or more of the main thread on
   * each heartbeat otherwise, when a note may be waiting in escrow. Each request still has its own
   * connection and full handshake.
   */
  private secureContext: SecureContext | undefined;

  constructor(
    private target: ManagementTarget,
    private readonly tls: TlsMaterial,
  ) {}

  /** Host, port, name or time-out changed by a configuration reload; the next request uses them. */
  retarget(target: ManagementTarget): void {
    this.target = target;
  }

  get where(): string {
    return `${this.target.host}:${this.target.port}`;
  }

  private tlsOptions(serverName: string): ReturnType<typeof clientTlsOptions> & { secureContext: SecureContext } {
    const options = clientTlsOptions(this.tls, serverName);
    this.secureContext ??= createSecureContext(options);
    return { ...options, secureContext: this.secureContext };
  }

  post<T>(path: string, body: unknown, answer: z.ZodType<T>): Promise<T> {
    const t = this.target;
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: ManagementError | null, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value as T);
      };
      const req = request(
        {
          host: t.host,
          port: t.port,
          path,
          method: 'POST',
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': payload.length, connection: 'close' },
          ...this.tlsOptions(t.serverName),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) finish(new ManagementError('garbage', `answer to ${path} exceeds ${MAX_ANSWER_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on('error', (e) => finish(classify(e)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              finish(new ManagementError(res.statusCode && res.statusCode >= 400 ? 'http' : 'garbage', `answer to ${path} is not JSON (HTTP ${res.statusCode})`));
              return;
            }
            if (!res.statusCode || res.statusCode >= 400) {
              const error = (json as { error?: unknown } | null)?.error;
              finish(new ManagementError('http', `${path}: HTTP ${res.statusCode}${typeof error === 'string' ? ` (${error.slice(0, 100)})` : ''}`));
              return;
            }
            const parsed = answer.safeParse(json);
            if (!parsed.success) finish(new ManagementError('garbage', `answer to ${path} has an unexpected shape`));
            else finish(null, parsed.data);
          });
        },
      );
      const deadline = setTimeout(() => finish(new ManagementError('timeout', `${path}: no answer within ${t.timeoutMs} ms`)), t.timeoutMs);
      req.on('error', (e) => finish(classify(e)));
      req.end(payload);
    });
  }
}

/** Names what went wrong from the socket's error, never quoting certificates or keys. */
export function classify(e: Error): ManagementError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (code === 'ECONNREFUSED') return new ManagementError('refused', `connection refused (${e.message})`);
  if (CERTIFICATE_CODES.has(code)) return new ManagementError('certificate', `the server's certificate is refused: ${code}`);
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return new ManagementError('handshake', `TLS handshake failed: ${code}`);
  // An alert from the server (no suite in common, say) comes as EPROTO with OpenSSL's reason.
  if (code === 'EPROTO') return new ManagementError('handshake', `TLS handshake failed: ${e.message}`);
  return new ManagementError('network', `${code || 'network error'}: ${e.message}`);
}
