/**
 * The HID card reader driver with the reports of the reader emulator: over an in-memory source, and
 * over the emulator's unix socket as the kiosk would read it in a separate process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { HidCardReader, type HidReportKind } from '../../drivers/hid-card/driver.js';
import { createHidKeyboardReader, createHidVendorReader, derivePanKey, hidSourceFor } from '../../drivers/hid-card/index.js';
import { MemoryHidSource } from '../../drivers/transport/hid-memory.js';
import { NodeHidSource } from '../../drivers/transport/hid.js';
import { SocketHidSource } from '../../drivers/transport/hid-socket.js';
import type { BadReadReason, CardRead, DeviceStatus } from '../../drivers/types.js';
import { createCardReader } from '../../drivers/registry.js';
import { runHidCardDevice } from '../../hw-sim/devices/hid-card/console.js';
import { TEST_CARDS, keyboardReports, presentedTracks, vendorReport, type Fault } from '../../hw-sim/devices/hid-card/reports.js';

const panKey = derivePanKey(Buffer.alloc(32, 1));

/** A short folder: a unix socket path must stay under 108 bytes, which t.testdir() paths exceed. */
function shortDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'hidc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Rig {
  reader: HidCardReader;
  source: MemoryHidSource;
  reads: CardRead[];
  bad: { reason: BadReadReason; detail: string }[];
  logs: string[];
  statuses: DeviceStatus[];
}

async function rig(t: Test, kind: HidReportKind): Promise<Rig> {
  const source = new MemoryHidSource();
  const logs: string[] = [];
  const reader = new HidCardReader({
    source,
    kind,
    model: `hid-${kind}`,
    panKey,
    swipeGapMs: 100,
    checkIntervalMs: 20,
    reconnect: { initialMs: 20, maxMs: 50 },
    log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
  });
  t.teardown(() => reader.close());
  const reads: CardRead[] = [];
  const bad: { reason: BadReadReason; detail: string }[] = [];
  const statuses: DeviceStatus[] = [];
  reader.on('read', (r) => reads.push(r));
  reader.on('bad-read', (b) => bad.push(b));
  reader.on('status', (s) => statuses.push(s));
  await reader.open();
  return { reader, source, reads, bad, logs, statuses };
}

const swipe = (kind: HidReportKind, card: string, fault: Fault = 'none', lrc = false): Buffer[] =>
  kind === 'keyboard' ? keyboardReports(presentedTracks(TEST_CARDS[card]!, fault, lrc).join('')) : [vendorReport(TEST_CARDS[card]!, fault, lrc)];

