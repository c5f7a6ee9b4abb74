import t from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { CctalkBus } from '../../drivers/cctalk/bus.js';
import { CctalkCoinAcceptor, counterBefore, counterDelta, inhibitMask, parseCoinId } from '../../drivers/cctalk/coin-acceptor.js';
import type { Coin, DeviceStatus } from '../../drivers/types.js';
import { FakeLine } from './fake-line.js';
import { FakeAcceptor } from './fake-acceptor.js';

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

function setUp(opts: { coins?: typeof COINS | undefined; counter?: number; pollIntervalMs?: number } = {}) {
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
    pollIntervalMs: opts.pollIntervalMs ?? 5,
    reconnect: { initialMs: 10, maxMs: 40 },
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  });
  const coins: Coin[] = [];
  /** The counter each coin came with, in step with `coins`. */
  const coinCounters: number[] = [];
  const counters: number[] = [];
  const lost: number[] = [];
  const statuses: DeviceStatus[] = [];
  acceptor.on('coin', (c, { counter }) => {
    coins.push(c);
    coinCounters.push(counter);
  });
  acceptor.on('counter', ({ counter }) => counters.push(counter));
  acceptor.on('events-lost', (e) => lost.push(e.count));
  acceptor.on('status', (s) => statuses.push(s));
  opened.push(acceptor);
  return { acceptor, fake, line, coins, coinCounters, counters, lost, statuses, logs };
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
  t.equal(counterBefore(41, 0), 41);
  t.equal(counterBefore(41, 2), 39);
  t.equal(counterBefore(2, 1), 1);
  t.equal(counterBefore(2, 2), 255, 'back across the wrap: 0 is skipped');
  t.equal(counterBefore(1, 4), 252);
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

t.test('resumeFrom: the events after the host\'s counter still in the buffer are coins at the open', async (t) => {
  const { acceptor, fake, coins, coinCounters, counters, lost } = setUp({ counter: 36 });
  fake.event(3, 1); // 37: before the host's counter, already journalled
  fake.event(0, 2); // 38: an inhibited coin, no credit
  fake.event(2, 1); // 39
  fake.event(1, 1); // 40
  acceptor.resumeFrom(37);
  await acceptor.open();
  t.same(coins.map((c) => c.value), [50, 100], 'the two coins taken after 37, oldest first');
  t.same(coinCounters, [39, 40], 'each with its own counter');
  t.equal(counters.at(-1), 40, 'everything up to 40 reported');
  t.same(lost, []);
  await acceptor.close();
});

t.test('resumeFrom across the wrap, and a host counter the device has reached already', async (t) => {
  const a = setUp({ counter: 253 });
  a.fake.event(1, 1); // 254
  a.fake.event(3, 1); // 255
  a.fake.event(2, 1); // 1
  a.acceptor.resumeFrom(254);
  await a.acceptor.open();
  t.same(a.coinCounters, [255, 1]);
  t.same(a.coins.map((c) => c.value), [10, 50]);
  await a.acceptor.close();

  const b = setUp({ counter: 9 });
  b.fake.event(1, 1);
  b.acceptor.resumeFrom(10);
  await b.acceptor.open();
  await new Promise((r) => setTimeout(r, 30));
  t.same(b.coins, [], 'nothing after the host\'s counter');
  t.same(b.counters, [10]);
  await b.acceptor.close();
});

t.test('resumeFrom with more than five events since: the five in the buffer and the loss', async (t) => {
  const { acceptor, fake, coins, lost } = setUp({ counter: 100 });
  for (let i = 0; i < 7; i++) fake.event(1, 1);
  acceptor.resumeFrom(100);
  await acceptor.open();
  t.same(lost, [2]);
  t.equal(coins.length, 5);
  await acceptor.close();
});

t.test('resumeFrom after the device was reset meanwhile: counter 0, nothing to credit', async (t) => {
  const { acceptor, coins, counters } = setUp({ counter: 0 });
  acceptor.resumeFrom(77);
  await acceptor.open();
  t.same(coins, []);
  t.same(counters, [0]);
  t.throws(() => acceptor.resumeFrom(256), /0\.\.255/);
  await acceptor.close();
});

t.test('without resumeFrom the counter at the first open is the baseline, and is reported', async (t) => {
  const { acceptor, fake, coins, counters } = setUp({ counter: 12 });
  fake.ring = [[1, 1]];
  await acceptor.open();
  t.same(coins, []);
  t.same(counters, [12]);
  fake.event(0, 1);
  await waitFor('the reject moves the counter', () => counters.at(-1) === 13);
  t.same(coins, [], 'a reject is no coin');
  await acceptor.close();
});

t.test('drain: after the inhibit, a coin in the buffer is reported before it resolves', async (t) => {
  // No routine poll in this test's time: only drain() can bring the coin in.
  const { acceptor, fake, line, coins, coinCounters } = setUp({ counter: 5, pollIntervalMs: 60_000 });
  await acceptor.open();
  await acceptor.enable([100]);
  await new Promise((r) => setTimeout(r, 20));
  fake.event(1, 1);
  const before = line.received.length;
  await acceptor.disable();
  await acceptor.drain();
  t.same(coins.map((c) => c.value), [100], 'the coin is in when drain() resolves');
  t.same(coinCounters, [6]);
  t.same(
    line.received.slice(before).map((r) => r.header),
    [228, 229],
    'the read comes after the inhibit',
  );
  await acceptor.drain();
  t.equal(coins.length, 1, 'a second drain reports nothing twice');
  await acceptor.close();
  await acceptor.drain();
  t.pass('drain on a closed device does nothing');
});

t.test('drain and the routine poll together: every coin once, no false loss', async (t) => {
  const { acceptor, fake, coins, lost } = setUp({ counter: 250 });
  await acceptor.open();
  for (let i = 0; i < 40; i++) {
    fake.event(1 + (i % 3), 1);
    await Promise.all([acceptor.drain(), acceptor.drain()]);
  }
  await waitFor('forty coins', () => coins.length === 40);
  t.same(lost, []);
  await acceptor.close();
});
