import t from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { CctalkBus } from '../../drivers/cctalk/bus.js';
import {
  CctalkHopper,
  DispenseNotAcceptedError,
  DispenseOutcomeUnknownError,
  nextEvent,
  type HopperSecurityMode,
} from '../../drivers/cctalk/hopper.js';
import type { DeviceStatus } from '../../drivers/types.js';
import { FakeLine, type Answer } from './fake-line.js';

/**
 * A hopper reduced to what the driver asks. A payout pays one coin per status request, so the
 * test decides how far it gets without any timer.
 */
class FakeHopper {
  category = 'Payout';
  serial = [0xdf, 0xd7, 0x0a];
  event = 0;
  remaining = 0;
  paid = 0;
  unpaid = 0;
  enabled = false;
  stock = 100;
  testRegisters = [0, 0];
  silent = false;
  /** What happens to the next dispense. */
  dispenseFate: 'answer' | 'accept-no-reply' | 'lose' | 'nak' | 'accept-then-power-cycle' = 'answer';
  /** Power is cut after this many coins of the running payout (the hopper keeps paid/unpaid). */
  powerCutAfter: number | undefined;
  cipherRequested = false;

  handle = (header: number, data: Buffer): Answer => {
    if (this.silent) return 'silent';
    switch (header) {
      case 254:
        return [];
      case 245:
        return [...Buffer.from(this.category)];
      case 242:
        return this.serial;
      case 164:
        this.enabled = data[0] === 0xa5;
        return [];
      case 160:
        this.cipherRequested = true;
        return [1, 2, 3, 4, 5, 6, 7, 8];
      case 166:
        this.step();
        return [this.event, this.remaining, this.paid, this.unpaid];
      case 163:
        return this.testRegisters;
      case 172: {
        const left = this.remaining;
        this.unpaid += left;
        this.remaining = 0;
        return [left];
      }
      case 167:
        return this.dispense(data);
      default:
        return 'silent';
    }
  };

  private dispense(data: Buffer): Answer {
    const fate = this.dispenseFate;
    this.dispenseFate = 'answer';
    if (fate === 'nak' || !this.enabled || this.remaining > 0) return 'nak';
    if (fate === 'lose') return 'silent';
    this.event = nextEvent(this.event);
    this.remaining = data[data.length - 1]!;
    this.paid = 0;
    this.unpaid = 0;
    if (fate === 'accept-then-power-cycle') {
      this.step();
      this.powerCycle();
      return 'silent';
    }
    return fate === 'accept-no-reply' ? 'silent' : [this.event];
  }

  private step(): void {
    if (this.remaining === 0) return;
    if (this.stock === 0) {
      this.unpaid += this.remaining;
      this.remaining = 0;
      return;
    }
    this.stock--;
    this.paid++;
    this.remaining--;
    if (this.powerCutAfter !== undefined && this.paid >= this.powerCutAfter) this.powerCycle();
  }

  /** Counter to 0, payout abandoned; paid survives in EEPROM and unpaid is lost, as after a stop. */
  powerCycle(): void {
    this.powerCutAfter = undefined;
    this.event = 0;
    this.remaining = 0;
    this.unpaid = 0;
    this.enabled = false;
  }
}

/** Every driver a test made is closed at the end, even when the test failed half-way. */
const opened: { close(): Promise<void> }[] = [];
t.teardown(async () => {
  for (const d of opened) await d.close();
});

function setUp(opts: { securityMode?: HopperSecurityMode } = {}) {
  const [host, device] = memoryPair('cctalk');
  void device.open();
  const bus = new CctalkBus(host, { replyTimeoutMs: 500, retries: 1, busyRetryDelayMs: 5 });
  const line = new FakeLine(device, { echo: true });
  const fake = new FakeHopper();
  line.handlers.set(3, fake.handle);
  const logs: string[] = [];
  const statuses: DeviceStatus[] = [];
  const hopper = new CctalkHopper({
    bus,
    coinValue: 100,
    name: 'hopper-100',
    statusPollMs: 2,
    keepAliveMs: 10,
    reconnect: { initialMs: 10, maxMs: 40 },
    ...(opts.securityMode ? { securityMode: opts.securityMode } : {}),
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  });
  hopper.on('status', (s) => statuses.push(s));
  opened.push(hopper);
  return { hopper, fake, line, logs, statuses, bus };
}

