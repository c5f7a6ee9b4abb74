import t, { type Test } from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { CctalkBus } from '../../hw-sim/devices/cctalk/bus.js';
import { CoinAcceptorEmulator } from '../../hw-sim/devices/cctalk/coin-acceptor.js';
import { HopperEmulator, type HopperOptions } from '../../hw-sim/devices/cctalk/hopper.js';
import { CctalkTestHost, command, text, type Reply } from './cctalk-host.js';

// Frames quoted in protocols.md section 3.
const COIN_POLL = [0x02, 0x00, 0x01, 0xfe, 0xff];
const COIN_CREDIT = [0x02, 0x00, 0x01, 0xe5, 0x18];
const MASTER_ENABLE = [0x02, 0x01, 0x01, 0xe4, 0x01, 0x17];
const ENABLE_ALL_CHANNELS = [2, 2, 1, 231, 255, 255, 22];
const HOPPER_ENABLE = [0x03, 0x01, 0x01, 0xa4, 0xa5, 0xb2];
const HOPPER_STATUS = [0x03, 0x00, 0x01, 0xa6, 0x56];
const TEST_HOPPER = [0x03, 0x00, 0x01, 0xa3, 0x59];
const EMERGENCY_STOP = [0x03, 0x00, 0x01, 0xac, 0x50];
const REQUEST_SERIAL = [0x03, 0x00, 0x01, 0xf2, 0x0a];
const FLOW_DISPENSE_1 = [0x03, 0x04, 0x01, 0xa7, 0xdf, 0xd7, 0x0a, 0x01, 0x90];

const ACK_FROM_COIN = [0x01, 0x00, 0x02, 0x00, 0xfd];
const ACK_FROM_HOPPER = [0x01, 0x00, 0x03, 0x00, 0xfc];
const NAK = 5;

const SERIAL_BYTES = [0xdf, 0xd7, 0x0a];
const dispense = (n: number, proof: readonly number[] = SERIAL_BYTES) => command(3, 167, [...proof, n]);

/** Test hopper register 1 bits (SCH2 p.43). */
const PAYOUT_TIMEOUT = 1 << 1;
const IDLE_PATH_BLOCKED = 1 << 3;
const BLOCKED_DURING_PAYOUT = 1 << 5;
const POWER_UP = 1 << 6;
const PAYOUT_DISABLED = 1 << 7;

interface Status {
  event: number;
  remaining: number;
  paid: number;
  unpaid: number;
}

async function bus(t: Test, options: { echo?: boolean } = {}) {
  const [hostEnd, deviceEnd] = memoryPair('cctalk');
  await hostEnd.open();
  const line = new CctalkBus({ transport: deviceEnd, echo: options.echo ?? true });
  const reports: string[] = [];
  line.on('report', (r) => reports.push(r));
  const host = new CctalkTestHost(hostEnd, options.echo ?? true);
  t.teardown(async () => {
    await line.stop();
    await hostEnd.close();
  });
  return { line, host, reports };
}

async function coinSetup(t: Test, options: { echo?: boolean } = {}) {
  const { line, host, reports } = await bus(t, options);
  const coin = new CoinAcceptorEmulator();
  coin.on('report', (r) => reports.push(r));
  line.attach(coin);
  await line.start();
  return { coin, host, reports, line };
}

async function hopperSetup(t: Test, options: HopperOptions & { echo?: boolean } = {}) {
  const { line, host, reports } = await bus(t, options);
  const hopper = new HopperEmulator({ coinIntervalMs: 20, ...options });
  hopper.on('report', (r) => reports.push(r));
  t.teardown(() => hopper.shutdown());
  line.attach(hopper);
  await line.start();
  return { hopper, host, reports };
}

function ring(reply: Reply): { counter: number; events: number[][] } {
  const [counter, ...rest] = reply.data;
  const events: number[][] = [];
  for (let i = 0; i < rest.length; i += 2) events.push([rest[i]!, rest[i + 1]!]);
  return { counter: counter!, events };
}

async function hopperStatus(host: CctalkTestHost): Promise<Status> {
  const reply = await host.request(HOPPER_STATUS);
  if (reply.header !== 0 || reply.data.length !== 4) throw new Error(`bad status reply ${reply.raw}`);
  const [event, remaining, paid, unpaid] = reply.data as [number, number, number, number];
  return { event, remaining, paid, unpaid };
}

