import t, { type Test } from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { Id003Emulator } from '../../hw-sim/devices/id003/emulator.js';
import {
  ACK,
  COMM_MODE_1,
  CURRENCY,
  ENABLE_ALL,
  HOLD,
  INHIBIT_OFF,
  INHIBIT_ON,
  RESET,
  RETURN,
  STACK1,
  STACK2,
  STATUS,
  TestHost,
  VERSION,
  command,
  type Reply,
} from './id003-host.js';

// Transient states last long enough to be seen by a host polling back to back.
const TIMING = { acceptingMs: 40, stackingMs: 40, stackedMs: 40, returningMs: 40, initializeMs: 40 };

const ACK_BYTES = [0xfc, 0x05, 0x50, 0xaa, 0x05];
const INVALID_BYTES = [0xfc, 0x05, 0x4b, 0xf8, 0xab];

const is = (status: number) => (r: Reply) => r.cmd === status;
const statuses = (rs: Reply[]) => rs.map((r) => r.cmd);

async function setup(t: Test, timing: Partial<typeof TIMING> = {}) {
  const [hostEnd, deviceEnd] = memoryPair('id003');
  await hostEnd.open();
  const emulator = new Id003Emulator({ transport: deviceEnd, timing: { ...TIMING, ...timing } });
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

/** Power-up → reset → initialize → disabled → inhibit off → idling. */
async function bringUp(host: TestHost): Promise<void> {
  await host.request(RESET);
  await host.pollUntil(is(0x1a));
  await host.request(INHIBIT_OFF);
  await host.pollUntil(is(0x11));
}

async function escrow(emulator: Id003Emulator, host: TestHost, fen: number): Promise<Reply> {
  emulator.insert(fen);
  const seen = await host.pollUntil(is(0x13));
  return seen.at(-1)!;
}

t.test('power up, reset, settings, enable, note stacked with VEND VALID repeated until ACK', async (t) => {
  const { emulator, host, reports } = await setup(t);

  t.equal((await host.request(STATUS)).cmd, 0x40, 'power up until reset');
  const [resetReply, duringInit] = await host.exchange([RESET, STATUS]);
  t.same(resetReply!.raw, ACK_BYTES, 'reset is answered with ACK');
  t.equal(duringInit!.cmd, 0x1b, 'initializing after reset');
  t.same((await host.request(COMM_MODE_1)).raw, COMM_MODE_1, 'comm mode echoed during initialize');

  const untilDisabled = await host.pollUntil(is(0x1a));
  t.ok(statuses(untilDisabled).every((s) => s === 0x1b || s === 0x1a), 'initialize, then disabled');

  const table = await host.request(CURRENCY);
  t.equal(table.cmd, 0x8a);
  const records = [];
  for (let i = 0; i + 4 <= table.data.length; i += 4) records.push(table.data.slice(i, i + 4));
  t.same(records, [
    [0x61, 0x9c, 1, 0],
    [0x62, 0x9c, 5, 0],
    [0x63, 0x9c, 1, 1],
    [0x64, 0x9c, 2, 1],
    [0x65, 0x9c, 5, 1],
    [0x66, 0x9c, 1, 2],
  ]);
  const version = await host.request(VERSION);
  t.equal(version.cmd, 0x88);
  t.match(Buffer.from(version.data).toString('ascii'), /^ID003-SIM CNY V/);
  t.equal((await host.request(command(0x89))).cmd, 0x89, 'boot version answered');

  t.same((await host.request(ENABLE_ALL)).raw, ENABLE_ALL, 'C0 echoed');
  t.same((await host.request(command(0x80))).data, [0x00, 0x00], '0x80 reads the mask back');
  t.same((await host.request(command(0x83))).data, [0x01], 'still inhibited');
  t.same((await host.request(INHIBIT_OFF)).raw, INHIBIT_OFF, 'C3 00 echoed');
  t.same((await host.request(command(0x83))).data, [0x00]);
  t.equal((await host.request(STATUS)).cmd, 0x11, 'idling');

  emulator.insert(5000);
  const untilEscrow = await host.pollUntil(is(0x13));
  t.ok(statuses(untilEscrow).every((s) => s === 0x12 || s === 0x13), 'accepting then escrow');
  t.same(untilEscrow.at(-1)!.data, [0x65], 'escrow code of 50 yuan');
  t.equal((await host.request(STATUS)).cmd, 0x13, 'escrow is held until the host decides');
  const [early] = await host.exchange([ACK, STATUS], 1);
  t.equal(early!.cmd, 0x13, 'an ACK before VEND VALID changes nothing and gets no reply');

  const [stackReply, stacking] = await host.exchange([STACK1, STATUS]);
  t.same(stackReply!.raw, ACK_BYTES, 'stack-1 is answered with ACK');
  t.equal(stacking!.cmd, 0x14, 'stacking');
  await host.pollUntil(is(0x15));
  t.same(statuses(await host.exchange([STATUS, STATUS, STATUS])), [0x15, 0x15, 0x15], 'VEND VALID repeats');
  t.same(emulator.cashbox(), {}, 'nothing in the box before the credit is acknowledged');

  const [afterAck] = await host.exchange([ACK, STATUS], 1);
  t.equal(afterAck!.cmd, 0x16, 'stacked right after the ACK, which itself has no reply');
  await host.pollUntil(is(0x11));
  t.same(emulator.cashbox(), { 5000: 1 });
  t.same(emulator.stacked, [5000]);
  t.ok(reports.includes('escrow 5000 fen (code 0x65)'));
  t.ok(reports.includes('vend valid acknowledged'));
  t.ok(reports.includes('stacked 5000 fen'));
});

t.test('stack-2 and hold are accepted from escrow', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 10000);
  const [holdReply, holding] = await host.exchange([HOLD, STATUS]);
  t.same(holdReply!.raw, ACK_BYTES);
  t.equal(holding!.cmd, 0x19, 'holding');
  t.same((await host.request(STACK2)).raw, ACK_BYTES, 'stack-2 from holding');
  await host.pollUntil(is(0x15));
  await host.send(ACK);
  await host.pollUntil(is(0x11));
  t.same(emulator.cashbox(), { 10000: 1 });
});