async function waitFor(what: string, ok: () => boolean, limitMs = 5000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

t.test('nextEvent wraps 255 to 1', async (t) => {
  t.equal(nextEvent(0), 1);
  t.equal(nextEvent(7), 8);
  t.equal(nextEvent(254), 255);
  t.equal(nextEvent(255), 1);
});

t.test('open: poll, category, serial, enable, status', async (t) => {
  const { hopper, fake, line } = setUp();
  await hopper.open();
  t.same(
    line.received.slice(0, 5).map((r) => `${r.header}:${r.data}`),
    ['254:', '245:', '242:', '164:a5', '166:'],
  );
  t.ok(fake.enabled);
  t.same(hopper.status(), { health: 'ok', code: 'ready', detail: 'answering' });
  t.same(hopper.identity(), { kind: 'coin-hopper', model: 'ccTalk hopper', serial: String(0x0ad7df) });
  t.equal(hopper.coinValue, 100);
  t.equal(hopper.name, 'hopper-100');
  await hopper.close();
});

t.test('not a hopper: open rejects with a clear error', async (t) => {
  const { hopper, fake } = setUp();
  fake.category = 'Coin Acceptor';
  await t.rejects(hopper.open(), /address 3 is a 'Coin Acceptor', not a 'Payout'/);
  t.equal(hopper.status().code, 'wrong-device');
  await hopper.close();
});

t.test('dispense and awaitPayout: the happy path', async (t) => {
  const { hopper, fake, line } = setUp();
  fake.event = 41;
  await hopper.open();
  const { event } = await hopper.dispense(3);
  t.equal(event, 42);
  const dispenses = line.received.filter((r) => r.header === 167);
  t.same(dispenses.map((r) => r.data), ['dfd70a03'], 'serial LSB first, then the count; sent once');
  t.same(await hopper.awaitPayout(event), { paid: 3, unpaid: 0 });
  t.same(await hopper.readStatus(), { event: 42, remaining: 0, paid: 3, unpaid: 0 });
  t.equal(hopper.status().health, 'ok');

  await hopper.dispense(1);
  t.equal(line.received.filter((r) => r.header === 167).at(-1)!.data, 'dfd70a01', 'the Flow example: 03 04 01 A7 DF D7 0A 01 90');
  await hopper.close();
});

t.test('two dispenses at once go one after the other', async (t) => {
  const { hopper, fake, line } = setUp();
  fake.event = 30;
  await hopper.open();
  const [a, b] = await Promise.allSettled([hopper.dispense(2), hopper.dispense(3)]);
  t.same(a, { status: 'fulfilled', value: { event: 31 } });
  t.equal(b.status, 'rejected', 'the hopper is still paying the first');
  t.ok(b.status === 'rejected' && b.reason instanceof DispenseNotAcceptedError);
  t.match(b.status === 'rejected' ? String(b.reason) : '', /a payout is still running/);
  t.equal(line.count(3, 167), 1);
  t.same(await hopper.awaitPayout(31), { paid: 2, unpaid: 0 });
  const c = await hopper.dispense(3);
  t.same(c, { event: 32 });
  await hopper.close();
});

t.test('zero8 security: a cipher key request, then eight zero bytes', async (t) => {
  const { hopper, fake, line } = setUp({ securityMode: 'zero8' });
  await hopper.open();
  const { event } = await hopper.dispense(5);
  t.ok(fake.cipherRequested);
  const last = line.received
    .filter((r) => r.header !== 254)
    .slice(-2)
    .map((r) => `${r.header}:${r.data}`);
  t.same(last, ['160:', '167:000000000000000005']);
  t.same(await hopper.awaitPayout(event), { paid: 5, unpaid: 0 });
  await hopper.close();
});

t.test('out-of-range counts are refused before any I/O', async (t) => {
  const { hopper, line } = setUp();
  await hopper.open();
  const notPolls = () => line.received.filter((r) => r.header !== 254).length;
  const before = notPolls();
  for (const count of [0, 256, -1, 1.5, Number.NaN, 1000]) {
    await t.rejects(hopper.dispense(count), RangeError, `count ${count}`);
  }
  t.equal(notPolls(), before, 'nothing but keep-alive polls went out');
  await hopper.close();
});

t.test('a lost dispense reply is settled by the event counter', async (t) => {
  await t.test('accepted: resolves with the new counter, never re-sent', async (t) => {
    const { hopper, fake, line } = setUp();
    fake.event = 9;
    await hopper.open();
    fake.dispenseFate = 'accept-no-reply';
    t.same(await hopper.dispense(2), { event: 10 });
    t.equal(line.count(3, 167), 1);
    t.same(await hopper.awaitPayout(10), { paid: 2, unpaid: 0 });
    await hopper.close();
  });

  await t.test('wrap: 255 → 1 counts as accepted', async (t) => {
    const { hopper, fake } = setUp();
    fake.event = 255;
    await hopper.open();
    fake.dispenseFate = 'accept-no-reply';
    t.same(await hopper.dispense(1), { event: 1 });
    await hopper.close();
  });

  await t.test('not accepted: rejects, nothing paid, not re-sent', async (t) => {
    const { hopper, fake, line } = setUp();
    fake.event = 9;
    await hopper.open();
    fake.dispenseFate = 'lose';
    const err = await hopper.dispense(2).catch((e: unknown) => e);
    t.ok(err instanceof DispenseNotAcceptedError);
    t.match((err as Error).message, /not accepted \(nothing paid\)/);
    t.equal(line.count(3, 167), 1);
    t.equal(fake.paid, 0);
    await hopper.close();
  });

  await t.test('NAK: not accepted even from a counter at 0', async (t) => {
    const { hopper, fake, line } = setUp();
    await hopper.open();
    fake.dispenseFate = 'nak';
    const err = await hopper.dispense(2).catch((e: unknown) => e);
    t.ok(err instanceof DispenseNotAcceptedError);
    t.equal(line.count(3, 167), 1, 'a NAKed dispense is not re-sent either');
    await hopper.close();
  });

  await t.test('power-cycled meanwhile: the outcome is unknown', async (t) => {
    const { hopper, fake, line } = setUp();
    fake.event = 9;
    await hopper.open();
    fake.dispenseFate = 'accept-then-power-cycle';
    const err = await hopper.dispense(4).catch((e: unknown) => e);
    t.ok(err instanceof DispenseOutcomeUnknownError);
    t.match((err as Error).message, /unknown.*from 9 to 0/);
    t.equal(line.count(3, 167), 1);
    const status = await hopper.readStatus();
    t.same([status.event, status.paid], [0, 1], 'the caller settles from the status');
    await hopper.close();
  });

  await t.test('lost reply from a counter at 0 with the counter still 0: unknown', async (t) => {
    const { hopper, fake } = setUp();
    await hopper.open();
    fake.dispenseFate = 'lose';
    const err = await hopper.dispense(1).catch((e: unknown) => e);
    t.ok(err instanceof DispenseOutcomeUnknownError, 'a power cycle after acceptance would look the same');
    await hopper.close();
  });

  await t.test('status unreadable after the lost reply: unknown, and offline', async (t) => {
    const { hopper, fake, line } = setUp();
    fake.event = 3;
    await hopper.open();
    const handle = fake.handle;
    line.handlers.set(3, (header, data) => {
      if (header === 167) {
        fake.silent = true;
        return handle(header, data);
      }
      return handle(header, data);
    });
    const err = await hopper.dispense(1).catch((e: unknown) => e);
    t.ok(err instanceof DispenseOutcomeUnknownError);
    t.match((err as Error).message, /status cannot be read/);
    t.equal(hopper.status().health, 'offline');
    await hopper.close();
  });
});

t.test('unpaid coins: fault until a payout succeeds', async (t) => {
  const { hopper, fake, line } = setUp();
  await hopper.open();
  fake.stock = 2;
  const { event } = await hopper.dispense(5);
  t.same(await hopper.awaitPayout(event), { paid: 2, unpaid: 3 });
  t.equal(hopper.status().health, 'fault');
  t.equal(hopper.status().code, 'hopper-empty');
  await waitFor('the shortfall classified by a test-hopper request', () => line.count(3, 163) === 1);
  t.equal(hopper.status().code, 'hopper-empty', 'no jam flag: empty');

  fake.stock = 50;
  const again = await hopper.dispense(1);
  t.same(await hopper.awaitPayout(again.event), { paid: 1, unpaid: 0 });
  t.same(hopper.status(), { health: 'ok', code: 'ready', detail: 'answering' });
  await hopper.close();
});

t.test('unpaid coins with a jam flag: hopper-jam', async (t) => {
  const { hopper, fake } = setUp();
  await hopper.open();
  fake.stock = 0;
  fake.testRegisters = [0b0010_0000, 0];
  const { event } = await hopper.dispense(2);
  t.same(await hopper.awaitPayout(event), { paid: 0, unpaid: 2 });
  await waitFor('jam', () => hopper.status().code === 'hopper-jam');
  t.match(hopper.status().detail, /opto blocked permanently during payout/);
  await hopper.close();
});

t.test('power cut during a payout: paid from the hopper, the rest unpaid', async (t) => {
  const { hopper, fake, logs } = setUp();
  fake.event = 5;
  await hopper.open();
  fake.powerCutAfter = 2;
  const { event } = await hopper.dispense(6);
  t.equal(event, 6);
  t.same(await hopper.awaitPayout(event), { paid: 2, unpaid: 4 }, 'the hopper said unpaid 0; 6 were asked');
  t.ok(logs.some((l) => /reset during payout 6/.test(l)));
  t.equal(hopper.status().code, 'hopper-empty');
  await hopper.close();
});

t.test('awaitPayout with an event the hopper has moved past reports what it says', async (t) => {
  const { hopper, fake, logs } = setUp();
  fake.event = 20;
  fake.paid = 4;
  await hopper.open();
  t.same(await hopper.awaitPayout(18), { paid: 4, unpaid: 0 });
  t.ok(logs.some((l) => /^error: .*moved on to another payout/.test(l)));
  await hopper.close();
});

t.test('awaitPayout gives up when the payout never ends', async (t) => {
  const [host, device] = memoryPair('cctalk');
  void device.open();
  const bus = new CctalkBus(host, { replyTimeoutMs: 500, retries: 1 });
  const line = new FakeLine(device);
  const fake = new FakeHopper();
  line.handlers.set(3, (header, data) => (header === 166 ? [fake.event, 3, 0, 0] : fake.handle(header, data)));
  const hopper = new CctalkHopper({ bus, coinValue: 50, name: 'hopper-50', statusPollMs: 2, payoutTimeout: { baseMs: 30, perCoinMs: 0 } });
  opened.push(hopper);
  await hopper.open();
  await t.rejects(hopper.awaitPayout(0), /did not end.*3 coins still to pay/);
  await hopper.close();
});

t.test('serial number checked at every open', async (t) => {
  const { hopper, fake, line } = setUp();
  await hopper.open();
  await hopper.close();
  fake.serial = [0x01, 0x02, 0x03];
  await t.rejects(hopper.open(), /serial number 197121 answers at address 3, but it was 710623/);
  t.equal(hopper.status().health, 'fault');
  t.equal(hopper.status().code, 'serial-mismatch');
  await t.rejects(hopper.dispense(1), /refusing to dispense: the hopper's serial number changed/);
  t.equal(line.count(3, 167), 0);
  await hopper.close();

  fake.serial = [0xdf, 0xd7, 0x0a];
  await hopper.open();
  t.equal(hopper.status().health, 'ok', 'the original hopper back: usable again');
  await hopper.close();
});

t.test('emergency stop and self-test', async (t) => {
  const { hopper, fake } = setUp();
  await hopper.open();
  fake.stock = 3;
  fake.remaining = 0;
  await hopper.dispense(10);
  await hopper.readStatus();
  t.equal(await hopper.emergencyStop(), 9, 'one coin paid by the status read, nine left');
  t.same(await hopper.selfTest(), []);
  fake.testRegisters = [0b1100_1000, 0b0000_0010];
  fake.enabled = false;
  t.same(await hopper.selfTest(), ['opto path blocked during idle', 'power-up detected', 'payout disabled']);
  t.equal(hopper.status().code, 'hopper-jam');
  t.ok(fake.enabled, 'enabled again after the power-up flag');
  fake.testRegisters = [0];
  t.same(await hopper.selfTest(), []);
  t.equal(hopper.status().health, 'ok', 'a clean self-test clears the jam');
  await hopper.close();
});

t.test('silent hopper: offline, then reconnects', async (t) => {
  const { hopper, fake, statuses } = setUp();
  await hopper.open();
  fake.silent = true;
  await waitFor('offline', () => hopper.status().health === 'offline');
  await t.rejects(hopper.dispense(1), /not ready/);
  fake.silent = false;
  await waitFor('ok', () => hopper.status().health === 'ok');
  t.same(
    statuses.map((s) => s.code),
    ['ready', 'no-answer', 'ready'],
  );
  await hopper.close();
});
