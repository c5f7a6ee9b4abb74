import t, { type Test } from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { CcnetEmulator } from '../../hw-sim/devices/ccnet/emulator.js';
import {
  ACK,
  ENABLE_ALL_NO_ESCROW,
  GET_BILL_TABLE,
  HOLD,
  IDENTIFICATION,
  IDLING_REPLY,
  NAK,
  POLL,
  RESET,
  RETURN,
  STACK,
  TestHost,
  command,
  hostCrc,
  type Reply,
} from './ccnet-host.js';

// Transient states last long enough to be seen by a host polling back to back.
const TIMING = { acceptingMs: 40, stackingMs: 40, stackedMs: 40, returningMs: 40, initializeMs: 40, escrowMs: 60_000 };

const ACK_BYTES = [0x02, 0x03, 0x06, 0x00, 0xc2, 0x82];
const NAK_BYTES = [0x02, 0x03, 0x06, 0xff, 0xba, 0x8d];
const ILLEGAL_BYTES = [0x02, 0x03, 0x06, 0x30, 0x41, 0xb3];
/** Bill types 0–5 (the six CNY notes) enabled and held in escrow. */
const ENABLE_CNY = command(0x34, [0x00, 0x00, 0x3f, 0x00, 0x00, 0x3f]);

const is = (state: number) => (r: Reply) => r.data[0] === state;
const states = (rs: Reply[]) => rs.map((r) => r.data[0]);

async function setup(t: Test, timing: Partial<typeof TIMING> = {}) {
  const [hostEnd, deviceEnd] = memoryPair('ccnet');
  await hostEnd.open();
  const emulator = new CcnetEmulator({ transport: deviceEnd, timing: { ...TIMING, ...timing } });
  const reports: string[] = [];
  emulator.on('report', (line) => reports.push(line));
  await emulator.start();
  const host = new TestHost(hostEnd);
  t.teardown(async () => {
    await emulator.stop();
    await hostEnd.close();
  });
  return { emulator, host, reports };
}

/** Power up → reset → initialize → disabled → enable the CNY notes with escrow → idling. */
async function bringUp(host: TestHost, enable = ENABLE_CNY): Promise<void> {
  await host.request(RESET);
  await host.pollUntil(is(0x19));
  await host.request(enable);
  await host.pollUntil(is(0x14));
}

async function escrow(emulator: CcnetEmulator, host: TestHost, fen: number): Promise<Reply> {
  emulator.insert(fen);
  const seen = await host.pollUntil(is(0x80));
  return seen.at(-1)!;
}

t.test('the independent host agrees with the published idling reply', async (t) => {
  t.equal(hostCrc(IDLING_REPLY.slice(0, 4)), 0xd467);
});

