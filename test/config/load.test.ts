import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js';

const minimal = { validator: { port: '/dev/ttyUSB0' }, server: { host: '10.0.0.5', port: 8480 } };

t.test('a minimal configuration gets every default, with paths resolved', async (t) => {
  const c = parseConfig(minimal, 'test', '/etc/kiosk');
  t.equal(c.validator.model, 'id003');
  t.equal(c.validator.pollIntervalMs, 150);
  t.equal(c.dataDir, '/etc/kiosk/var');
  t.equal(c.journal.path, '/etc/kiosk/var/journal.db');
  t.equal(c.control.socket, '/etc/kiosk/var/kiosk.sock');
  t.same(c.limits, { maxNote: 10000, maxOverpay: 5000, maxTopup: 50000 });
  t.same(c.server, { host: '10.0.0.5', port: 8480, serverName: '10.0.0.5', adapter: 'envelope', timeoutMs: 5000, probeIntervalMs: 5000 }, 'the certificate name defaults to the host');
  t.same(c.tls, { ca: '/etc/kiosk/var/pki/ca.crt', cert: '/etc/kiosk/var/pki/kiosk.crt', key: '/etc/kiosk/var/pki/kiosk.key' });
  t.match(c.forwarder, { batchSize: 20, alarmBacklogAgeMs: 3_600_000, alarmDiskFreeBytes: 200 * 1024 * 1024, monitorIntervalMs: 30_000 });
  t.equal(parseConfig({ ...minimal, server: { ...minimal.server, serverName: 'billing.example' } }, 'test', '/').server.serverName, 'billing.example');
});

t.test('each bad key is named with its problem', async (t) => {
  const bad = {
    validator: { port: '/dev/ttyUSB0', pollIntervalMs: 5 },
    server: { host: '10.0.0.5', port: 70000, baseUrl: 'http://10.0.0.5/', adapter: 'http' },
    limits: { maxNote: 100.5 },
    colour: 'blue',
  };
  const err = t.throws(() => parseConfig(bad, 'kiosk.json', '/')) as unknown as ConfigError;
  t.type(err, ConfigError);
  const text = err.message;
  t.match(text, /kiosk\.json/);
  t.match(text, /validator\.pollIntervalMs/);
  t.match(text, /server\.port/);
  t.match(text, /server\.adapter/);
  t.match(text, /server: Unrecognized key: "baseUrl"/, 'the old plain-text setting is refused by name');
  t.match(text, /limits\.maxNote: limits\.maxNote must be a whole number of fen/);
  t.match(text, /colour/);
});

t.test('a missing required section is an error, not a default', async (t) => {
  t.throws(() => parseConfig({ server: minimal.server }, 'x', '/'), /validator/);
});

t.test('files: unreadable, not JSON, valid', async (t) => {
  const dir = t.testdir({ 'bad.json': '{ "validator": ', 'good.json': JSON.stringify(minimal) });
  t.throws(() => loadConfigFile(join(dir, 'missing.json')), /cannot read the file/);
  t.throws(() => loadConfigFile(join(dir, 'bad.json')), /not valid JSON/);
  const c = loadConfigFile(join(dir, 'good.json'));
  t.equal(c.journal.path, join(dir, 'var', 'journal.db'));
  writeFileSync(join(dir, 'abs.json'), JSON.stringify({ ...minimal, journal: { path: '/data/j.db' } }));
  t.equal(loadConfigFile(join(dir, 'abs.json')).journal.path, '/data/j.db');
});

t.test('the validator section takes the keys of the model it names, and only known models', async (t) => {
  const essp = parseConfig({ ...minimal, validator: { model: 'essp', port: '/dev/ttyUSB0', address: 0, fixedKey: '0123456701234567' } }, 't', '/');
  t.match(essp.validator, { model: 'essp', address: 0, fixedKey: '0123456701234567' });
  const problems = (input: unknown): string[] => {
    try {
      parseConfig(input, 't', '/');
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };
  t.match(problems({ ...minimal, validator: { model: 'jcm-9000', port: '/dev/ttyUSB0' } }).join('\n'), /validator\.model/, 'an unknown model is refused at load, by key');
  t.match(problems({ ...minimal, validator: { port: '/dev/ttyUSB0', fixedKey: '0123456701234567' } }).join('\n'), /validator.*fixedKey/, "eSSP's key is refused on an ID-003");
  t.match(problems({ ...minimal, validator: { model: 'ccnet', port: '/dev/ttyUSB0', address: 1 } }).join('\n'), /validator.*address/, "eSSP's address is refused on a CCNET");
});

t.test('printer.settleMs: 1500 ms unless set, a whole number from 0 to 10 s', async (t) => {
  const printer = { model: 'escpos', transport: 'serial', port: '/dev/ttyS1' };
  t.equal(parseConfig({ ...minimal, printer }, 'test', '/').printer?.settleMs, 1500);
  t.equal(parseConfig({ ...minimal, printer: { ...printer, settleMs: 50 } }, 'test', '/').printer?.settleMs, 50);
  for (const bad of [-1, 10_001, 2.5]) {
    t.throws(() => parseConfig({ ...minimal, printer: { ...printer, settleMs: bad } }, 'test', '/'), /printer\.settleMs/, String(bad));
  }
});
