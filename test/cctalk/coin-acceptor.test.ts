import t from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { CctalkBus } from '../../drivers/cctalk/bus.js';
import { CctalkCoinAcceptor, counterDelta, inhibitMask, parseCoinId } from '../../drivers/cctalk/coin-acceptor.js';
import type { Coin, DeviceStatus } from '../../drivers/types.js';
import { FakeLine, type Answer } from './fake-line.js';

/** A coin acceptor reduced to what the driver asks: identity, inhibits and the 229 event ring. */
class FakeAcceptor {
  category = 'Coin Acceptor';
  serial = [0x39, 0x30, 0x00];
  counter = 0;
  /** Newest first, at most 5. */
  ring: [number, number][] = [];
  master = 0;
  mask = '0000';
  silent = false;
  coinIds: Record<number, string> = {};

  handle = (header: number, data: Buffer): Answer => {
    if (this.silent) return 'silent';
    switch (header) {
      case 254:
        return [];
      case 245:
        return [...Buffer.from(this.category)];
      case 242:
        return this.serial;
      case 228:
        this.master = data[0]!;
        return [];
      case 231:
        this.mask = data.toString('hex');
        return [];
      case 229: {
        const flat = this.ring.flat();
        return [this.counter, ...flat, ...new Array(10 - flat.length).fill(0)];
      }
      case 184:
        return [...Buffer.from(this.coinIds[data[0]!] ?? '......')];
      default:
        return 'silent';
    }
  };

  event(a: number, b: number): void {
    this.counter = this.counter >= 255 ? 1 : this.counter + 1;
    this.ring.unshift([a, b]);
    this.ring.length = Math.min(this.ring.length, 5);
  }
}

const COINS = [
  { channel: 1, value: 100 },
  { channel: 2, value: 50 },
  { channel: 3, value: 10 },
  { channel: 9, value: 100 },
];

/** Every driver a test made is closed at the end, even when the test failed half-way. */
const opened: { close(): Promise<void> }[] = [];
t.teardown(async () => {
  for (const d of opened) await d.close();
});

function setUp(opts: { coins?: typeof COINS | undefined; counter?: number } = {}) {
  const [host, device] = memoryPair('cctalk');
  void device.open();
  const bus = new CctalkBus(host, { replyTimeoutMs: 500, retries: 1, busyRetryDelayMs: 5 });
  const line = new FakeLine(device, { echo: true });
  const fake = new FakeAcceptor();
  fake.counter = opts.counter ?? 0;
  line.handlers.set(2, fake.handle);
  const logs: string[] = [];
  const acceptor = new CctalkCoinAcceptor({
    bus,
    coins: 'coins' in opts ? opts.coins : COINS,
    pollIntervalMs: 5,
    reconnect: { initialMs: 10, maxMs: 40 },
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  });
  const coins: Coin[] = [];
  const lost: number[] = [];
  const statuses: DeviceStatus[] = [];
  acceptor.on('coin', (c) => coins.push(c));
  acceptor.on('events-lost', (e) => lost.push(e.count));
  acceptor.on('status', (s) => statuses.push(s));
  opened.push(acceptor);
  return { acceptor, fake, line, coins, lost, statuses, logs };
}

