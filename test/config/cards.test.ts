import t from 'tap';
import { parseConfig } from '../../src/config/load.js';

const minimal = { validator: { port: '/dev/ttyUSB0' }, server: { host: '10.0.0.5', port: 8480 } };

t.test('card devices are optional; their time-outs have defaults', async (t) => {
  const c = parseConfig(minimal, 'test', '/');
  t.equal(c.cardReader, undefined);
  t.equal(c.paymentTerminal, undefined);
  t.match(c.timeouts, { cardMs: 60_000, cardAuthMs: 60_000 });
});

t.test('a card reader and a ZVT terminal as fitted', async (t) => {
  const c = parseConfig(
    {
      ...minimal,
      cardReader: { model: 'hid-keyboard', device: '/dev/kiosk/card-reader' },
      paymentTerminal: { transport: 'tcp', host: '192.168.1.50', idleTimeoutMs: 120_000 },
      timeouts: { cardMs: 45_000, cardAuthMs: 20_000 },
    },
    'test',
    '/',
  );
  t.same(c.cardReader, { model: 'hid-keyboard', device: '/dev/kiosk/card-reader' });
  t.match(c.paymentTerminal, { model: 'zvt', transport: 'tcp', host: '192.168.1.50', tcpPort: 20007, password: '000000', currency: 156, idleTimeoutMs: 120_000, reversalRetryMs: 30_000 });
  t.match(c.timeouts, { inputMs: 60_000, cardMs: 45_000, cardAuthMs: 20_000 });
  t.equal(parseConfig({ ...minimal, cardReader: { model: 'hid-vendor', device: 'usb:0801:0002' } }, 't', '/').cardReader?.device, 'usb:0801:0002');
  t.equal(parseConfig({ ...minimal, paymentTerminal: { transport: 'serial', port: '/dev/ttyUSB3' } }, 't', '/').paymentTerminal?.baudRate, 9600);
});

t.test('bad card settings are named', async (t) => {
  const bad = (extra: Record<string, unknown>, want: RegExp) => t.throws(() => parseConfig({ ...minimal, ...extra }, 'kiosk.json', '/'), want);
  bad({ cardReader: { model: 'magtek', device: '/dev/hidraw0' } }, /cardReader\.model/);
  bad({ cardReader: { model: 'hid-keyboard', device: 'hidraw0' } }, /cardReader\.device/);
  bad({ cardReader: { model: 'hid-keyboard' } }, /cardReader\.device/);
  bad({ paymentTerminal: { transport: 'tcp' } }, /paymentTerminal\.transport: host is required for tcp/);
  bad({ paymentTerminal: { transport: 'serial', host: 'x' } }, /port for serial/);
  bad({ paymentTerminal: { transport: 'tcp', host: 'x', password: '1234' } }, /paymentTerminal\.password: six digits/);
  bad({ paymentTerminal: { model: 'opi', transport: 'tcp', host: 'x' } }, /paymentTerminal\.model/);
  bad({ paymentTerminal: { transport: 'tcp', host: 'x', pin: '1234' } }, /Unrecognized key: "pin"/);
  bad({ timeouts: { cardMs: 0 } }, /timeouts\.cardMs/);
});
