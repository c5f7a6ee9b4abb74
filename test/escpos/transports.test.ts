import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LpTransport, UsbPrinterTransport, pickPrinterInterface, serialPrinterTransport } from '../../drivers/escpos/transports.js';
import { EscposPrinter } from '../../drivers/escpos/driver.js';
import { SerialTransport } from '../../drivers/transport/serial.js';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('lp: a FIFO stands in for /dev/usb/lp0 (what is written comes back)', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'lp0');
  execFileSync('mkfifo', [path]);
  const lp = new LpTransport(path, { idleReadMs: 5 });
  const got: Buffer[] = [];
  lp.on('data', (b) => got.push(b));
  const errors: Error[] = [];
  lp.on('error', (e) => errors.push(e));
  await lp.open();
  t.ok(lp.isOpen);
  t.equal(lp.description, `lp:${path}`);
  // Nothing to read yet: the loop must keep going quietly.
  await sleep(50);
  t.same(got, []);
  await lp.write(Uint8Array.of(0x10, 0x04, 0x01));
  await until(() => Buffer.concat(got).length >= 3, 'loop-back bytes');
  t.same([...Buffer.concat(got)], [0x10, 0x04, 0x01]);
  let closed = false;
  lp.on('close', () => (closed = true));
  await lp.close();
  t.ok(closed);
  t.notOk(lp.isOpen);
  t.same(errors, []);
  await t.rejects(lp.write(Uint8Array.of(1)), /closed transport/);
});

t.test('lp: a missing device gives a clear error', async (t) => {
  const lp = new LpTransport('/nonexistent/usb/lp0');
  await t.rejects(lp.open(), /cannot open printer device \/nonexistent\/usb\/lp0/);
});

const hasSocat = (() => {
  try {
    execFileSync('socat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

t.test('lp + driver against a printer on the other end of a pty pair', { skip: !hasSocat && 'socat not installed' }, async (t) => {
  const dir = t.testdir();
  const hostPath = join(dir, 'host');
  const devPath = join(dir, 'dev');
  const socat = spawn('socat', [`pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${devPath}`], { stdio: 'ignore' });
  t.teardown(() => {
    socat.kill();
  });
  await until(() => existsSync(hostPath) && existsSync(devPath), 'socat links');

  const dev = new SerialTransport({ path: devPath, baudRate: 9600 });
  await dev.open();
  t.teardown(() => dev.close());
  const received: number[] = [];
  dev.on('data', (chunk) => {
    for (const b of chunk) {
      received.push(b);
      const n = received.length;
      if (n >= 3 && received[n - 3] === 0x10 && received[n - 2] === 0x04) void dev.write(Uint8Array.of(0x12));
    }
  });

  const driver = new EscposPrinter({ transport: new LpTransport(hostPath, { idleReadMs: 5 }), settleMs: 0, pollIntervalMs: 60_000, statusTimeoutMs: 3000 });
  t.teardown(() => driver.close());
  await driver.open();
  t.same(driver.status(), { health: 'ok', code: 'ok', detail: 'ready' });
  await driver.print({ lines: [{ text: '谢谢 Thank you' }], qr: 'TXN-9' });
  t.ok(Buffer.from(received).indexOf(Buffer.from('TXN-9')) > 0, 'the job went through the lp transport');
});

t.test('serial: 8N1 at the printer baud rates only', async (t) => {
  t.equal(serialPrinterTransport('/dev/ttyS0', 115200).description, 'serial:/dev/ttyS0');
  t.throws(() => serialPrinterTransport('/dev/ttyS0', 4800), /baud rate 4800 not supported/);
});

t.test('usb: a clear error where there is no USB bus to look at', async (t) => {
  const usb = new UsbPrinterTransport({ vendorId: 0x0416, productId: 0x5011, sysfsPath: '/nonexistent/sys/bus/usb/devices' });
  t.equal(usb.description, 'usb:0416:5011');
  await t.rejects(usb.open(), /usb:0416:5011: \/nonexistent\/sys\/bus\/usb\/devices does not exist.*'lp' or 'serial'/);
  t.notOk(usb.isOpen);
  await t.rejects(usb.write(Uint8Array.of(1)), /closed transport/);
});

t.test('usb: on this machine, the default path either is absent or has no such device', async (t) => {
  const usb = new UsbPrinterTransport({ vendorId: 0xfffe, productId: 0xfffd });
  await t.rejects(usb.open(), /does not exist|no such printer connected|cannot list USB devices/);
});

t.test('usb: picks the printer-class interface and its bulk endpoints', async (t) => {
  const ep = (endpointNumber: number, direction: 'in' | 'out', type = 'bulk') => ({ endpointNumber, direction, type, packetSize: 64 });
  t.same(
    pickPrinterInterface({
      interfaces: [
        { interfaceNumber: 0, alternate: { interfaceClass: 0x03, endpoints: [ep(1, 'in', 'interrupt')] } },
        { interfaceNumber: 1, alternate: { interfaceClass: 0x07, endpoints: [ep(2, 'in'), ep(1, 'out')] } },
      ],
    }),
    { interfaceNumber: 1, outEndpoint: 1, inEndpoint: 2, inPacketSize: 64 },
  );
  t.same(
    pickPrinterInterface({ interfaces: [{ interfaceNumber: 0, alternate: { interfaceClass: 0x07, endpoints: [ep(1, 'out')] } }] }),
    { interfaceNumber: 0, outEndpoint: 1, inPacketSize: 64 },
    'unidirectional',
  );
  t.equal(pickPrinterInterface({ interfaces: [{ interfaceNumber: 0, alternate: { interfaceClass: 0xff, endpoints: [ep(1, 'out')] } }] }), undefined);
  t.equal(pickPrinterInterface({ interfaces: [{ interfaceNumber: 0, alternate: { interfaceClass: 0x07, endpoints: [ep(2, 'in')] } }] }), undefined);
});
