import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js';

const minimal = { validator: { port: '/dev/ttyUSB0' }, server: { baseUrl: 'http://127.0.0.1:8480/' } };

t.test('a minimal configuration gets every default, with paths resolved', async (t) => {
  const c = parseConfig(minimal, 'test', '/etc/kiosk');
  t.equal(c.validator.model, 'id003');
  t.equal(c.validator.pollIntervalMs, 150);
  t.equal(c.dataDir, '/etc/kiosk/var');
  t.equal(c.journal.path, '/etc/kiosk/var/journal.db');
  t.equal(c.control.socket, '/etc/kiosk/var/kiosk.sock');
  t.same(c.limits, { maxNote: 10000, maxOverpay: 5000, maxTopup: 50000 });
});

t.test('each bad key is named with its problem', async (t) => {
  const bad = {
    validator: { port: '/dev/ttyUSB0', pollIntervalMs: 5 },
    server: { baseUrl: 'not a url' },
    limits: { maxNote: 100.5 },
    colour: 'blue',
  };
  const err = t.throws(() => parseConfig(bad, 'kiosk.json', '/')) as unknown as ConfigError;
  t.type(err, ConfigError);
  const text = err.message;
  t.match(text, /kiosk\.json/);
  t.match(text, /validator\.pollIntervalMs/);
  t.match(text, /server\.baseUrl/);
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
