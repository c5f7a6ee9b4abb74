/** Properties of the configuration loader (src/config/load.ts parseConfig, loadConfigFile). */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { ConfigError, loadConfigFile, parseConfig, type Config } from '../../src/config/load.js';
import { check } from './fuzz.js';

const BASE = '/etc/kiosk';

/** parseConfig returns a Config or throws a ConfigError that names each bad key; nothing else. */
function load(input: unknown): Config | undefined {
  try {
    const c = parseConfig(input, 'fuzz.json', BASE);
    for (const p of [c.dataDir, c.journal.path, c.journal.keyFile, c.control.socket]) assert.ok(isAbsolute(p), `${p} is absolute`);
    return c;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, not ${String(e)}`);
    assert.equal(e.source, 'fuzz.json');
    assert.ok(e.problems.length > 0, 'at least one problem');
    for (const p of e.problems) assert.match(p, /^(\(top level\)|[\w.-]+): \S/, 'key: message');
    assert.match(e.message, /^invalid configuration \(fuzz\.json\):\n/);
    return undefined;
  }
}

check(
  t,
  'any JSON value: parseConfig returns a Config or throws a ConfigError naming the problems',
  fc.property(fc.jsonValue(), (v) => {
    load(v);
  }),
);

check(
  t,
  'any JavaScript value (maps, sets, dates, typed arrays, null-prototype objects): a Config or a ConfigError',
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
      load(v);
    },
  ),
);

// ------------------------------------------------------------------------------ valid and nearly valid

const path = fc.oneof(
  fc.constantFrom('/dev/ttyUSB0', '/dev/kiosk/coin-bus', 'var', './data', '../x', '/abs/dir'),
  fc.string({ minLength: 1, maxLength: 20 }),
);
const hopperName = fc.stringMatching(/^[a-z0-9-]{1,32}$/);

/** Configurations that must load: every section, each present or absent, with in-range values. */
const validArb = fc.record(
  {
    terminalId: fc.string({ minLength: 1, maxLength: 16 }),
    dataDir: path,
    journal: fc.record({ path, keyFile: path }, { requiredKeys: [] }),
    console: fc.record(
      {
        engineers: fc.array(
          fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9_-]{0,31}$/), pin: fc.string().map((s) => `scrypt$${s}`) }),
          { maxLength: 3 },
        ),
        maxFailures: fc.integer({ min: 1, max: 100 }),
        lockoutMs: fc.integer({ min: 1, max: 1e9 }),
        idleMs: fc.integer({ min: 1, max: 1e9 }),
      },
      { requiredKeys: [] },
    ),
    validator: fc.record(
      {
        model: fc.constantFrom('id003', 'essp', 'ccnet'),
        port: path,
        pollIntervalMs: fc.integer({ min: 50, max: 1000 }),
        bootWaitMs: fc.integer({ min: 1, max: 1e6 }),
      },
      { requiredKeys: ['port'] },
    ),
    coinAcceptor: fc.record({ model: fc.constant('cctalk'), port: path, address: fc.integer({ min: 1, max: 255 }) }, { requiredKeys: ['port'] }),
    hoppers: fc.uniqueArray(
      fc.record(
        {
          name: hopperName,
          model: fc.constant('cctalk'),
          port: path,
          address: fc.integer({ min: 1, max: 255 }),
          coinValue: fc.integer({ min: 1, max: 100_000 }),
          securityMode: fc.constantFrom('serial', 'zero8'),
        },
        { requiredKeys: ['name', 'port', 'coinValue'] },
      ),
      { selector: (h) => h.name, maxLength: 3 },
    ),
    change: fc.record({ reserve: fc.integer({ min: 0, max: 1000 }) }, { requiredKeys: [] }),
    printer: fc.oneof(
      fc.record({ transport: fc.constantFrom('serial', 'lp'), port: path, width: fc.constantFrom(32, 42, 48), baudRate: fc.integer({ min: 1, max: 921_600 }) }, { requiredKeys: ['transport', 'port'] }),
      fc.record({ transport: fc.constant('usb'), vendorId: fc.integer({ min: 0, max: 0xffff }), productId: fc.integer({ min: 0, max: 0xffff }) }, { requiredKeys: ['transport'] }),
    ),
    receipt: fc.record({ operator: fc.string({ minLength: 1, maxLength: 64 }) }, { requiredKeys: [] }),
    server: fc.record(
      {
        host: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6})?$/),
        port: fc.integer({ min: 1, max: 65535 }),
        serverName: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
        adapter: fc.constant('envelope'),
        timeoutMs: fc.integer({ min: 1, max: 1e6 }),
        probeIntervalMs: fc.integer({ min: 1, max: 1e6 }),
      },
      { requiredKeys: ['host', 'port'] },
    ),
    forwarder: fc.record({ batchSize: fc.integer({ min: 1, max: 1000 }), idleMs: fc.integer({ min: 1, max: 1e6 }) }, { requiredKeys: [] }),
    limits: fc.record({ maxNote: fc.nat(), maxOverpay: fc.nat(), maxTopup: fc.nat() }, { requiredKeys: [] }),
    timeouts: fc.record({ inputMs: fc.integer({ min: 1, max: 1e6 }) }, { requiredKeys: [] }),
    control: fc.record({ socket: path }, { requiredKeys: [] }),
    log: fc.record({ level: fc.constantFrom('trace', 'debug', 'info', 'warn', 'error', 'fatal') }, { requiredKeys: [] }),
  },
  { requiredKeys: ['validator', 'server'] },
);

check(
  t,
  'every valid configuration loads, keeps its values and resolves each path against the base directory',
  fc.property(validArb, (input) => {
    const json = JSON.parse(JSON.stringify(input)) as typeof input;
    const c = load(json);
    assert.ok(c, 'loads');
    // A relative path is resolved against the base directory; an absolute one is kept as written.
    const abs = (p: string): string => (isAbsolute(p) ? p : resolve(BASE, p));
    const dataDir = abs(json.dataDir ?? 'var');
    assert.equal(c.dataDir, dataDir);
    assert.equal(c.journal.path, abs(json.journal?.path ?? join(dataDir, 'journal.db')));
    assert.equal(c.journal.keyFile, abs(json.journal?.keyFile ?? join(dataDir, 'journal.key')));
    assert.equal(c.control.socket, abs(json.control?.socket ?? join(dataDir, 'kiosk.sock')));
    assert.equal(c.validator.port, json.validator.port);
    assert.equal(c.server.host, json.server.host);
    assert.equal(c.server.port, json.server.port);
    assert.equal(c.server.serverName, json.server.serverName ?? json.server.host);
    assert.deepEqual(
      c.hoppers.map((h) => [h.name, h.coinValue]),
      (json.hoppers ?? []).map((h) => [h.name, h.coinValue]),
    );
    assert.equal(c.printer?.transport, json.printer?.transport);
  }),
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Replaces, deletes or adds one entry somewhere in a JSON tree; `route` picks the way down. */
function mutateJson(v: Json, route: readonly number[], op: 'set' | 'delete' | 'add', value: Json, key: string): Json {
  if (v === null || typeof v !== 'object') return op === 'set' ? value : v;
  const entries: [string, Json][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
  const [step, ...rest] = route;
  if (entries.length === 0 || step === undefined || (rest.length === 0 && op !== 'set')) {
    if (op === 'add' && !Array.isArray(v)) return { ...v, [key]: value };
    if (op === 'delete' && entries.length > 0) {
      const drop = (step ?? 0) % entries.length;
      return Array.isArray(v) ? v.filter((_, i) => i !== drop) : Object.fromEntries(entries.filter((_, i) => i !== drop));
    }
    if (op === 'set' && step === undefined) return value;
    if (entries.length === 0) return v;
  }
  const at = step! % entries.length;
  const next = entries.map(([k, x], i): [string, Json] => [k, i === at ? mutateJson(x, rest, op, value, key) : x]);
  return Array.isArray(v) ? next.map(([, x]) => x) : Object.fromEntries(next);
}

check(
  t,
  'a valid configuration with random damage (a value replaced, a key dropped, a key added): a Config or a ConfigError',
  fc.property(
    validArb,
    fc.array(
      fc.tuple(
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.constantFrom('set' as const, 'delete' as const, 'add' as const),
        fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
        fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'port', 'name', 'toString')),
      ),
      { minLength: 1, maxLength: 3 },
    ),
    (input, damage) => {
      let json = JSON.parse(JSON.stringify(input)) as Json;
      for (const [route, op, value, key] of damage) json = mutateJson(json, route, op, value, key);
      load(json);
      assert.equal(({} as Record<string, unknown>).port, undefined, 'Object.prototype untouched');
    },
  ),
);

t.test('files', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'kiosk.json');
  let n = 0;
  check(
    t,
    'loadConfigFile on any file contents (text, JSON, nearly valid JSON): a Config or a ConfigError',
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        validArb.map((v) => JSON.stringify(v)),
        fc.tuple(validArb, fc.nat()).map(([v, cut]) => {
          const s = JSON.stringify(v);
          return s.slice(0, cut % (s.length + 1));
        }),
      ),
      (text) => {
        writeFileSync(file, text);
        n++;
        try {
          const c = loadConfigFile(file);
          assert.ok(isAbsolute(c.dataDir));
        } catch (e) {
          assert.ok(e instanceof ConfigError, `a ConfigError, not ${String(e)}`);
          assert.ok(e.problems.length > 0);
        }
      },
    ),
    0.5,
  );
  t.ok(n > 0, `${n} files written`);
});
