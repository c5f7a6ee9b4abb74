import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { EsspEmulator, type EsspTiming } from '../../hw-sim/devices/essp/emulator.js';
import { runEsspDevice } from '../../hw-sim/devices/essp/console.js';
import { FAIL, OK_TO_SYNC, SYNC, TestHost, VERSION_8, wirePacket } from './essp-host.js';

// Transient states last long enough to be seen by a host polling back to back.
const TIMING: Partial<EsspTiming> = { acceptingMs: 40, stackingMs: 40, stackedMs: 40, returningMs: 40 };

const has = (code: number, data?: number) => (events: number[]) =>
  events.some((e, i) => e === code && (data === undefined || events[i + 1] === data));

async function setup(t: Test, timing: Partial<EsspTiming> = {}) {
  const [hostEnd, deviceEnd] = memoryPair('essp');
  await hostEnd.open();
  const emulator = new EsspEmulator({ transport: deviceEnd, timing: { ...TIMING, ...timing } });
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

/** SYNC, protocol 8, keys, all channels, enabled; the power-up events polled away. */
async function bringUp(host: TestHost): Promise<void> {
  await host.sync();
  await host.request([0x06, 0x08]);
  await host.negotiate();
  await host.request([0x02, 0x3f, 0x00]);
  await host.request([0x0a]);
  await host.poll();
}

async function toEscrow(emulator: EsspEmulator, host: TestHost, fen: number, channel: number): Promise<number[][]> {
  emulator.insert(fen);
  // HOLD, not POLL, once the note is read: a POLL would accept it.
  const seen: number[][] = [];
  for (;;) {
    const events = await host.poll();
    seen.push(events);
    if (has(0xef, channel)(events)) return seen;
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('start-up over the worked examples; encryption is required for everything else', async (t) => {
  const { emulator, host, reports } = await setup(t);
  t.same((await host.exchangeRaw(SYNC))[0]?.raw, OK_TO_SYNC, 'SYNC answered as in the example');
  t.same((await host.request([0x07], { plain: true })).data, [0xfa], 'a plain POLL: KEY NOT SET');
  t.ok(reports.some((l) => /KEY NOT SET.*0x07 must be encrypted/.test(l)));
  // The worked examples carry the flag set, so a command with it clear goes first each time.
  await host.sync();
  t.same((await host.request([0x06, 0x06])).data, [0xf0], 'version 6: OK');
  const version9 = [0x7f, 0x80, 0x02, 0x06, 0x09, ...crcOf([0x80, 0x02, 0x06, 0x09])];
  t.same((await host.exchangeRaw(version9))[0]?.raw, FAIL, 'version 9: FAIL, as in the example');
  host.seq = false;
  t.same((await host.request([0x06, 0x07])).data, [0xf0], 'version 7: OK');
  t.same((await host.exchangeRaw(VERSION_8))[0]?.raw, OK_TO_SYNC, 'version 8: OK (the same bytes as any OK with the flag set)');
  host.seq = false;

  t.same((await host.request([0x4a, 2, 0, 0, 0, 0, 0, 0, 1])).data, [0xf4], 'a generator that is not prime');
  t.same((await host.request([0x4c, 1, 2, 3, 4, 5, 6, 7, 8])).data, [0xf5], 'key exchange before generator and modulus');
  t.same((await host.request([0x4a, 1, 2])).data, [0xf3], 'wrong length');
  t.notOk(emulator.encrypted());
  await host.negotiate();
  t.ok(emulator.encrypted());
  t.ok(reports.includes('host: key exchange done, encryption on (eCOUNT 0)'));

  const setupReply = await host.request([0x05]);
  t.ok(setupReply.encrypted, 'the reply to an encrypted command is encrypted');
  t.equal(setupReply.count, 1, 'and carries the count + 1');
  const d = setupReply.data;
  t.equal(d[0], 0xf0);
  t.equal(Buffer.from(d.slice(6, 9)).toString('ascii'), 'CNY');
  t.equal(d[12], 6, 'six channels');
  t.same(d.slice(13, 19), [1, 5, 10, 20, 50, 100], 'channel values in yuan');
  t.same(d.slice(25, 28), [0, 0, 100], 'real value multiplier 100: fen');
  t.equal(d[28], 8, 'protocol version');
  t.equal(Buffer.from(d.slice(29, 47)).toString('ascii'), 'CNY'.repeat(6));
  t.same(Buffer.from(d.slice(47)).readUInt32LE(20), 100, 'the 4-byte value of channel 6');

  t.same((await host.request([0x0c])).data, [0xf0, 0x00, 0xbc, 0x61, 0x4e], 'serial number 12345678, big-endian');
  t.match(Buffer.from((await host.request([0x20])).data.slice(1)).toString('ascii'), /^ESSP-SIM NV200 CNY/);
  t.same(await host.poll(), [0xf1, 0xe8], 'slave reset, then disabled: as in the worked example');
  t.same(await host.poll(), [0xe8], 'disabled repeats while disabled');
  t.same((await host.request([0x0a])).data, [0xf0]);
  t.same(await host.poll(), [0xb5], 'enabled with every channel inhibited: channel disable');
  t.same((await host.request([0x02, 0x3f, 0x00])).data, [0xf0]);
  t.same(await host.poll(), [], 'enabled and idle');
  t.same((await host.request([0x07], { plain: true })).data, [0xfa], 'a plain command is refused with a key set too');
  t.same((await host.request([0x02])).data, [0xf3], 'SET INHIBITS without data');
  t.same((await host.request([0x07, 0x01])).data, [0xf3], 'POLL with data');
  t.same((await host.request([0x99])).data, [0xf2], 'an unknown command');
  t.same((await host.request([0x06, 0x00])).data, [0xf8]);
});

t.test('insert → escrow → POLL accepts → credit repeated under POLL WITH ACK until EVENT ACK → stacked', async (t) => {
  const { emulator, host, reports } = await setup(t);
  await bringUp(host);
  const seen = await toEscrow(emulator, host, 2000, 4);
  t.ok(seen.some(has(0xef, 0)), 'read 0 while reading');
  t.same((await host.request([0x18])).data, [0xf0], 'HOLD');
  t.same(emulator.cashbox(), {}, 'still in escrow');

  const untilCredit = await host.pollUntil(has(0xee, 4), true);
  t.ok(untilCredit.some(has(0xcc)), 'stacking on the way');
  const credit = untilCredit.at(-1)!;
  await new Promise((r) => setTimeout(r, 150));
  t.same(await host.poll(true), credit, 'the credit repeats, verbatim, until acknowledged');
  t.same(await host.poll(false), credit, 'a plain POLL repeats it too');
  t.same(emulator.cashbox(), {}, 'no stacking before EVENT ACK');
  emulator.insert(100);
  t.ok(reports.includes('validator busy: the customer holds a 100 fen note at the slot'), 'nothing new goes in before EVENT ACK');
  t.same((await host.request([0x57])).data, [0xf0], 'EVENT ACK');
  t.same((await host.request([0x57])).data, [0xf5], 'a second EVENT ACK has nothing to acknowledge');
  await host.pollUntil(has(0xeb), true);
  t.same(emulator.cashbox(), { 2000: 1 });
  t.same(emulator.stacked, [2000]);
  t.ok(reports.includes('stacking 2000 fen'));
  t.ok(reports.includes('stacked 2000 fen'));
  t.ok(reports.includes('holding 2000 fen (host HOLD)'));
  t.ok(reports.some((l) => l.includes('the customer holds a 100 fen note')), 'the note at the slot goes in afterwards');
  await host.pollUntil(has(0xef, 1), true);
  t.ok(reports.includes('accepting 100 fen'));
});

t.test('plain POLL: the credit is reported once and the note is stacked without EVENT ACK', async (t) => {
  const { emulator, host, reports } = await setup(t);
  await bringUp(host);
  await toEscrow(emulator, host, 10000, 6);
  const seen = await host.pollUntil(has(0xeb));
  t.equal(seen.filter(has(0xee, 6)).length, 1, 'one credit event');
  t.same(emulator.cashbox(), { 10000: 1 });
  t.equal(reports.filter((l) => l === 'idling').length, 1, 'idling again after the note');
});

t.test('HOLD keeps the note past the escrow time-out; REJECT returns it', async (t) => {
  const { emulator, host, reports } = await setup(t, { escrowTimeoutMs: 1500 });
  await bringUp(host);
  await toEscrow(emulator, host, 5000, 5);
  const heldUntil = Date.now() + 2500;
  while (Date.now() < heldUntil) {
    t.same((await host.request([0x18])).data, [0xf0], 'HOLD');
    await new Promise((r) => setTimeout(r, 100));
  }
  t.same((await host.request([0x08])).data, [0xf0], 'REJECT');
  const seen = await host.pollUntil(has(0xec));
  t.ok(seen.some(has(0xed)), 'rejecting, then rejected');
  t.same(emulator.returned, [5000]);
  t.same(emulator.cashbox(), {});
  t.same((await host.request([0x17])).data, [0xf0, 0x08], 'last reject code: rejected by the host');
  t.ok(reports.includes('returning 5000 fen'));
  t.ok(reports.includes('returned 5000 fen'));
  t.same((await host.request([0x18])).data, [0xf5], 'HOLD with nothing in escrow');
  t.same((await host.request([0x08])).data, [0xf5], 'REJECT with nothing in escrow');
});

t.test('a note held in escrow with no command for the time-out is rejected by the device (0x13)', async (t) => {
  const { emulator, host, reports } = await setup(t, { escrowTimeoutMs: 200 });
  await bringUp(host);
  await toEscrow(emulator, host, 5000, 5);
  await until(() => reports.some((l) => l.startsWith('escrow time-out')), 'the escrow time-out');
  const seen = await host.pollUntil(has(0xec));
  t.notOk(seen.some(has(0xee)), 'not credited');
  t.same((await host.request([0x17])).data, [0xf0, 0x13], 'escrow time-out');
  t.same(emulator.rejected, [5000]);
  t.ok(reports.some((l) => l.startsWith('escrow time-out: rejecting 5000 fen')));
});

t.test('notes are rejected while disabled, on an inhibited channel, or unknown', async (t) => {
  const { emulator, host } = await setup(t, { returningMs: 20 });
  await host.sync();
  await host.negotiate();
  const codes: number[] = [];
  const rejectOnce = async (fen: number) => {
    emulator.insert(fen);
    await host.pollUntil(has(0xec));
    codes.push((await host.request([0x17])).data[1]!);
  };
  await rejectOnce(2000);
  await host.request([0x0a]);
  await host.request([0x02, 0x37, 0x00]); // channel 4 (20 yuan) inhibited
  await rejectOnce(2000);
  await rejectOnce(300);
  t.same(codes, [0x0c, 0x06, 0x02], 'disabled by host, channel inhibited, validation failed');
  t.same(emulator.rejected, [2000, 2000, 300]);
});

t.test('sequence flag: the same flag again gets the last reply, byte for byte, without executing', async (t) => {
  const { emulator, host, reports } = await setup(t);
  await bringUp(host);
  await toEscrow(emulator, host, 1000, 3);
  const reject = host.build([0x08]);
  const [first] = await host.exchangeRaw(reject);
  t.same(first?.data, [0xf0], 'REJECT executed: the note is on its way back');
  host.count++;
  // The same packet again, as a host re-sends after a lost reply. Executed, it would get "cannot
  // be processed" (nothing in escrow any more) or be discarded for its old count.
  const [again] = await host.exchangeRaw(reject);
  t.same(again?.raw, first!.raw, 'the last reply, byte for byte');
  t.ok(reports.some((l) => l.startsWith('repeated sequence flag')), 'reported');
  await host.pollUntil(has(0xec));
  t.same(emulator.returned, [1000], 'returned once');
  t.same((await host.request([0x08])).data, [0xf5], 'with the flag toggled it is a new command: nothing in escrow');
});

t.test('packets with a stale counter or a wrong key are discarded without a reply', async (t) => {
  const { host, reports } = await setup(t);
  await bringUp(host);
  // Each sent again with the same flag, as a host does after a time-out; so the flag stays as it was.
  t.ok(await host.unanswered(host.build([0x07], { seq: host.seq, count: host.count + 5 })), 'a count from the future');
  t.ok(reports.some((l) => /discarded: packet with eCOUNT \d+, expected \d+/.test(l)));
  const key = host.key!;
  host.key = Buffer.alloc(16, 1);
  t.ok(await host.unanswered(host.build([0x07], { seq: host.seq })), 'a packet under another key');
  t.ok(reports.includes('discarded: packet failed decryption (inner CRC)'));
  host.key = key;
  t.same(await host.poll(), [], 'the right count and key are answered again');
});

t.test('each fault is reported in every poll until clear; a removed cash box comes back replaced', async (t) => {
  const { emulator, host } = await setup(t);
  await bringUp(host);
  const faults: [string, () => void, number][] = [
    ['unsafe jam', () => emulator.jam(), 0xe9],
    ['safe jam', () => emulator.safeJam(), 0xea],
    ['stacker full', () => emulator.stackerFull(), 0xe7],
    ['cash box removed', () => emulator.stackerOpen(), 0xe3],
    ['path open', () => emulator.pathOpen(), 0xe0],
  ];
  for (const [name, inject, event] of faults) {
    inject();
    t.same(await host.poll(), [event], name);
    t.same(await host.poll(), [event], `${name}: still`);
    t.throws(() => emulator.insert(100), /cannot insert/, `${name}: no note goes in`);
    emulator.clear();
    t.same(await host.poll(), event === 0xe3 ? [0xe4] : [], `${name}: cleared`);
  }
  emulator.fraud();
  t.same(await host.poll(), [0xe6, 0x00], 'fraud attempt, once');
  t.same(await host.poll(), []);
});

t.test('a jam loses a note short of its credit; one already credited is in the box', async (t) => {
  const { emulator, host } = await setup(t, { stackedMs: 2000 });
  await bringUp(host);
  await toEscrow(emulator, host, 5000, 5);
  emulator.jam();
  t.same(emulator.lost, [5000]);
  emulator.clear();
  await toEscrow(emulator, host, 1000, 3);
  await host.pollUntil(has(0xee, 3));
  emulator.fraud();
  t.same(await host.poll(), [0xe6, 0x03]);
  t.same(emulator.cashbox(), { 1000: 1 }, 'the credited note stays counted');
});

t.test('power-cycle: keys gone (KEY NOT SET), slave reset after a new key', async (t) => {
  const { emulator, host, reports } = await setup(t);
  await bringUp(host);
  emulator.powerCycle();
  t.same((await host.request([0x07])).data, [0xfa], 'an encrypted POLL after the power cut: KEY NOT SET');
  t.ok(reports.some((l) => /KEY NOT SET.*before any key/.test(l)));
  await host.sync();
  await host.negotiate();
  t.same(await host.poll(), [0xf1, 0xe8], 'slave reset, and disabled again');
});

t.test('power-cycle-with-bill: cleared from the front in escrow, into the cash box once accepted', async (t) => {
  const { emulator, host } = await setup(t, { stackingMs: 2000 });
  await bringUp(host);
  await toEscrow(emulator, host, 5000, 5);
  emulator.powerCycleWithBill();
  await host.sync();
  await host.negotiate();
  t.same(await host.poll(true), [0xf1, 0xe1, 0x05, 0xe8], 'slave reset, cleared from front with its channel');
  t.same(await host.poll(true), [0xf1, 0xe1, 0x05, 0xe8], 'repeated until EVENT ACK');
  t.same((await host.request([0x57])).data, [0xf0]);
  t.same(emulator.returned, [5000]);

  await host.request([0x02, 0x3f, 0x00]);
  await host.request([0x0a]);
  await host.poll(true);
  await toEscrow(emulator, host, 2000, 4);
  await host.poll(true); // accepts it
  emulator.powerCycleWithBill();
  await host.sync();
  await host.negotiate();
  t.same(await host.poll(), [0xf1, 0xe2, 0x04, 0xe8], 'cleared into the cash box');
  t.same(emulator.cashbox(), { 2000: 1 });
  t.throws(() => emulator.powerCycleWithBill(), /no note in the path/);
});

t.test('RESET: answered OK, then the device restarts', async (t) => {
  const { host, reports } = await setup(t);
  await bringUp(host);
  t.same((await host.request([0x01])).data, [0xf0]);
  t.ok(reports.includes('host: reset'));
  t.same((await host.request([0x07])).data, [0xfa]);
});

t.test('silent, garbage, and noise from the host', async (t) => {
  const { emulator, host } = await setup(t);
  emulator.silent();
  t.ok(await host.unanswered(SYNC), 'no reply while silent');
  emulator.clear();
  t.same((await host.exchangeRaw(SYNC))[0]?.raw, OK_TO_SYNC);

  emulator.garbage();
  await host.sync();
  t.equal(host.badFrames, 1, 'a bad-CRC packet came first');
  t.ok(host.skipped > 0, 'noise was skipped');

  const before = emulator.lineErrors();
  const badCrc = [...SYNC];
  badCrc[5] ^= 0x01;
  const replies = await host.exchangeRaw([0x00, 0x55, ...badCrc, 0x7f, 0x80, ...SYNC]);
  t.equal(replies.length, 1, 'only the good SYNC is answered');
  const after = emulator.lineErrors();
  t.equal(after.badFrames - before.badFrames, 1);
  t.equal(after.abandoned - before.abandoned, 1, 'the packet cut by a lone STX');
  t.ok(after.garbageBytes - before.garbageBytes >= 2);

  // A packet whose tail never comes is given up after a quiet gap.
  t.ok(await host.unanswered(SYNC.slice(0, 3), 120));
  t.equal(emulator.lineErrors().abandoned - after.abandoned, 1);
  t.same((await host.exchangeRaw(SYNC))[0]?.raw, OK_TO_SYNC);
  t.ok(await host.unanswered(wirePacket(0x81, [0x11])), 'a packet for address 1 is not for us');
  t.match(emulator.describe(), /^disabled, protocol 6, encryption off, channels enabled: none, note in path: none, fault: none; cash box: empty/);
});

t.test('the console on a socat pty pair, driven by operator lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'essp-'));
  const devicePath = join(dir, 'a');
  const hostPath = join(dir, 'b');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], { stdio: 'ignore' });
  t.teardown(() => {
    socat.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await until(() => existsSync(devicePath) && existsSync(hostPath), 'socat links');
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  const device = await runEsspDevice({ port: devicePath, input, output, timing: TIMING });
  t.teardown(() => device.stop());
  const line = new SerialTransport({ path: hostPath, baudRate: 9600, stopBits: 2 });
  await line.open();
  t.teardown(() => line.close());
  const host = new TestHost(line);
  await bringUp(host);
  t.match(printed, /eSSP emulator on .* \(9600 8N2/);

  input.write('insert 5000\n');
  await host.pollUntil(has(0xef, 5));
  await host.pollUntil(has(0xeb));
  await until(() => printed.includes('stacked 5000 fen'), 'the stacked report');
  t.match(printed, /accepting 5000 fen\nescrow 5000 fen \(channel 5\)\nstacking 5000 fen\n/);

  const before = printed;
  input.write('frobnicate\ninsert 12.5\n');
  await until(() => printed.split('\n').length >= before.split('\n').length + 2, 'two error lines');
  t.match(printed.slice(before.length), /^error: unknown command "frobnicate" \(type help\)\nerror: insert: needs an amount in fen/);
  input.write('status\nhelp\n');
  await until(() => printed.includes('power-cycle-with-bill'), 'the help text');
  t.match(printed, /enabled, protocol 8, encryption on .*cash box: 5000x1 \(total 5000 fen\)/);
  t.match(printed, /safe-jam/);
  input.end();
  t.same(await host.poll(), [], 'still answering after the input closed');
});

t.test('a port that cannot be opened is a clear error', async (t) => {
  await t.rejects(
    runEsspDevice({ port: '/nonexistent/tty-essp', input: new PassThrough(), output: new PassThrough() }),
    /cannot open serial port \/nonexistent\/tty-essp/,
  );
});

async function until(check: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function crcOf(body: number[]): number[] {
  // Only for the version-9 packet, which has no worked example: CRC-16/CMS bit by bit.
  let crc = 0xffff;
  for (const b of body) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return [crc & 0xff, crc >>> 8];
}