/** Polls 166 as the Flow manual says, until `done`; every reply along the way is returned. */
async function pollStatus(host: CctalkTestHost, done: (s: Status) => boolean, limitMs = 5000): Promise<Status[]> {
  const seen: Status[] = [];
  const deadline = Date.now() + limitMs;
  for (;;) {
    const s = await hopperStatus(host);
    seen.push(s);
    if (done(s)) return seen;
    if (Date.now() > deadline) throw new Error(`status never reached the condition: last ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function testFlags(host: CctalkTestHost): Promise<number> {
  const reply = await host.request(TEST_HOPPER);
  if (reply.data.length !== 2) throw new Error(`test hopper answered ${reply.raw}`);
  return reply.data[0]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ====================================================================== coin acceptor

t.test('coin acceptor: identification', async (t) => {
  const { host } = await coinSetup(t);
  t.same((await host.request(COIN_POLL)).raw, ACK_FROM_COIN, 'simple poll → 01 00 02 00 FD');
  const category = await host.request(command(2, 245));
  t.same(category.raw, [1, 13, 2, 0, ...Buffer.from('Coin Acceptor'), 22], 'the spec example reply, byte for byte');
  t.ok(text((await host.request(command(2, 246))).data).length > 0, 'manufacturer');
  t.ok(text((await host.request(command(2, 244))).data).length > 0, 'product code');
  t.ok(text((await host.request(command(2, 241))).data).length > 0, 'software revision');
  t.equal((await host.request(command(2, 242))).data.length, 3, 'serial number: 3 bytes');
  t.equal(text((await host.request(command(2, 184, [1]))).data), 'CN100A', 'channel 1: 1 yuan');
  t.equal(text((await host.request(command(2, 184, [2]))).data), 'CN050A', 'channel 2: 5 jiao');
  t.equal(text((await host.request(command(2, 184, [3]))).data), 'CN010A', 'channel 3: 1 jiao');
  t.equal(text((await host.request(command(2, 184, [4]))).data), '......', 'channel 4 unused');
  t.equal((await host.request(command(2, 184, [17]))).header, NAK, 'no channel 17');
  t.equal((await host.request(command(2, 231, [1]))).header, NAK, 'inhibits need 2 bytes');
  t.equal((await host.request(command(2, 99))).header, NAK, 'an unsupported header is NAKed');
});

t.test('coin acceptor: enable, inserts and the 229 ring buffer', async (t) => {
  const { coin, host, reports } = await coinSetup(t);
  t.same(ring(await host.request(COIN_CREDIT)), { counter: 0, events: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] }, 'power-up: counter 0');

  coin.insert(100);
  t.same(ring(await host.request(COIN_CREDIT)).events[0], [0, 2], 'master inhibited: inhibited coin');
  t.same((await host.request(command(2, 227))).data, [0], 'master inhibit reads back inhibited');

  t.same((await host.request(command(2, 231, [0x05, 0x00]))).raw, ACK_FROM_COIN, 'enable channels 1 and 3');
  t.same((await host.request(command(2, 230))).data, [0x05, 0x00], 'inhibits read back');
  t.same((await host.request(MASTER_ENABLE)).raw, ACK_FROM_COIN, 'master enable');
  t.same((await host.request(command(2, 227))).data, [1]);

  coin.insert(100);
  coin.insert(50);
  coin.insert(10);
  coin.insert(37);
  const read = ring(await host.request(COIN_CREDIT));
  t.equal(read.counter, 5, 'one event per coin');
  t.same(read.events, [[0, 1], [3, 1], [0, 2], [1, 1], [0, 2]], 'newest first: unknown, 1 jiao, inhibited 5 jiao, 1 yuan, inhibited');
  t.same(coin.accepted, [100, 10], 'only enabled coins credited');
  t.same(ring(await host.request(COIN_CREDIT)), read, 'reading does not consume events');

  await host.request(ENABLE_ALL_CHANNELS);
  coin.insert(50);
  t.same(ring(await host.request(COIN_CREDIT)).events[0], [2, 1], '5 jiao accepted once its channel is on');
  t.ok(reports.includes('coin 50 fen accepted (channel 2, event 6)'), 'reported on the console');

  t.same((await host.request(command(2, 228, [0]))).raw, ACK_FROM_COIN, 'master inhibit');
  coin.insert(100);
  t.same(ring(await host.request(COIN_CREDIT)).events[0], [0, 2], 'inhibited again');
});

t.test('coin acceptor: flood loses events, the counter wraps 255 → 1', async (t) => {
  const { coin, host } = await coinSetup(t);
  await host.request(ENABLE_ALL_CHANNELS);
  await host.request(MASTER_ENABLE);
  coin.insert(10);
  const before = ring(await host.request(COIN_CREDIT)).counter;
  coin.flood(8);
  const after = ring(await host.request(COIN_CREDIT));
  t.equal(after.counter - before, 8, 'the host sees the counter jump by 8: 3 events lost');
  t.same(after.events, Array(5).fill([1, 1]), 'only the 5 newest are in the buffer');

  coin.flood(255 - after.counter);
  t.equal(ring(await host.request(COIN_CREDIT)).counter, 255);
  coin.insert(100);
  t.equal(ring(await host.request(COIN_CREDIT)).counter, 1, '255 wraps to 1, never 0');
  t.equal(coin.accepted.length, 1 + 8 + (255 - 9) + 1);
});

t.test('coin acceptor: jam, silence, reset and power cycle', async (t) => {
  const { coin, host } = await coinSetup(t);
  await host.request(ENABLE_ALL_CHANNELS);
  await host.request(MASTER_ENABLE);
  coin.jam();
  t.same(ring(await host.request(COIN_CREDIT)).events[0], [0, 255], 'jam: an alarm event');
  t.throws(() => coin.insert(100), /jammed/, 'nothing goes in');
  coin.clear();
  coin.insert(100);
  t.same(ring(await host.request(COIN_CREDIT)).events[0], [1, 1], 'accepting again after clear');

  coin.silent();
  await host.expectSilence(COIN_POLL);
  coin.clear();
  t.same((await host.request(COIN_POLL)).raw, ACK_FROM_COIN, 'answers after clear');

  t.same((await host.request(command(2, 1))).raw, ACK_FROM_COIN, 'reset');
  t.equal(ring(await host.request(COIN_CREDIT)).counter, 0, 'reset: counter 0');
  t.same((await host.request(command(2, 227))).data, [0], 'reset: master inhibited');

  await host.request(ENABLE_ALL_CHANNELS);
  await host.request(MASTER_ENABLE);
  coin.insert(100);
  coin.powerCycle();
  t.same(ring(await host.request(COIN_CREDIT)), { counter: 0, events: Array(5).fill([0, 0]) }, 'power cycle: counter 0');
  t.same((await host.request(command(2, 227))).data, [0], 'power cycle: master inhibited');
  coin.insert(100);
  t.same(ring(await host.request(COIN_CREDIT)).events[0], [0, 2], 'coins are inhibited until the host enables');
});

t.test('coin acceptor: bad checksum and other addresses get no answer', async (t) => {
  const { host, line } = await coinSetup(t);
  await host.expectSilence([0x02, 0x00, 0x01, 0xfe, 0x00]);
  t.equal(line.lineErrors().badChecks, 1, 'counted');
  await host.expectSilence(command(7, 254));
  await host.expectSilence(command(0, 254), 50);
  t.same((await host.request(COIN_POLL)).raw, ACK_FROM_COIN, 'a good frame right after is answered');
});

t.test('coin acceptor: echo off', async (t) => {
  const { host } = await coinSetup(t, { echo: false });
  t.same((await host.request(COIN_POLL)).raw, ACK_FROM_COIN, 'only the reply comes back');
});

// ====================================================================== hopper

t.test('hopper: identification, enable and a Flow dispense to completion', async (t) => {
  const { hopper, host, reports } = await hopperSetup(t);
  t.same((await host.request(command(3, 254))).raw, ACK_FROM_HOPPER, 'simple poll');
  t.equal(text((await host.request(command(3, 245))).data), 'Payout', 'category');
  t.same((await host.request(REQUEST_SERIAL)).data, SERIAL_BYTES, 'serial, LSB first');
  t.equal(await testFlags(host), POWER_UP | PAYOUT_DISABLED, 'power-up detected, payout disabled');
  t.equal((await host.request(FLOW_DISPENSE_1)).header, NAK, 'NAK while not enabled');
  t.same(await hopperStatus(host), { event: 0, remaining: 0, paid: 0, unpaid: 0 }, 'the NAK did not count');

  t.same((await host.request(HOPPER_ENABLE)).raw, ACK_FROM_HOPPER, 'enable: the spec example reply');
  t.equal(await testFlags(host), POWER_UP, 'enabled');
  const reply = await host.request(FLOW_DISPENSE_1);
  t.same(reply.raw, [1, 1, 3, 0, 1, 0xfa], 'dispense accepted, event 1');
  const seen = await pollStatus(host, (s) => s.remaining === 0);
  t.same(seen.at(-1), { event: 1, remaining: 0, paid: 1, unpaid: 0 });

  await host.request(dispense(3));
  const run = await pollStatus(host, (s) => s.remaining === 0);
  for (const s of run) {
    t.equal(s.event, 2, 'event counter stays during the payout');
    if (s.remaining > 0) t.same([s.remaining + s.paid, s.unpaid], [3, 0], 'remaining + paid = N while paying');
  }
  t.same(run.at(-1), { event: 2, remaining: 0, paid: 3, unpaid: 0 });
  t.equal(hopper.level, 200 - 4, 'coins left the hopper');
  t.ok(reports.includes('dispense 3 coins (event 2)'), 'dispense reported');
  t.ok(reports.includes('paid coin 2/3'), 'each coin reported');
  t.ok(reports.includes('payout done: paid 3, unpaid 0'), 'end reported');

  await host.request(dispense(0));
  t.same(await hopperStatus(host), { event: 3, remaining: 0, paid: 0, unpaid: 0 }, 'N = 0 counts but pays nothing');
});

t.test('hopper: the dispense starts with remaining = N, paid 0, unpaid 0; emergency stop', async (t) => {
  const { hopper, host } = await hopperSetup(t, { coinIntervalMs: 60_000 });
  await host.request(HOPPER_ENABLE);
  t.same((await host.request(EMERGENCY_STOP)).data, [0], 'stop while idle: 0 remaining');
  t.equal(await testFlags(host) & PAYOUT_DISABLED, 0, 'and the hopper stays enabled');
  t.same((await host.request(dispense(10))).data, [1]);
  t.same(await hopperStatus(host), { event: 1, remaining: 10, paid: 0, unpaid: 0 }, 'start of the payout');
  t.equal((await host.request(dispense(1))).header, NAK, 'dispense while dispensing → NAK');
  t.same(await hopperStatus(host), { event: 1, remaining: 10, paid: 0, unpaid: 0 }, 'the NAK changed nothing');

  const stop = await host.request(EMERGENCY_STOP);
  t.same(stop.data, [10], 'the stop returns the coins not paid');
  t.same(await hopperStatus(host), { event: 1, remaining: 0, paid: 0, unpaid: 10 }, 'stopped: unpaid = shortfall');
  t.ok(await testFlags(host) & PAYOUT_DISABLED, 'the stop disabled the hopper');
  t.equal((await host.request(dispense(1))).header, NAK, 'must re-enable first');
  t.equal(hopper.level, 200);
});

t.test('hopper: emergency stop mid-payout, then a power cut: unpaid 0 as the manuals say', async (t) => {
  const { hopper, host } = await hopperSetup(t, { coinIntervalMs: 30 });
  await host.request(HOPPER_ENABLE);
  await host.request(dispense(20));
  await pollStatus(host, (s) => s.paid >= 2);
  const left = (await host.request(EMERGENCY_STOP)).data[0]!;
  const stopped = await hopperStatus(host);
  t.equal(stopped.remaining, 0);
  t.equal(stopped.unpaid, left, 'unpaid = what the stop returned');
  t.equal(stopped.paid + left, 20, 'paid + returned = N');
  t.equal(hopper.level, 200 - stopped.paid);

  hopper.powerCycle();
  t.same(await hopperStatus(host), { event: 0, remaining: 0, paid: stopped.paid, unpaid: 0 }, 'the host must have kept the stop answer');
});

t.test('hopper: empty ends the payout with unpaid coins, payout timeout flag', async (t) => {
  const { hopper, host, reports } = await hopperSetup(t, { level: 2 });
  await host.request(HOPPER_ENABLE);
  await host.request(dispense(5));
  const end = (await pollStatus(host, (s) => s.remaining === 0)).at(-1);
  t.same(end, { event: 1, remaining: 0, paid: 2, unpaid: 3 }, 'shortfall 3');
  t.ok(await testFlags(host) & PAYOUT_TIMEOUT, 'payout timeout set');
  t.ok(reports.includes('payout done: paid 2, unpaid 3'));

  hopper.empty();
  await host.request(dispense(1));
  t.same((await pollStatus(host, (s) => s.remaining === 0)).at(-1), { event: 2, remaining: 0, paid: 0, unpaid: 1 }, 'empty: all unpaid');

  hopper.refill(10);
  await host.request(HOPPER_ENABLE);
  t.equal(await testFlags(host) & PAYOUT_TIMEOUT, PAYOUT_TIMEOUT, 'the flag stays until the next dispense');
  await host.request(dispense(1));
  t.equal(await testFlags(host) & PAYOUT_TIMEOUT, 0, 'cleared when the next dispense starts');
  t.same((await pollStatus(host, (s) => s.remaining === 0)).at(-1), { event: 3, remaining: 0, paid: 1, unpaid: 0 });
});

t.test('hopper: a jam stops the payout short and blocks dispensing until clear', async (t) => {
  const { hopper, host } = await hopperSetup(t, { coinIntervalMs: 30 });
  await host.request(HOPPER_ENABLE);
  await host.request(dispense(20));
  await pollStatus(host, (s) => s.paid >= 1);
  hopper.jam();
  const s = await hopperStatus(host);
  t.equal(s.remaining, 0, 'remaining → 0');
  t.equal(s.paid + s.unpaid, 20, 'the rest is unpaid');
  t.ok(s.unpaid > 0);
  t.ok(await testFlags(host) & BLOCKED_DURING_PAYOUT, 'test hopper shows the jam');
  t.equal((await host.request(dispense(1))).header, NAK, 'exit blocked → NAK');
  hopper.clear();
  t.same((await host.request(dispense(1))).data, [2], 'accepted after clear');
  t.same((await pollStatus(host, (st) => st.remaining === 0)).at(-1), { event: 2, remaining: 0, paid: 1, unpaid: 0 });

  hopper.jam();
  t.ok(await testFlags(host) & IDLE_PATH_BLOCKED, 'a jam while idle');
});

t.test('hopper: power cycle mid-payout keeps paid/unpaid, zeroes the counter, never resumes', async (t) => {
  const { hopper, host, reports } = await hopperSetup(t, { coinIntervalMs: 20 });
  await host.request(HOPPER_ENABLE);
  await host.request(command(3, 1));
  t.equal(await testFlags(host) & POWER_UP, 0, 'a reset clears power-up detected');
  await host.request(HOPPER_ENABLE);
  await host.request(dispense(1));
  await pollStatus(host, (s) => s.remaining === 0);
  t.same((await host.request(dispense(30))).data, [2]);
  const partway = (await pollStatus(host, (s) => s.event === 2 && s.paid >= 2)).at(-1)!;
  t.ok(partway.remaining > 0, 'still paying');

  hopper.powerCycle();
  const after = await hopperStatus(host);
  t.equal(after.event, 0, 'counter 0 after the power cycle');
  t.equal(after.remaining, 0, 'nothing in progress');
  t.equal(after.paid + after.unpaid, 30, 'paid and unpaid of the interrupted payout');
  t.ok(after.paid >= 2);
  t.equal(hopper.level, 200 - 1 - after.paid, 'the level agrees with paid');
  t.equal(await testFlags(host), POWER_UP | PAYOUT_DISABLED, 'power-up detected, disabled');

  await sleep(200);
  t.same(await hopperStatus(host), after, 'no coin paid by itself afterwards');
  t.equal(hopper.level, 200 - 1 - after.paid);
  t.ok(reports.some((r) => r.startsWith('power up (payout interrupted, not resumed)')));

  t.equal((await host.request(dispense(1))).header, NAK, 'disabled after power-up');
  await host.request(HOPPER_ENABLE);
  t.same((await host.request(dispense(1))).data, [1], 'the counter starts again at 1');

  await pollStatus(host, (s) => s.remaining === 0);
  await host.request(command(3, 1));
  t.same(await hopperStatus(host), { event: 0, remaining: 0, paid: 1, unpaid: 0 }, 'a reset keeps the last payout too');
});

t.test('hopper: wrong security bytes and malformed frames are NAKed', async (t) => {
  const { host } = await hopperSetup(t);
  await host.request(HOPPER_ENABLE);
  t.equal((await host.request(dispense(1, [0xdf, 0xd7, 0x0b]))).header, NAK, 'wrong serial');
  t.equal((await host.request(command(3, 167, [0xdf, 0xd7, 0x0a]))).header, NAK, 'no coin count');
  t.equal((await host.request(command(3, 164, []))).header, NAK, 'enable without its byte');
  t.same((await host.request(command(3, 164, [0x00]))).raw, ACK_FROM_HOPPER, 'disable');
  t.ok(await testFlags(host) & PAYOUT_DISABLED, 'a value other than A5 disables');
  t.same(await hopperStatus(host), { event: 0, remaining: 0, paid: 0, unpaid: 0 }, 'nothing was dispensed');
});

t.test('hopper: cipher security needs a fresh 160 before each dispense', async (t) => {
  const { host } = await hopperSetup(t, { security: 'cipher' });
  const any8 = [0, 0, 0, 0, 0, 0, 0, 0];
  t.same(command(3, 167, [...any8, 5]), [3, 9, 1, 167, ...any8, 5, 71], 'the SCH2 example frame');
  await host.request([3, 1, 1, 164, 165, 178]);
  t.equal((await host.request(dispense(1, any8))).header, NAK, 'no cipher key yet');
  const key = await host.request([3, 0, 1, 160, 92]);
  t.equal(key.data.length, 8, 'an 8-byte cipher key');
  t.equal((await host.request(dispense(1, SERIAL_BYTES))).header, NAK, 'serial bytes are not enough here');
  t.same((await host.request(dispense(1, any8))).data, [1], 'any 8 bytes after the key');
  await pollStatus(host, (s) => s.remaining === 0);
  t.equal((await host.request(dispense(1, any8))).header, NAK, 'the key was used up');
  await host.request(command(3, 160));
  t.same((await host.request(dispense(1, [1, 2, 3, 4, 5, 6, 7, 8]))).data, [2]);
});

t.test('hopper: configurable address and serial, echo off', async (t) => {
  const { host } = await hopperSetup(t, { address: 6, serial: 345678, echo: false });
  t.same((await host.request(command(6, 254))).raw, [1, 0, 6, 0, 0xf9], 'answers at address 6, no echo');
  t.same((await host.request(command(6, 242))).data, [0x4e, 0x46, 0x05], 'Flow manual: 345678 = 4E 46 05');
  await host.expectSilence(command(3, 254));
  await host.request(command(6, 164, [0xa5]));
  t.same((await host.request(command(6, 167, [0x4e, 0x46, 0x05, 1]))).data, [1]);
});

t.test('hopper: the event counter wraps 255 → 1', async (t) => {
  const hopper = new HopperEmulator();
  hopper.handle(164, Uint8Array.of(0xa5));
  for (let i = 1; i <= 255; i++) hopper.handle(167, Uint8Array.of(0xdf, 0xd7, 0x0a, 0));
  t.equal(hopper.status().event, 255);
  t.same(hopper.handle(167, Uint8Array.of(0xdf, 0xd7, 0x0a, 0)), { header: 0, data: [1] }, '255 wraps to 1');
});

// ====================================================================== one bus, two devices

t.test('one bus: address poll and dispatch by address', async (t) => {
  const { line, host } = await bus(t);
  const coin = new CoinAcceptorEmulator();
  const hopper = new HopperEmulator();
  t.teardown(() => hopper.shutdown());
  line.attach(coin);
  line.attach(hopper);
  t.throws(() => line.attach(new HopperEmulator()), /already taken/);
  await line.start();

  t.same(await host.rawReply([0x00, 0x00, 0x01, 0xfd, 0x02], 2), [2, 3], 'address poll (Flow example frame): one byte each');
  t.same((await host.request(COIN_POLL)).raw, ACK_FROM_COIN);
  t.same((await host.request(command(3, 254))).raw, ACK_FROM_HOPPER);
  t.equal(text((await host.request(command(3, 245))).data), 'Payout');
  t.equal(text((await host.request(command(2, 245))).data), 'Coin Acceptor');

  hopper.silent();
  t.same(await host.rawReply([0x00, 0x00, 0x01, 0xfd, 0x02], 1), [2], 'a silent device does not answer the address poll');
  await host.expectSilence(command(3, 254));
});