t.test('power up, reset, identification, bill table, enable, note stacked with 0x81 repeated until ACK', async (t) => {
  const { emulator, host, reports } = await setup(t);

  t.same((await host.poll()).data, [0x10], 'power up until reset');
  t.same((await host.poll()).data, [0x10]);
  const [resetReply, duringInit] = await host.exchange([RESET, POLL]);
  t.same(resetReply!.raw, ACK_BYTES, 'reset is answered with ACK');
  t.same(duringInit!.data, [0x13], 'initializing after reset');
  await host.send(ACK);
  const untilDisabled = await host.pollUntil(is(0x19));
  t.ok(states(untilDisabled).every((s) => s === 0x13 || s === 0x19), 'initialize, then unit disabled');
  t.same((await host.poll()).raw, [0x02, 0x03, 0x06, 0x19, 0x82, 0x0f], 'unit disabled, as a whole frame');

  const ident = await host.request(IDENTIFICATION);
  await host.send(ACK);
  t.equal(ident.data.length, 34, 'part number 15, serial number 12, asset number 7');
  t.equal(Buffer.from(ident.data.slice(0, 15)).toString('ascii').trim(), 'SM-CN1301');
  t.equal(Buffer.from(ident.data.slice(15, 27)).toString('ascii').trim(), '41K000123456');

  const table = await host.request(GET_BILL_TABLE);
  await host.send(ACK);
  t.equal(table.data.length, 120, '24 entries of 5 bytes');
  const entries = [];
  for (let i = 0; i < 24; i++) entries.push(table.data.slice(i * 5, i * 5 + 5));
  const asText = (e: number[]) => [e[0], Buffer.from(e.slice(1, 4)).toString('ascii'), e[4]];
  t.same(entries.slice(0, 6).map(asText), [
    [1, 'CHN', 0],
    [5, 'CHN', 0],
    [1, 'CHN', 1],
    [2, 'CHN', 1],
    [5, 'CHN', 1],
    [1, 'CHN', 2],
  ]);
  t.ok(entries.slice(6).every((e) => e.every((b) => b === 0)), 'bill types 6–23 unused');

  t.same((await host.request(ENABLE_CNY)).raw, ACK_BYTES, 'enable bill types is answered with ACK');
  t.same((await host.request(command(0x31))).data, [0, 0, 0x3f, 0, 0, 0], 'GET STATUS reads the enable mask back');
  t.same((await host.poll()).raw, IDLING_REPLY, 'idling, byte for byte the published reply');

  const seen = await escrow(emulator, host, 5000);
  t.same(seen.data, [0x80, 4], 'escrow position, bill type 4 (50 yuan)');
  t.same((await host.poll()).data, [0x80, 4], 'the note is held until the host decides');
  const [early] = await host.exchange([ACK, POLL], 1);
  await host.send(ACK);
  t.same(early!.data, [0x80, 4], 'an ACK of an ordinary state changes nothing and gets no reply');

  const [stackReply, stacking] = await host.exchange([STACK, POLL]);
  await host.send(ACK);
  t.same(stackReply!.raw, ACK_BYTES, 'STACK is answered with ACK');
  t.same(stacking!.data, [0x17], 'stacking');
  await host.pollUntil((r) => r.data[0] === 0x81, 5000, false);
  // Without the host's ACK the event stays.
  const unacked = [await host.request(POLL), await host.request(POLL), await host.request(POLL)];
  t.same(
    unacked.map((r) => r.data),
    [
      [0x81, 4],
      [0x81, 4],
      [0x81, 4],
    ],
    'bill stacked repeats until acknowledged',
  );
  t.same(emulator.cashbox(), { 5000: 1 }, 'the note is in the box already');
  t.notOk(reports.includes('stacked 5000 fen'), 'but the credit line waits for the ACK');

  const [afterAck] = await host.exchange([ACK, POLL], 1);
  await host.send(ACK);
  t.same(afterAck!.data, [0x1b], 'device busy while the stacker returns, right after the ACK');
  await host.pollUntil(is(0x14));
  t.same(emulator.stacked, [5000]);
  t.same(emulator.cashbox(), { 5000: 1 }, 'counted once');
  t.ok(reports.includes('accepting 5000 fen'));
  t.ok(reports.includes('escrow 5000 fen (bill type 4)'));
  t.ok(reports.includes('stacking 5000 fen'));
  t.ok(reports.includes('stacked 5000 fen'));
  t.equal(reports.at(-1), 'idling');
});

t.test('HOLD keeps the note past the escrow time; without it the note is given back', async (t) => {
  const { emulator, host, reports } = await setup(t, { escrowMs: 600 });
  await bringUp(host);
  await escrow(emulator, host, 10000);
  const [holdReply, holding] = await host.exchange([HOLD, POLL]);
  await host.send(ACK);
  t.same(holdReply!.raw, ACK_BYTES);
  t.same(holding!.data, [0x1a], 'holding');
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    t.same((await host.request(HOLD)).raw, ACK_BYTES);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.same((await host.poll()).data, [0x1a], 'still held after more than twice the escrow time');
  t.same((await host.request(STACK)).raw, ACK_BYTES, 'STACK from holding');
  await host.pollUntil((r) => r.data[0] === 0x81);
  await host.pollUntil(is(0x14));
  t.same(emulator.cashbox(), { 10000: 1 });

  await escrow(emulator, host, 2000);
  const back = await host.pollUntil(is(0x14), 10_000);
  t.ok(states(back).includes(0x18), 'returning by itself');
  t.ok(back.some((r) => r.data[0] === 0x82 && r.data[1] === 3), 'then bill returned, bill type 3');
  t.same(emulator.returned, [2000]);
  t.ok(reports.some((l) => l.startsWith('escrow time-out')));
});

t.test('a returned note goes back to the customer; bill returned repeats until ACK', async (t) => {
  const { emulator, host, reports } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 10000);
  const [returnReply, returning] = await host.exchange([RETURN, POLL]);
  await host.send(ACK);
  t.same(returnReply!.raw, ACK_BYTES);
  t.same(returning!.data, [0x18], 'returning');
  await host.pollUntil((r) => r.data[0] !== 0x18, 5000, false);
  const event = [await host.request(POLL), await host.request(POLL)];
  t.same(
    event.map((r) => r.data),
    [
      [0x82, 5],
      [0x82, 5],
    ],
    'bill returned, bill type 5, until acknowledged',
  );
  await host.send(ACK);
  await host.pollUntil(is(0x14));
  t.same(emulator.returned, [10000]);
  t.same(emulator.cashbox(), {});
  t.ok(reports.includes('returning 10000 fen'));
  t.ok(reports.includes('returned 10000 fen'));
});

