import t from 'tap';
import { configSchema } from '../../src/config/schema.js';
import { DIAG_MODELS, SCANNERS, createScanner } from '../../drivers/registry.js';

// The `scanner` section: taken from the registry's SCANNERS, optional, the serial model's own keys
// refused on the keyboard model, and each model checkable by `kiosk diag --kind`.

const base = { validator: { model: 'id003', port: '/dev/x' }, server: { host: 'h', port: 1, serverName: 'h' }, tls: { ca: 'a', cert: 'b', key: 'c' } };
const parse = (scanner: unknown) => configSchema.safeParse({ ...base, ...(scanner === undefined ? {} : { scanner }) });

t.test('the scanner section is optional, and each model takes its own keys', async (t) => {
  const none = parse(undefined);
  t.ok(none.success && none.data.scanner === undefined, 'absent: no scanner');
  const hid = parse({ model: 'hid-keyboard', device: 'socket:/run/scanner.sock' });
  t.ok(hid.success, 'keyboard mode on the emulator socket');
  if (hid.success) t.same(hid.data.scanner, { model: 'hid-keyboard', device: 'socket:/run/scanner.sock', maxLength: 64, partialTimeoutMs: 300 });
  const serial = parse({ model: 'serial', device: '/dev/ttyACM0', ack: true });
  t.ok(serial.success, 'serial mode');
  if (serial.success) t.match(serial.data.scanner, { model: 'serial', device: '/dev/ttyACM0', ack: true });
});

t.test('a wrong scanner section is refused with a clear message', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ model: 'hid-keyboard', device: '/dev/hidraw1', ack: true }, /serial model only/],
    [{ model: 'serial', device: 'socket:/x' }, /serial scanner is on a \/dev path/],
    [{ model: 'laser', device: '/dev/x' }, /model/],
    [{ model: 'serial', device: 'ttyACM0' }, /a \/dev path/],
    [{ model: 'serial', device: '/dev/ttyACM0', colour: 'red' }, /colour|Unrecognized/i],
  ];
  for (const [section, want] of cases) {
    const r = parse(section);
    t.notOk(r.success, JSON.stringify(section));
    if (!r.success) t.match(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), want);
  }
});

t.test('the registry lists both models, builds them, and diag knows them', async (t) => {
  t.same(SCANNERS.map((d) => d.model), ['hid-keyboard', 'serial']);
  t.same(DIAG_MODELS.filter((m) => m.kind === 'code-scanner').map((m) => m.diag.kind), ['scanner-hid', 'scanner-serial']);
  const s = await createScanner('serial', { device: '/dev/null-scanner' });
  t.equal(s.kind, 'code-scanner');
  t.equal(s.capabilities.commands, true);
  t.equal((await createScanner('hid-keyboard', { device: 'socket:/x' })).capabilities.commands, false);
  t.throws(() => createScanner('laser', { device: '/dev/x' }), /unknown scanner model 'laser'/);
});
