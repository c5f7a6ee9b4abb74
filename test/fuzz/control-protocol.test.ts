/** Properties of the control protocol's request schema (src/control/protocol.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { controlRequest } from '../../src/control/protocol.js';
import { parseRequestLine } from '../../src/control/server.js';
import { check } from './fuzz.js';

/** What the server does with one request line before the handler (src/control/server.ts). */
function answer(line: string): { ok: true; cmd: string } | { ok: false; error: string } {
  const r = parseRequestLine(line);
  return r.ok ? { ok: true, cmd: r.req.cmd } : r;
}

const CMDS = [
  'status', 'start', 'number', 'confirm', 'done', 'topup-offline', 'cancel', 'transactions', 'transaction', 'verify',
  'forward-now', 'hoppers', 'hopper-level', 'hopper-refill', 'cash-collection', 'reprint', 'reprint-queue',
  'out-of-service', 'in-service', 'device-test', 'config', 'log-tail', 'audit',
] as const;
const FIELDS = [
  'service', 'phone', 'limit', 'id', 'name', 'level', 'add', 'by', 'counted', 'reason', 'device', 'lines', 'who', 'action', 'ok',
];
/** Keys that have tripped up object handling elsewhere. */
const TRICKY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', ''];

/** safeParse never throws: a success with a known cmd, or issues that each say something. */
function parses(value: unknown): boolean {
  const r = controlRequest.safeParse(value);
  if (r.success) {
    assert.ok((CMDS as readonly string[]).includes(r.data.cmd));
    return true;
  }
  assert.ok(r.error.issues.length > 0, 'a failure names at least one issue');
  for (const i of r.error.issues) {
    assert.equal(typeof i.message, 'string');
    assert.ok(i.message.length > 0);
    assert.ok(Array.isArray(i.path));
  }
  return false;
}

check(
  t,
  'any JSON value: safeParse never throws and a refusal names its issues',
  fc.property(fc.jsonValue(), (v) => {
    parses(v);
  }),
);

check(
  t,
  'any JavaScript value (maps, sets, dates, typed arrays, null-prototype objects): safeParse never throws',
  fc.property(
    fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withNullPrototype: true,
      withObjectString: true,
      withSet: true,
      withSparseArray: true,
      withTypedArray: true,
    }),
    (v) => {
      parses(v);
    },
  ),
);

const keyArb = fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom(...TRICKY_KEYS), fc.string({ maxLength: 8 }));
const nearlyValidArb = fc
  .tuple(fc.oneof(fc.constantFrom(...CMDS), fc.jsonValue()), fc.dictionary(keyArb, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }))
  .map(([cmd, rest]) => JSON.stringify({ ...rest, cmd }).replace(/^\{/, '{"__proto__":{"polluted":1},'));

check(
  t,
  'request lines with a real cmd and random fields (including __proto__): an answer, never a throw, never pollution',
  fc.property(nearlyValidArb, (line) => {
    const a = answer(line);
    if (!a.ok) assert.match(a.error, /^(bad request: .+|request is not JSON)$/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  }),
);

check(
  t,
  'any text line: the server answers ok or a clear error, never throws',
  fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null')), (line) => {
    const a = answer(line);
    if (!a.ok) assert.ok(a.error.length > 0);
  }),
);

// ------------------------------------------------------------------------------ valid requests

const str = (max: number) => fc.string({ unit: 'binary', maxLength: max }).map((s) => s.slice(0, max));
const int = (min: number, max: number) => fc.integer({ min, max });
const plain = (cmd: string) => fc.constant({ cmd });

const validArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  ...['status', 'confirm', 'done', 'topup-offline', 'cancel', 'verify', 'forward-now', 'hoppers', 'reprint-queue', 'config'].map(plain),
  fc.record({ cmd: fc.constant('start'), service: fc.constantFrom('pay', 'topup', 'lookup') }),
  fc.record({ cmd: fc.constant('number'), phone: str(32) }),
  fc.record({ cmd: fc.constant('transactions'), limit: int(1, 500) }, { requiredKeys: ['cmd'] }),
  fc.record({ cmd: fc.constant('transaction'), id: str(64) }),
  fc.record({ cmd: fc.constant('hopper-level'), name: str(32), level: int(0, 100_000) }),
  fc.record({ cmd: fc.constant('hopper-refill'), name: str(32), add: int(1, 100_000), by: str(64) }),
  fc.record({
    cmd: fc.constant('cash-collection'),
    by: str(64),
    counted: fc.dictionary(fc.stringMatching(/^\d{1,9}$/), int(0, 1_000_000), { maxKeys: 8 }),
  }),
  fc.record({ cmd: fc.constant('reprint'), id: str(64) }, { requiredKeys: ['cmd'] }),
  fc.record({ cmd: fc.constant('out-of-service'), by: str(64), reason: str(200) }),
  fc.record({ cmd: fc.constant('in-service'), by: str(64) }),
  fc.record({ cmd: fc.constant('device-test'), device: str(64) }),
  fc.record({ cmd: fc.constant('log-tail'), lines: int(1, 1000) }, { requiredKeys: ['cmd'] }),
  fc.record({ cmd: fc.constant('audit'), who: str(64), action: str(200), ok: fc.boolean() }),
);

check(
  t,
  'every valid request, sent as a JSON line, is accepted with exactly its fields (unknown keys dropped)',
  fc.property(validArb, fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).map((k) => `x-${k}`), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), (req, extra) => {
    const line = JSON.stringify({ ...extra, ...req });
    const r = controlRequest.safeParse(JSON.parse(line));
    assert.ok(r.success, r.success ? '' : r.error.message);
    assert.deepEqual(r.data, JSON.parse(JSON.stringify(req)));
    assert.equal(answer(line).ok, true);
  }),
);

check(
  t,
  'a valid request with one field replaced by a random JSON value: accepted or refused, never a throw',
  fc.property(validArb, fc.nat(), fc.jsonValue({ maxDepth: 2 }), (req, pick, value) => {
    const keys = Object.keys(req);
    const key = keys[pick % keys.length]!;
    parses({ ...req, [key]: value });
  }),
);