for (const kind of ['keyboard', 'vendor'] as const) {
  t.test(`${kind}: a good swipe of each test card; the log has no card data`, async (t) => {
    const r = await rig(t, kind);
    t.same(r.reader.identity(), { kind: 'card-reader', model: `hid-${kind}` });
    t.same(r.reader.capabilities, { presence: false });
    t.equal(r.reader.status().health, 'ok');
    await r.reader.enable();
    for (const name of Object.keys(TEST_CARDS)) await r.source.push(...swipe(kind, name, 'none', name === 'amex'));
    await until(() => r.reads.length === 4, 'four reads');
    t.same(
      r.reads.map((x) => x.card.maskedPan),
      ['411111******1111', '555555******4444', '378282*****0005', '625094******8599'],
    );
    t.same(r.reads[0]!.card.tracks, [1, 2]);
    t.equal(r.reads[0]!.card.expiry, '3012');
    const pan = await r.reads[0]!.sensitive.consume((d) => d.pan.toString('latin1'));
    t.equal(pan, '4111111111111111', 'the sensitive part carries the card number');
    const logText = r.logs.join('\n');
    for (const card of Object.values(TEST_CARDS)) {
      t.notOk(logText.includes(card.pan), `no ${card.pan} in the log`);
      t.notOk(logText.includes(card.name), 'nor the name');
    }
    t.equal(r.bad.length, 0);
  });

  t.test(`${kind}: every fault is a bad read with its reason`, async (t) => {
    const r = await rig(t, kind);
    await r.reader.enable();
    const expected: Record<Exclude<Fault, 'none'>, BadReadReason> =
      kind === 'keyboard'
        ? { garbage: 'no-start-sentinel', 'missing-sentinel': 'no-start-sentinel', 'bad-lrc': 'bad-lrc', 'too-fast': 'too-short' }
        : { garbage: 'bad-format', 'missing-sentinel': 'no-start-sentinel', 'bad-lrc': 'bad-lrc', 'too-fast': 'device-error' };
    for (const fault of Object.keys(expected) as Exclude<Fault, 'none'>[]) {
      const before = r.bad.length;
      await r.source.push(...swipe(kind, 'visa', fault));
      await until(() => r.bad.length > before, `the bad read of ${fault}`);
      if (fault === 'garbage') t.ok(['no-start-sentinel', 'bad-format', 'bad-character'].includes(r.bad.at(-1)!.reason), `${fault}: ${r.bad.at(-1)!.reason}`);
      else t.equal(r.bad.at(-1)!.reason, expected[fault], fault);
    }
    t.equal(r.reads.length, 0);
    t.notOk(r.logs.join('\n').includes('4111111111111111'));
  });

  t.test(`${kind}: a swipe while disabled is dropped, and its report zeroed`, async (t) => {
    const r = await rig(t, kind);
    const seen: Buffer[] = [];
    r.source.on('report', (report) => seen.push(report));
    await r.source.push(...swipe(kind, 'visa'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.same(r.reads, [], 'no read while disabled');
    t.same(r.bad, [], 'nor a bad read');
    t.ok(
      seen.every((report) => report.every((x) => x === 0)),
      'each report buffer was zero-filled after decoding',
    );
    t.match(r.logs.join('\n'), /swipe while not taking cards/);
    await r.reader.enable();
    await r.reader.disable();
    await r.source.push(...swipe(kind, 'visa'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.same(r.reads, []);
  });

  t.test(`${kind}: the reader unplugged and plugged back`, async (t) => {
    const r = await rig(t, kind);
    await r.reader.enable();
    r.source.unplug();
    await until(() => r.reader.status().health === 'offline', 'offline');
    t.equal(r.reader.status().code, 'no-device');
    r.source.unplugged = false;
    await until(() => r.reader.status().health === 'ok', 'back');
    await r.source.push(...swipe(kind, 'mastercard'));
    await until(() => r.reads.length === 1, 'a read after the replug');
  });
}

t.test('keyboard: a swipe whose Enter never comes ends after the quiet gap', async (t) => {
  const r = await rig(t, 'keyboard');
  await r.reader.enable();
  const reports = swipe('keyboard', 'visa').slice(0, 20);
  await r.source.push(...reports);
  await until(() => r.bad.length === 1, 'the gap to end it');
  t.equal(r.bad[0]!.reason, 'too-short');
  await r.source.push(Buffer.from([0, 0, 0x28, 0, 0, 0, 0, 0]), Buffer.alloc(8));
  await until(() => r.bad.length === 2, 'a lone Enter');
  t.equal(r.bad[1]!.reason, 'empty');
  const long = keyboardReports('1'.repeat(300));
  await r.source.push(...long);
  await until(() => r.bad.length === 3, 'the overflow');
  t.equal(r.bad[2]!.reason, 'too-long');
});

t.test('vendor: a report of another layout, and a blank card', async (t) => {
  const r = await rig(t, 'vendor');
  await r.reader.enable();
  await r.source.push(Buffer.alloc(64));
  await until(() => r.bad.length === 1, 'the bad report');
  t.same(r.bad[0], { reason: 'device-error', detail: 'vendor report of 64 bytes, expected 337' });
  const blank = Buffer.alloc(337);
  blank[6] = 3;
  await r.source.push(blank);
  await until(() => r.bad.length === 2, 'the blank card');
  t.equal(r.bad[1]!.reason, 'empty');
});

t.test('a listener that does not take the read still leaves nothing behind', async (t) => {
  const source = new MemoryHidSource();
  const reader = new HidCardReader({ source, kind: 'keyboard', model: 'hid-keyboard', panKey, log: () => undefined });
  t.teardown(() => reader.close());
  await reader.open();
  await reader.enable();
  let caught: CardRead | undefined;
  reader.once('read', (read) => {
    caught = read;
    throw new Error('listener bug');
  });
  await source.push(...swipe('keyboard', 'visa'));
  await until(() => caught !== undefined, 'the read');
  t.ok(caught!.sensitive.wiped, 'wiped when the listener threw');
});

t.test('over the emulator socket, driven by its console, through the registry', async (t) => {
  const socket = join(shortDir(t), 'reader.sock');
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (c: Buffer) => (printed += c.toString('utf8')));
  const device = await runHidCardDevice({ socket, kind: 'keyboard', lrc: true, input, output });
  t.teardown(() => device.stop());
  const say = async (line: string): Promise<string> => {
    const before = printed.length;
    input.write(`${line}\n`);
    await until(() => printed.length > before, `an answer to ${line}`);
    return printed.slice(before);
  };
  t.match(await say('swipe'), /lost: no kiosk connected/, 'nobody listening yet');

  const reader = await createCardReader('hid-keyboard', { device: `socket:${socket}`, panKey });
  t.teardown(() => reader.close());
  const reads: CardRead[] = [];
  const bad: BadReadReason[] = [];
  reader.on('read', (r) => reads.push(r));
  reader.on('bad-read', (b) => bad.push(b.reason));
  await reader.open();
  await reader.enable();
  await until(() => printed.includes('kiosk connected'), 'the connection');
  await say('swipe unionpay');
  await until(() => reads.length === 1, 'the read');
  t.equal(reads[0]!.card.maskedPan, '625094******8599');
  await say('bad-lrc');
  await until(() => bad.length === 1, 'the bad read');
  t.equal(bad[0], 'bad-lrc');
  t.match(await say('status'), /keyboard reader .* \(with LRC\); kiosk connected; swipes 3, lost 1/);
  t.match(await say('swipe nosuchcard'), /error: swipe: unknown test card 'nosuchcard'/);
  await say('unplug');
  await until(() => reader.status().health === 'offline', 'the driver to see the reader gone');
  await until(() => reader.status().health === 'ok', 'the driver to reconnect', 15_000);
  t.match(await say('help'), /too-fast \[card\]/);
});

t.test('device names, and sources that cannot open', async (t) => {
  t.ok(hidSourceFor('socket:/tmp/x.sock') instanceof SocketHidSource);
  t.equal(hidSourceFor('usb:0801:0002').description, 'hid:0801:0002');
  t.equal(hidSourceFor('/dev/hidraw9').description, 'hid:/dev/hidraw9');
  t.ok(hidSourceFor('/dev/hidraw9') instanceof NodeHidSource);
  t.equal(createHidVendorReader({ device: 'usb:0801:0002', panKey }).identity().model, 'hid-vendor');
  t.equal(createHidKeyboardReader({ device: '/dev/hidraw9', panKey }).identity().model, 'hid-keyboard');
  t.throws(() => createCardReader('magtek-serial', { device: 'x', panKey }), /unknown card reader model 'magtek-serial' \(known: hid-keyboard, hid-vendor\)/);
  await t.rejects(new SocketHidSource(join(shortDir(t), 'none.sock')).open(), /cannot open HID device hid-socket:/);
  await t.rejects(new NodeHidSource({ path: '/nonexistent/hidraw' }).open(), /cannot open HID device hid:\/nonexistent\/hidraw/, 'node-hid loads and reports');
  const reader = createHidKeyboardReader({ device: '/nonexistent/hidraw', panKey });
  await t.rejects(reader.open(), /hid-card keyboard on hid:\/nonexistent\/hidraw: cannot open/);
  await reader.close();
});