t.test('a returned note goes back to the customer and is not counted', async (t) => {
  const { emulator, host, reports } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 10000);
  const [returnReply, returning] = await host.exchange([RETURN, STATUS]);
  t.same(returnReply!.raw, ACK_BYTES);
  t.equal(returning!.cmd, 0x18, 'returning');
  await host.pollUntil(is(0x11));
  t.same(emulator.returned, [10000]);
  t.same(emulator.cashbox(), {});
  t.ok(reports.includes('returned 10000 fen'));
});

t.test('notes are rejected while inhibited, when disabled by C0, or unknown', async (t) => {
  // The host must catch the rejecting status with its reason while polling, so it lasts longer.
  const { emulator, host, reports } = await setup(t, { returningMs: 250 });
  await host.request(RESET);
  await host.pollUntil(is(0x1a));

  emulator.insert(2000);
  const inhibited = await host.pollUntil(is(0x1a));
  const rejecting = inhibited.find(is(0x17));
  t.same(rejecting?.data, [0x79], 'rejected: inhibited by command');
  t.ok(reports.some((l) => l.startsWith('rejected: inhibited')));

  // Disable 20 yuan (code 0x64, bit 3) and accept the rest.
  t.same((await host.request(command(0xc0, [0x08, 0x00]))).data, [0x08, 0x00]);
  await host.request(INHIBIT_OFF);
  emulator.insert(2000);
  const disabled = await host.pollUntil(is(0x11));
  t.same(disabled.find(is(0x17))?.data, [0x79], 'disabled denomination');

  emulator.insert(300);
  const unknown = await host.pollUntil(is(0x11));
  t.same(unknown.find(is(0x17))?.data, [0x76], 'unknown value');
  t.same(emulator.rejected, [2000, 2000, 300]);
  t.same(emulator.cashbox(), {});
});

t.test('invalid commands get 0x4B', async (t) => {
  const { host } = await setup(t);
  await bringUp(host);
  t.same((await host.request(command(0x99))).raw, INVALID_BYTES, 'unknown command');
  t.same((await host.request(STACK1)).raw, INVALID_BYTES, 'stack without a note in escrow');
  t.same((await host.request(RETURN)).raw, INVALID_BYTES, 'return without a note in escrow');
  t.same((await host.request(command(0xc3, [0x02]))).raw, INVALID_BYTES, 'inhibit value out of range');
  t.same((await host.request(command(0xc0, [0x00]))).raw, INVALID_BYTES, 'C0 with one byte');
  t.equal((await host.request(STATUS)).cmd, 0x11, 'still idling');
});

t.test('each fault is reported until clear', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  const faults: [string, () => void, number, number[]][] = [
    ['jam', () => emulator.jam(), 0x45, []],
    ['stacker full', () => emulator.stackerFull(), 0x43, []],
    ['stacker open', () => emulator.stackerOpen(), 0x44, []],
    ['failure', () => emulator.failure(0xa2), 0x49, [0xa2]],
    ['cheated', () => emulator.cheated(), 0x48, []],
    ['pause', () => emulator.pause(), 0x47, []],
  ];
  for (const [name, inject, status, data] of faults) {
    inject();
    const r = await host.request(STATUS);
    t.same([r.cmd, ...r.data], [status, ...data], name);
    t.throws(() => emulator.insert(100), /cannot insert/, `${name}: no note goes in`);
    emulator.clear();
    t.equal((await host.request(STATUS)).cmd, 0x11, `${name}: idling after clear`);
  }
});