t.test('notes are rejected when disabled, when their type is not enabled, or unknown; no escrow means straight to the box', async (t) => {
  // The host must catch the rejecting state with its reason while polling, so it lasts longer.
  const { emulator, host, reports } = await setup(t, { returningMs: 250 });
  await host.request(RESET);
  await host.pollUntil(is(0x19));

  emulator.insert(2000);
  const disabled = await host.pollUntil(is(0x19));
  t.same(disabled.find(is(0x1c))?.data, [0x1c, 0x68], 'rejected: inhibited');
  t.ok(reports.some((l) => l.startsWith('rejected: disabled')));

  // Only 1 and 100 yuan (bill types 0 and 5).
  await host.request(command(0x34, [0, 0, 0x21, 0, 0, 0x21]));
  emulator.insert(2000);
  const notEnabled = await host.pollUntil(is(0x14));
  t.same(notEnabled.find(is(0x1c))?.data, [0x1c, 0x68], 'bill type not enabled');

  emulator.insert(300);
  const unknown = await host.pollUntil(is(0x14));
  t.same(unknown.find(is(0x1c))?.data, [0x1c, 0x65], 'unknown value: identification error');
  t.same(emulator.rejected, [2000, 2000, 300]);

  t.same((await host.request(ENABLE_ALL_NO_ESCROW)).raw, ACK_BYTES, 'the spec vector: all types, escrow mask zero');
  emulator.insert(500);
  const direct = await host.pollUntil((r) => r.data[0] === 0x81);
  t.notOk(states(direct).includes(0x80), 'no escrow position');
  t.same(direct.at(-1)!.data, [0x81, 1]);
  await host.pollUntil(is(0x14));
  t.same(emulator.cashbox(), { 500: 1 });
});

t.test('illegal commands get 0x30', async (t) => {
  const { host } = await setup(t);
  t.same((await host.request(ENABLE_CNY)).raw, ILLEGAL_BYTES, 'enable bill types before reset');
  await bringUp(host);
  t.same((await host.request(command(0x99))).raw, ILLEGAL_BYTES, 'unknown command');
  t.same((await host.request(STACK)).raw, ILLEGAL_BYTES, 'stack without a note in escrow');
  t.same((await host.request(RETURN)).raw, ILLEGAL_BYTES, 'return without a note in escrow');
  t.same((await host.request(HOLD)).raw, ILLEGAL_BYTES, 'hold without a note in escrow');
  t.same((await host.request(command(0x34, [0, 0, 0x3f, 0, 0]))).raw, ILLEGAL_BYTES, 'enable with 5 bytes');
  t.same((await host.request(command(0x33, [1]))).raw, ILLEGAL_BYTES, 'poll with data');
  t.same((await host.poll()).data, [0x14], 'still idling');
});

t.test('NAK rules: a bad CRC is answered NAK, a host NAK repeats the last reply, nak-next NAKs one command', async (t) => {
  const { emulator, host, reports } = await setup(t);
  const badCrc = [...POLL];
  badCrc[5]! ^= 0x01;
  t.same((await host.request(badCrc)).raw, NAK_BYTES, 'bad CRC → NAK');
  t.same(emulator.lineErrors().badFrames, 1);

  const first = await host.request(GET_BILL_TABLE);
  const again = await host.request(NAK);
  t.same(again.raw, first.raw, 'NAK → the same reply again');
  await host.send(ACK);

  emulator.nakNext();
  t.same((await host.request(RESET)).raw, NAK_BYTES, 'nak-next: the command is NAKed');
  t.same((await host.poll()).data, [0x10], 'and not acted on');
  t.same((await host.request(RESET)).raw, ACK_BYTES, 'sent again, it is acted on');
  t.ok(reports.some((l) => /nak-next: answered NAK to command 0x30/.test(l)));

  t.ok(await host.unanswered(ACK, 50), 'the host ACK is never answered');
  t.ok(await host.unanswered(command(0x33, [], 0x01), 50), 'a frame for another address is left to that peripheral');
});

t.test('each fault is reported until clear', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  const faults: [string, () => void, number[]][] = [
    ['stacker full', () => emulator.stackerFull(), [0x41]],
    ['stacker open', () => emulator.stackerOpen(), [0x42]],
    ['jam', () => emulator.jam(), [0x43]],
    ['jam in the stacker', () => emulator.jamStacker(), [0x44]],
    ['cheated', () => emulator.cheated(), [0x45]],
    ['pause', () => emulator.pause(), [0x46]],
    ['failure', () => emulator.failure(0x50), [0x47, 0x50]],
  ];
  for (const [name, inject, data] of faults) {
    inject();
    t.same((await host.poll()).data, data, name);
    t.throws(() => emulator.insert(100), /cannot insert/, `${name}: no note goes in`);
    emulator.clear();
    t.same((await host.poll()).data, [0x14], `${name}: idling after clear`);
  }
  t.throws(() => emulator.failure(0x100), /one byte/);
});

