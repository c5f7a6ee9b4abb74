/**
 * Properties of the screen's local HTTP/WebSocket API (src/api/): the intent parser and the
 * Host/Origin check as pure functions, then a shorter run of raw requests, raw bytes and WebSocket
 * frames against the real server on 127.0.0.1 over real machines and a real journal.
 *
 * Checked: an intent is accepted only when it is well-formed (an oracle written from the intent
 * list, not from the schema) and every well-formed one is; only loopback Host and Origin get
 * through; the server never answers 5xx, never accepts a malformed intent or a foreign Host, and
 * still answers after every input.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { WebSocket } from 'ws';
import { notLocal } from '../../src/api/http.js';
import { intentSchema } from '../../src/api/intent.js';
import { startMachinesApi } from '../api/machines-api.js';
import { check, mutate, mutationArb } from './fuzz.js';

// ------------------------------------------------------------------------------ oracles

/**
 * The intents that are a bare type. Their names come from the schema, so a new button (card) needs
 * no edit here; what each must look like is checked by the oracle below, not taken from it.
 */
const TYPES = intentSchema.options.map((o) => o.shape.type.value as string);
const BARE = new Set(TYPES.filter((type) => type !== 'start' && type !== 'number' && type !== 'mobile'));
for (const type of ['start', 'number', 'confirm', 'done', 'cancel', 'activity']) assert.ok(TYPES.includes(type), `the intent ${type} is gone`);

/** Whether `v` is an intent, from the list of intents the screen may send (docs/customer-screen.md, src/ui). */
function wellFormed(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(',');
  if (typeof o.type !== 'string') return false;
  if (BARE.has(o.type)) return keys === 'type';
  if (o.type === 'start') return keys === 'service,type' && (o.service === 'pay' || o.service === 'topup');
  if (o.type === 'number') return keys === 'phone,type' && typeof o.phone === 'string' && /^[0-9]{1,20}$/.test(o.phone);
  if (o.type === 'mobile') return keys === 'mode,type' && (o.mode === 'code' || o.mode === 'qr');
  return false;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];

// ------------------------------------------------------------------------------ generators