t.test('a fault while initialising is reported once the initialisation ends, not stuck in it', async (t) => {
  const { emulator, host } = await setup(t);
  await host.request(RESET);
  t.equal((await host.request(STATUS)).cmd, 0x1b, 'initializing');
  emulator.jam();
  const seen = await host.pollUntil(is(0x45));
  t.ok(statuses(seen).every((s) => s === 0x1b || s === 0x45), 'initialize, then the jam');
  emulator.clear();
  await host.pollUntil(is(0x1a));
  t.pass('disabled once cleared');
});

t.test('a jam loses the note in the path; a pause keeps it', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 5000);
  emulator.pause();
  t.equal((await host.request(STATUS)).cmd, 0x47);
  t.same((await host.request(STACK1)).raw, INVALID_BYTES, 'no stacking while paused');
  emulator.clear();
  t.same((await host.request(STATUS)).data, [0x65], 'back in escrow after clear');

  emulator.jam();
  t.equal((await host.request(STATUS)).cmd, 0x45);
  emulator.clear();
  t.equal((await host.request(STATUS)).cmd, 0x11, 'the jammed note is gone');
  t.same(emulator.lost, [5000]);
  t.same(emulator.cashbox(), {});
});

t.test('silent stops all replies until clear', async (t) => {
  const { emulator, host } = await setup(t);
  emulator.silent();
  t.ok(await host.unanswered(STATUS, 100), 'no reply while silent');
  emulator.clear();
  t.equal((await host.request(STATUS)).cmd, 0x40);
});

t.test('power-cycle loses settings and returns to power up', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  emulator.powerCycle();
  t.equal((await host.request(STATUS)).cmd, 0x40);
  t.same((await host.request(command(0x83))).data, [0x01], 'inhibited again');
  await host.request(RESET);
  await host.pollUntil(is(0x1a));
});

t.test('power-cycle-with-bill from escrow: 0x41, and reset returns the note', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 5000);
  emulator.powerCycleWithBill();
  t.equal((await host.request(STATUS)).cmd, 0x41, 'power up with bill in acceptor');
  t.equal((await host.request(STATUS)).cmd, 0x41, 'until reset');
  t.same((await host.request(RESET)).raw, ACK_BYTES);
  await host.pollUntil(is(0x1a));
  t.same(emulator.returned, [5000]);
  t.same(emulator.cashbox(), {});
});

t.test('power-cycle-with-bill during VEND VALID: 0x42, and reset completes the stack', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  await escrow(emulator, host, 2000);
  await host.request(STACK1);
  await host.pollUntil(is(0x15));
  emulator.powerCycleWithBill();
  t.equal((await host.request(STATUS)).cmd, 0x42, 'power up with bill in stacker');
  await host.request(RESET);
  await host.pollUntil(is(0x1a));
  t.same(emulator.cashbox(), { 2000: 1 }, 'counted in the box without a VEND VALID');
  t.throws(() => emulator.powerCycleWithBill(), /no note in the path/);
});

t.test('garbage before a reply is survived by a host that resyncs', async (t) => {
  const { emulator, host } = await setup(t);
  emulator.garbage();
  t.equal((await host.request(STATUS)).cmd, 0x40, 'the real reply still arrives');
  t.equal(host.badFrames, 1, 'one frame with a bad CRC came first');
  t.ok(host.skipped > 0, 'noise was skipped');
  t.equal((await host.request(STATUS)).cmd, 0x40, 'only once');
  t.equal(host.badFrames, 1);
});

t.test('garbage from the host is discarded and the real command answered', async (t) => {
  const { emulator, host } = await setup(t);
  const noise = [0x00, 0x55, 0x13];
  const badCrc = [0xfc, 0x05, 0x11, 0x27, 0x57];
  const [reply] = await host.exchange([noise, badCrc, RESET], 1);
  t.same(reply!.raw, ACK_BYTES);
  t.same(emulator.lineErrors(), { garbageBytes: 3 + 4, badFrames: 1 });

  // A stray SYNC announcing a long frame is abandoned after a quiet gap.
  const stray = await host.exchange([[0xfc, 0x30], STATUS], 1);
  t.ok([0x1b, 0x1a].includes(stray[0]!.cmd), 'the status request behind it is answered');
  t.equal(emulator.lineErrors().garbageBytes, 3 + 4 + 2, 'the stray SYNC and its length byte');
  t.equal((await host.request(INHIBIT_ON)).cmd, 0xc3);
});