t.test('a jam loses the note in the path; a pause keeps it', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 5000);
  emulator.pause();
  t.same((await host.poll()).data, [0x46]);
  t.same((await host.request(STACK)).raw, ILLEGAL_BYTES, 'no stacking while paused');
  emulator.clear();
  t.same((await host.poll()).data, [0x80, 4], 'back in escrow after clear');

  emulator.jam();
  t.same((await host.poll()).data, [0x43]);
  emulator.clear();
  t.same((await host.poll()).data, [0x14], 'the jammed note is gone');
  t.same(emulator.lost, [5000]);
  t.same(emulator.cashbox(), {});
});

t.test('silent stops all replies until clear', async (t) => {
  const { emulator, host } = await setup(t);
  emulator.silent();
  t.ok(await host.unanswered(POLL, 100), 'no reply while silent');
  const badCrc = [...POLL];
  badCrc[4]! ^= 0x01;
  t.ok(await host.unanswered(badCrc, 50), 'not even a NAK');
  emulator.clear();
  t.same((await host.poll()).data, [0x10]);
});

t.test('power-cycle loses settings and returns to power up', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  emulator.powerCycle();
  t.same((await host.poll()).data, [0x10]);
  t.same((await host.request(command(0x31))).data, [0, 0, 0, 0, 0, 0], 'no bill type enabled');
  await host.request(RESET);
  await host.pollUntil(is(0x19));
});

t.test('power-cycle-with-bill from escrow: 0x11, and reset returns the note', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 5000);
  emulator.powerCycleWithBill();
  t.same((await host.poll()).data, [0x11], 'power up with bill in validator');
  t.same((await host.poll()).data, [0x11], 'until reset');
  t.same((await host.request(RESET)).raw, ACK_BYTES);
  await host.pollUntil(is(0x19));
  t.same(emulator.returned, [5000]);
  t.same(emulator.cashbox(), {});
});

t.test('power-cycle-with-bill while stacking: 0x12, and reset completes the stack', async (t) => {
  const { emulator, host } = await setup(t, { stackingMs: 60_000 });
  await bringUp(host);
  await escrow(emulator, host, 2000);
  await host.request(STACK);
  await host.pollUntil(is(0x17));
  emulator.powerCycleWithBill();
  t.same((await host.poll()).data, [0x12], 'power up with bill in stacker');
  await host.request(RESET);
  await host.pollUntil(is(0x19));
  t.same(emulator.cashbox(), { 2000: 1 }, 'counted in the box without a bill stacked event');
  t.throws(() => emulator.powerCycleWithBill(), /no note in the path/);
});

t.test('garbage before a reply is survived by a host that resyncs', async (t) => {
  const { emulator, host } = await setup(t);
  emulator.garbage();
  t.same((await host.request(POLL)).data, [0x10], 'the real reply still arrives');
  t.equal(host.badFrames, 1, 'one frame with a bad CRC came first');
  t.ok(host.skipped > 0, 'noise was skipped');
  t.same((await host.request(POLL)).data, [0x10], 'only once');
  t.equal(host.badFrames, 1);
});

t.test('garbage from the host is discarded and the real command answered', async (t) => {
  const { emulator, host } = await setup(t);
  const noise = [0x00, 0x55, 0x13];
  const [reply] = await host.exchange([noise, RESET], 1);
  t.same(reply!.raw, ACK_BYTES, 'no NAK when a good frame came with the noise');
  t.equal(emulator.lineErrors().garbageBytes, 3);

  // A stray SYNC announcing a long frame is abandoned after a quiet gap.
  const stray = await host.exchange([[0x02, 0x03, 0x30], POLL], 1);
  t.ok([0x13, 0x19].includes(stray[0]!.data[0]!), 'the POLL behind it is answered');
  t.equal(emulator.lineErrors().garbageBytes, 3 + 3, 'the stray SYNC, its address and length bytes');
});

t.test('insert: bad amounts and a busy validator', async (t) => {
  const { emulator, host, reports } = await setup(t);
  t.throws(() => emulator.insert(100), /power-up/);
  await bringUp(host);
  t.throws(() => emulator.insert(0), /positive whole amount/);
  t.throws(() => emulator.insert(12.5), /positive whole amount/);
  emulator.insert(100);
  emulator.insert(500);
  t.throws(() => emulator.insert(1000), /already waiting/);
  t.ok(reports.some((l) => /customer holds a 500 fen note/.test(l)));
  await host.pollUntil(is(0x80));
  await host.request(STACK);
  await host.pollUntil((r) => r.data[0] === 0x80 && r.data[1] === 1);
  t.same(emulator.cashbox(), { 100: 1 }, 'the waiting note went in once the first was done');
  t.match(emulator.describe(), /note in path: escrow 500 fen.*cash box: 100x1 \(total 100 fen\)/);
});