const validIntentArb = fc.oneof(
  fc.constantFrom(...BARE).map((type) => ({ type }) as Record<string, unknown>),
  fc.constantFrom('pay', 'topup').map((service) => ({ type: 'start', service }) as Record<string, unknown>),
  fc.stringMatching(/^[0-9]{1,20}$/).map((phone) => ({ type: 'number', phone }) as Record<string, unknown>),
  fc.constantFrom('code', 'qr').map((mode) => ({ type: 'mobile', mode }) as Record<string, unknown>),
);
const oddValueArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('pay', 'topup', 'lookup', 'PAY', '', '13800138000', '1'.repeat(21), '１２３', '123 ', '\u0000', 'confirm', null, 0, true, [], {}),
);
/** Intents bent in one way or another: a key more or less, a value of another kind, another type. */
const bentIntentArb = fc
  .tuple(validIntentArb, fc.array(fc.tuple(fc.constantFrom('type', 'service', 'phone', 'amount', '__proto__', 'constructor', 'Type'), fc.option(oddValueArb)), { minLength: 1, maxLength: 3 }))
  .map(([intent, edits]) => {
    const o: Record<string, unknown> = { ...intent };
    for (const [k, v] of edits) {
      if (v === null) delete o[k];
      else Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return o;
  });
const intentLikeArb = fc.oneof(validIntentArb, bentIntentArb, fc.jsonValue({ maxDepth: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), oddValueArb, { maxKeys: 3 }));

/** A body as bytes: an intent's JSON, mutated JSON, or anything. */
const bodyArb = fc.oneof(
  { weight: 3, arbitrary: intentLikeArb.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  { weight: 2, arbitrary: fc.tuple(validIntentArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([v, ms]) => Buffer.from(mutate(Buffer.from(JSON.stringify(v)), ms))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.integer({ min: 4000, max: 9000 }).map((n) => Buffer.from(`{"type":"number","phone":"${'1'.repeat(n)}"}`)) },
);

/** The JSON a body parses to, or undefined when it does not parse. */
function parsed(body: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return undefined;
  }
}

const hostArb = fc.oneof(
  fc.constantFrom(...LOOPBACK).chain((h) => fc.constantFrom(h, `${h}:8080`, `${h}:0`, `${h}:`, `${h}.`, `${h}:99999`, `${h.toUpperCase()}`)),
  fc.constantFrom('evil.example', '127.0.0.1.evil.example', 'localhost.evil', '127.0.0.2', '0.0.0.0', '[::ffff:127.0.0.1]', '2130706433', '0x7f.1', 'user@127.0.0.1', '127.0.0.1@evil', '', ' ', '127.0.0.1/x', '[::1', 'localhost:80:80'),
  fc.string({ maxLength: 30 }),
);
const originArb = fc.option(
  fc.oneof(
    hostArb.map((h) => `http://${h}`),
    fc.constantFrom('null', 'file://', 'https://127.0.0.1', 'http://127.0.0.1:1', 'chrome-extension://abc', 'http://evil.example'),
    fc.string({ maxLength: 30 }),
  ),
);

check(
  t,
  'intent parser: accepted exactly when well-formed, and what it gives back is what was sent',
  fc.property(fc.oneof(intentLikeArb, bodyArb.map((b) => parsed(b)?.value)), (v) => {
    const r = intentSchema.safeParse(v);
    assert.equal(r.success, wellFormed(v), `accepted ${JSON.stringify(v)}: ${r.success}`);
    if (r.success) assert.deepEqual({ ...r.data }, { ...(v as object) });
  }),
);

check(
  t,
  'Host and Origin check: never throws; lets through only the loopback address, and an Origin only of the same host',
  fc.property(hostArb, originArb, (host, origin) => {
    const headers: Record<string, string> = { host };
    if (origin !== null && origin !== undefined) headers.origin = origin;
    const refused = notLocal({ headers } as unknown as IncomingMessage);
    if (refused !== null) return;
    assert.ok(LOOPBACK.includes(new URL(`http://${host}`).hostname), `Host ${host} let through`);
    if (headers.origin !== undefined) assert.equal(new URL(headers.origin).host, new URL(`http://${host}`).host, `Origin ${headers.origin} let through`);
  }),
);

// ------------------------------------------------------------------------------ the real server

// Real terminal and transaction machines and journal; the devices and the look-up are stand-ins.
const { api } = await startMachinesApi(t);

/** Writes raw bytes on a fresh connection; the status of the answer, or null when none came. */
function raw(bytes: Buffer): Promise<{ status: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(api.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer nor close within 10 s to ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`));
    }, 10_000);
    socket.on('data', (c) => {
      chunks.push(c);
      // An upgraded connection stays open: its status line is the answer.
      if (Buffer.concat(chunks).toString('latin1').startsWith('HTTP/1.1 101 ')) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    });
    socket.end(bytes);
  });
}

function request(method: string, path: string, headers: Record<string, string>, body: Buffer): Buffer {
  const ending = headers.upgrade === undefined ? [`content-length: ${body.length}`, 'connection: close'] : ['connection: Upgrade'];
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), ...ending, '', ''];
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]);
}

/** The server still answers an ordinary request. */
async function stillUp(): Promise<void> {
  const r = await raw(request('GET', '/api/screen', { host: `127.0.0.1:${api.port}` }, Buffer.alloc(0)));
  assert.equal(r.status, 200, 'the server stopped answering');
}

const SCALE = 0.2;

check(
  t,
  'server: intents with any body, content type, Host and Origin: never 5xx, 200 only for a well-formed local intent',
  fc.asyncProperty(
    bodyArb,
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
    fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: hostArb }),
    originArb,
    async (body, type, host, origin) => {
      const headers: Record<string, string> = { host: host ?? `127.0.0.1:${api.port}` };
      if (type !== '') headers['content-type'] = type;
      if (origin !== null) headers.origin = origin;
      // Header values the HTTP parser would take apart are sent anyway: the server must cope.
      const r = await raw(request('POST', '/api/intent', headers, body));
      assert.ok(r.status === null || r.status < 500, `status ${r.status}`);
      if (r.status === 200) {
        const p = parsed(body);
        assert.ok(p && wellFormed(p.value), `accepted ${body.toString('latin1').slice(0, 200)}`);
        assert.ok(type.startsWith('application/json'));
        // As the HTTP parser hands them over, when it can (no line breaks, outer spaces trimmed).
        if (Object.values(headers).every((v) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(v))) {
          assert.equal(notLocal({ headers } as unknown as IncomingMessage), null, `let through ${JSON.stringify(headers)}`);
        }
      }
      await stillUp();
    },
  ),
  SCALE,
);

const methodArb = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'CONNECT', 'TRACE', 'BREW'), fc.stringMatching(/^[A-Z]{1,10}$/));
const pathArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('/', '/api/screen', '/api/intent', '/api/events', '/index.html', '/main.js', '/../secret', '/%2e%2e/%2e%2e/etc/passwd', '/%ff', '/%', '/api/screen?x=%zz', '//evil.example/', '//', '//:99999/api/events', '//[::1/', '*', 'http://127.0.0.1/api/screen', '/\u00e9') },
  { weight: 1, arbitrary: fc.webPath() },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`) },
);

check(
  t,
  'server: any method and path, and raw bytes instead of HTTP: never 5xx, and the server stays up',
  fc.asyncProperty(
    fc.oneof(
      fc.tuple(methodArb, pathArb, bodyArb).map(([m, p, b]) => request(m, p, { host: `127.0.0.1:${api.port}`, 'content-type': 'application/json' }, b)),
      // A WebSocket upgrade to any path with any Host: the upgrade is handled outside the request handler.
      fc.tuple(pathArb, fc.option(hostArb)).map(([p, h]) =>
        request('GET', p, { host: h ?? `127.0.0.1:${api.port}`, upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' }, Buffer.alloc(0)),
      ),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.constantFrom('GET / HTTP/1.1\r\n', 'POST /api/intent HTTP/1.1\r\n', 'GET /api/events HTTP/1.1\r\n'), fc.uint8Array({ maxLength: 200 })).map(([start, b]) => Buffer.concat([Buffer.from(start), b])),
    ),
    async (bytes) => {
      const r = await raw(bytes);
      assert.ok(r.status === null || r.status < 500, `status ${r.status}: ${r.text.slice(0, 200)}`);
      await stillUp();
    },
  ),
  SCALE,
);

/** A client frame: FIN, the opcode, masked as a client must, with the payload length as given. */
function frame(opcode: number, payload: Buffer, fin = true, mask = true): Buffer {
  const key = Buffer.from([1, 2, 3, 4]);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | len]) : Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  const body = mask ? Buffer.from(payload.map((b, i) => b ^ key[i % 4]!)) : payload;
  return Buffer.concat([head, mask ? key : Buffer.alloc(0), body]);
}

const wsInputArb = fc.array(
  fc.oneof(
    fc.tuple(fc.constantFrom(0x1, 0x2, 0x0, 0x8, 0x9, 0xa, 0x3, 0xb), bodyArb, fc.boolean(), fc.boolean()).map(([op, b, fin, mask]) => frame(op, b.subarray(0, 2000), fin, mask)),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  ),
  { minLength: 1, maxLength: 5 },
);

check(
  t,
  'WebSocket: any frames or bytes after the upgrade: the client gets the view or is dropped, the server stays up',
  fc.asyncProperty(wsInputArb, async (frames) => {
    const ws = new WebSocket(`ws://127.0.0.1:${api.port}/api/events`);
    const first = new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    const view = JSON.parse(await first) as { view?: { screen?: string } };
    assert.equal(typeof view.view?.screen, 'string');
    ws.on('error', () => undefined);
    // The raw socket under the client: the frames go out exactly as generated, valid or not.
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    for (const f of frames) socket.write(f);
    // The server drops a bad client; a good-enough one is let go by us.
    const dropped = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);
    if (!dropped) ws.terminate();
    await stillUp();
  }),
  SCALE,
);