async function waitFor(what: string, ok: () => boolean, limitMs = 5000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

t.test('helpers', async (t) => {
  t.equal(counterDelta(10, 12), 2);
  t.equal(counterDelta(254, 1), 2, '254 → 255 → 1: the counter skips 0');
  t.equal(counterDelta(255, 1), 1);
  t.equal(counterDelta(0, 3), 3, 'from a reset');
  t.equal(inhibitMask([1, 3, 9]).toString('hex'), '0501');
  t.equal(inhibitMask([16, 17, 0]).toString('hex'), '0080', 'channels outside 1..16 ignored');
  t.same(parseCoinId('CN100A'), { country: 'CN', value: 100 });
  t.same(parseCoinId('CN050B'), { country: 'CN', value: 50 });
  t.equal(parseCoinId('......'), undefined);
  t.equal(parseCoinId('CN000A'), undefined);
});

t.test('open: poll, category, serial, baseline, inhibited; then coins oldest first', async (t) => {
  const { acceptor, fake, line, coins, lost } = setUp({ counter: 41 });
  fake.ring = [[3, 1]];
  fake.master = 1;
  await acceptor.open();
  t.same(
    line.received.slice(0, 5).map((r) => r.header),
    [254, 245, 242, 228, 229],
  );
  t.equal(fake.master, 0, 'left inhibited');
  t.equal(acceptor.status().health, 'ok');
  t.equal(acceptor.identity().serial, String(0x3039));
  t.same(acceptor.coins().map((c) => [c.code, c.value, c.currency]), [
    [1, 100, 'CNY'],
    [2, 50, 'CNY'],
    [3, 10, 'CNY'],
    [9, 100, 'CNY'],
  ]);
  await new Promise((r) => setTimeout(r, 30));
  t.same(coins, [], 'the events in the buffer before open are not credited');

  fake.event(2, 1);
  fake.event(0, 1);
  fake.event(9, 1);
  await waitFor('two coins', () => coins.length >= 2);
  t.same(coins.map((c) => [c.code, c.value]), [
    [2, 50],
    [9, 100],
  ]);
  t.same(lost, []);
  await acceptor.close();
  t.equal(acceptor.status().code, 'closed');
});

t.test('the counter wraps from 255 to 1', async (t) => {
  const { acceptor, fake, coins, lost } = setUp({ counter: 254 });
  await acceptor.open();
  fake.event(1, 0);
  fake.event(3, 0);
  t.equal(fake.counter, 1);
  await waitFor('two coins', () => coins.length >= 2);
  t.same(coins.map((c) => c.value), [100, 10]);
  t.same(lost, []);
  await acceptor.close();
});

t.test('enable and disable set the channel mask and the master inhibit', async (t) => {
  const { acceptor, fake, line } = setUp();
  await t.rejects(acceptor.enable([100]), /not ready/, 'before open');
  await acceptor.open();
  t.equal(fake.master, 1, 'the enable asked before open is applied at open');
  t.equal(fake.mask, '0101', 'channels 1 and 9 hold 1 yuan');
  await acceptor.enable([100, 10]);
  t.equal(fake.mask, '0501');
  t.equal(fake.master, 1);
  await acceptor.enable([50]);
  t.equal(fake.mask, '0200');
  await acceptor.disable();
  t.equal(fake.master, 0);
  const masks = line.received.filter((r) => r.header === 231).map((r) => r.data);
  t.same(masks, ['0101', '0501', '0200']);
  await acceptor.close();
});

t.test('more than five events between polls: the lost ones are reported', async (t) => {
  const { acceptor, fake, coins, lost, logs } = setUp({ counter: 10 });
  await acceptor.open();
  await acceptor.close();
  for (let i = 0; i < 8; i++) fake.event(1 + (i % 3), 0);
  await acceptor.open();
  await waitFor('events-lost', () => lost.length > 0 && coins.length >= 5);
  t.same(lost, [3], '8 events, 5 in the buffer');
  t.same(coins.map((c) => c.code), [1, 2, 3, 1, 2], 'the five still in the buffer, oldest first');
  t.ok(logs.some((l) => /^error: .*3 events lost/.test(l)), 'logged as an error');
  await acceptor.close();
});

t.test('error codes: routine ones logged, serious ones reported', async (t) => {
  const { acceptor, fake, coins, statuses, logs } = setUp();
  await acceptor.open();
  fake.event(0, 1);
  fake.event(0, 254);
  await waitFor('degraded', () => acceptor.status().health === 'degraded');
  t.equal(acceptor.status().code, 'coin-return-activated');
  t.ok(logs.some((l) => l === 'info: cctalk coin acceptor@2: reject coin'));
  fake.event(0, 255);
  await waitFor('alarm', () => acceptor.status().code === 'alarm');
  fake.event(2, 0);
  await waitFor('a coin', () => coins.length === 1);
  t.equal(acceptor.status().health, 'ok', 'a coin accepted again clears it');
  t.same(
    statuses.map((s) => s.code),
    ['ready', 'coin-return-activated', 'alarm', 'ready'],
  );
  await acceptor.close();
});

t.test('a coin on a channel with no known value counts as lost', async (t) => {
  const { acceptor, fake, coins, lost } = setUp();
  await acceptor.open();
  fake.event(7, 0);
  await waitFor('events-lost', () => lost.length === 1);
  t.same(coins, []);
  await acceptor.close();
});

t.test('counter back to 0: the device was reset and is opened again', async (t) => {
  const { acceptor, fake, line, coins, logs } = setUp({ counter: 20 });
  await acceptor.open();
  await acceptor.enable([100]);
  fake.counter = 0;
  fake.ring = [];
  fake.master = 0;
  await waitFor('re-opened and enabled', () => line.count(2, 245) === 2 && fake.master === 1);
  t.ok(logs.some((l) => /event counter back to 0/.test(l)));
  fake.event(1, 0);
  await waitFor('a coin', () => coins.length === 1);
  t.equal(coins[0]!.value, 100, 'counting goes on from 0');
  await acceptor.close();
});

t.test('coin values read from the device when not configured', async (t) => {
  const { acceptor, fake } = setUp({ coins: undefined });
  fake.coinIds = { 1: 'CN100A', 2: 'CN050A', 4: 'EU200A', 5: 'TOKEN1' };
  await acceptor.open();
  t.same(acceptor.coins().map((c) => [c.code, c.value]), [
    [1, 100],
    [2, 50],
  ]);
  await acceptor.close();
});

t.test('not a coin acceptor: a clear error and a fault', async (t) => {
  const { acceptor, fake } = setUp();
  fake.category = 'Payout';
  await t.rejects(acceptor.open(), /address 2 is a 'Payout', not a 'Coin Acceptor'/);
  t.equal(acceptor.status().health, 'fault');
  t.equal(acceptor.status().code, 'wrong-device');
  await acceptor.close();
});

t.test('silent device: offline, then back with reconnect', async (t) => {
  const { acceptor, fake, coins } = setUp();
  await acceptor.open();
  fake.silent = true;
  await waitFor('offline', () => acceptor.status().health === 'offline');
  t.equal(acceptor.status().code, 'no-answer');
  fake.event(3, 0);
  fake.silent = false;
  await waitFor('ok again', () => acceptor.status().health === 'ok');
  await waitFor('the coin taken while silent', () => coins.length === 1);
  t.equal(coins[0]!.value, 10);
  await acceptor.close();
});
