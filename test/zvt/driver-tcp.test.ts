/**
 * The ZVT driver against the terminal emulator over real TCP on loopback, the emulator driven through
 * its operator console: every outcome the operator can choose, reversal, end of day, abort, and the
 * journal hook that must run before the approval is acknowledged.
 */
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { TcpTransport } from '../../drivers/transport/tcp.js';
import type { ApprovalRecord, DeviceStatus, TerminalProgress } from '../../drivers/types.js';
import { Config, DEFAULT_CONFIG } from '../../drivers/zvt/constants.js';
import { ZvtTerminal, type ZvtOptions } from '../../drivers/zvt/driver.js';
import { TcpApduLink } from '../../drivers/zvt/link.js';
import { runZvtDevice, type ZvtDevice } from '../../hw-sim/devices/zvt/console.js';

async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Rig {
  device: ZvtDevice;
  term: ZvtTerminal;
  /** Types an operator line and waits for the emulator's answer. */
  say(line: string): Promise<string>;
  printed(): string;
  logs: string[];
  progress: TerminalProgress[];
  statuses: DeviceStatus[];
  /** Waits until the driver registered again after a command left the link in doubt. */
  reconnected(): Promise<void>;
}

/** Generous time-outs: the machine is loaded; only the time-out tests wait them out. */
const TIMEOUTS = { ackTimeoutMs: 3000, idleTimeoutMs: 2500, abortWaitMs: 1000, healthIntervalMs: 0 };

async function rig(t: Test, opts: { stepMs?: number; password?: string; driver?: Partial<ZvtOptions> } = {}): Promise<Rig> {
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (c: Buffer) => (printed += c.toString('utf8')));
  const device = await runZvtDevice({ tcp: 0, input, output, stepMs: opts.stepMs ?? 5, ackTimeoutMs: 2000, ...(opts.password ? { password: opts.password } : {}) });
  t.teardown(() => device.stop());
  const logs: string[] = [];
  const term = new ZvtTerminal({
    link: new TcpApduLink(new TcpTransport({ host: '127.0.0.1', port: device.tcpPort! })),
    reconnect: { initialMs: 50, maxMs: 200 },
    log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
    ...TIMEOUTS,
    ...opts.driver,
  });
  t.teardown(() => term.close());
  const progress: TerminalProgress[] = [];
  term.on('progress', (p) => progress.push(p));
  const statuses: DeviceStatus[] = [];
  term.on('status', (s) => statuses.push(s));
  const say = async (line: string): Promise<string> => {
    const before = printed.length;
    input.write(`${line}\n`);
    await until(() => printed.length > before, `an answer to ${line}`);
    return printed.slice(before);
  };
  const reconnected = async (): Promise<void> => {
    const from = statuses.length;
    await until(() => statuses.slice(from).some((s) => s.health === 'offline'), 'the reconnect to start');
    await until(() => statuses.at(-1)?.health === 'ok', 'the terminal registered again');
  };
  return { device, term, say, printed: () => printed, logs, progress, statuses, reconnected };
}

t.test('approve: intermediate statuses, the journal hook before the acknowledgement, the receipt', async (t) => {
  const r = await rig(t);
  await r.term.open();
  t.equal(r.term.status().health, 'ok');
  t.same(r.term.identity(), { kind: 'payment-terminal', model: 'zvt', serial: '52523535' }, 'the terminal id from the registration');
  t.match(r.printed(), /registered \(config 0xbe, currency 156\)/, 'registered for text blocks, in CNY');

  const hooked: ApprovalRecord[] = [];
  let printedAtHook = '';
  const result = await r.term.authorise(5000, 'txn-1', {
    approved: async (a) => {
      hooked.push(a);
      printedAtHook = r.printed();
    },
  });
  t.equal(result.outcome, 'approved');
  t.equal(result.code, 'approved');
  t.equal(result.resultCode, 0);
  t.same(result.approval, { ref: 'txn-1', amount: 5000, receiptNo: 1, trace: 1, terminalId: '52523535', cardName: 'VISA' });
  t.same(hooked, [result.approval], 'the hook saw the approval once');
  t.notMatch(printedAtHook, /approved, receipt 1/, 'the hook ran before the terminal had its acknowledgement');
  t.same(
    r.progress.map((p) => p.stage),
    ['insert-card', 'pin', 'waiting-host'],
  );
  t.equal(result.receipts.length, 1);
  t.equal(result.receipts[0]!.type, 'customer');
  t.ok(result.receipts[0]!.lines.includes('AMOUNT CNY 50.00'), 'the terminal receipt lines');
  t.ok(result.receipts[0]!.lines.includes('APPROVED'));
  t.match(await r.say('status'), /approved 5000 fen, reversed 0 fen, net 5000 fen; bookings: #1 5000 fen/);
});

t.test('decline: declined with the host result code', async (t) => {
  const r = await rig(t);
  await r.term.open();
  t.match(await r.say('decline'), /next outcome: decline/);
  const result = await r.term.authorise(1200, 'txn-2');
  t.equal(result.outcome, 'declined');
  t.equal(result.code, 'declined');
  t.equal(result.resultCode, 5);
  t.equal(result.approval, undefined);
  t.ok(result.receipts[0]!.lines.includes('DECLINED'));
  t.match(await r.say('status'), /approved 0 fen/);
  t.equal((await r.term.authorise(1300, 'txn-3')).outcome, 'approved', 'the outcome was for one authorisation only');
});

t.test('time-out: unknown, then the link is reopened and the terminal registered again', async (t) => {
  const r = await rig(t);
  await r.term.open();
  await r.say('timeout');
  const result = await r.term.authorise(1500, 'txn-4');
  t.equal(result.outcome, 'unknown');
  t.equal(result.code, 'timeout');
  t.equal(result.approval, undefined);
  t.match(r.logs.join('\n'), /went silent, sending abort/);
  t.match(r.printed(), /abort ignored: not answering/);
  await r.reconnected();
  t.equal((await r.term.authorise(1600, 'txn-5')).outcome, 'approved', 'usable again');
});

t.test('silent after the PIN: unknown, the customer had been asked for the PIN', async (t) => {
  const r = await rig(t);
  await r.term.open();
  await r.say('silent-after-pin');
  const result = await r.term.authorise(1700, 'txn-6');
  t.equal(result.outcome, 'unknown');
  t.equal(result.code, 'timeout');
  t.same(
    r.progress.map((p) => p.stage),
    ['insert-card', 'pin'],
  );
  t.match(await r.say('status'), /bookings: none/);
});

t.test('garbage before the answer: the unknown message is acknowledged and the payment goes through', async (t) => {
  const r = await rig(t);
  await r.term.open();
  await r.say('garbage');
  const result = await r.term.authorise(1800, 'txn-7');
  t.equal(result.outcome, 'approved');
  t.match(r.logs.join('\n'), /message not used, acknowledged.*A5 5A/);
});

t.test('link dropped after the approval: unknown with the receipt number; the reversal settles it', async (t) => {
  const r = await rig(t);
  await r.term.open();
  await r.say('drop-after-approval');
  const result = await r.term.authorise(2500, 'txn-8');
  t.equal(result.outcome, 'unknown');
  t.equal(result.code, 'link-lost');
  t.equal(result.approval?.receiptNo, 1, 'the approval was seen: the receipt number to reverse');
  await r.reconnected();
  const reversed = await r.term.reverse(result.approval!.receiptNo);
  t.equal(reversed.outcome, 'reversed');
  t.equal(reversed.code, 'reversed');
  t.ok(reversed.receipts[0]!.lines.includes('REVERSED'));
  const again = await r.term.reverse(1);
  t.same([again.outcome, again.code, again.resultCode], ['reversed', 'already-reversed', 0xb4], 'reversing twice is safe');
  const none = await r.term.reverse(77);
  t.same([none.outcome, none.code, none.resultCode], ['refused', 'not-reversed', 0xb5], 'an unknown receipt cannot be reversed');
  t.match(await r.say('status'), /approved 2500 fen, reversed 2500 fen, net 0 fen/, 'approved − reversed = what the customer paid for');
});

t.test('end of day: the total of the bookings not reversed, the administration receipt', async (t) => {
  const r = await rig(t);
  await r.term.open();
  await r.term.authorise(1000, 'a');
  await r.term.authorise(2000, 'b');
  await r.term.reverse(1);
  const day = await r.term.endOfDay();
  t.equal(day.outcome, 'done');
  t.equal(day.total, 2000);
  t.equal(day.receipts[0]!.type, 'administration');
  t.equal((await r.term.endOfDay()).total, 0, 'the next day starts empty');
});

t.test('customer cancel: abort while the terminal waits for the card', async (t) => {
  const r = await rig(t, { stepMs: 300 });
  await r.term.open();
  const paying = r.term.authorise(3000, 'txn-9');
  await until(() => r.progress.length > 0, 'the first intermediate status');
  await r.term.abort();
  const result = await paying;
  t.equal(result.outcome, 'declined');
  t.equal(result.code, 'aborted');
  t.equal(result.resultCode, 0x6c);
  t.match(await r.say('status'), /bookings: none/);
  await r.term.abort();
  t.pass('abort with nothing running is a no-op');
});

t.test('a failing journal hook: unknown, not acknowledged, and the terminal reverses by itself', async (t) => {
  const r = await rig(t);
  await r.term.open();
  const result = await r.term.authorise(4000, 'txn-10', {
    approved: () => {
      throw new Error('disk full');
    },
  });
  t.equal(result.outcome, 'unknown');
  t.equal(result.code, 'journal-failed');
  t.match(result.detail, /disk full/);
  t.equal(result.approval?.receiptNo, 1);
  await until(() => r.printed().includes('reversed automatically'), 'the terminal auto-reversal');
  t.match(await r.say('status'), /#1 4000 fen reversed \(auto\)/);
});

t.test('receipts as single print lines (06 D1) when not registered for text blocks', async (t) => {
  const r = await rig(t, { driver: { config: DEFAULT_CONFIG & ~Config.textBlocks } });
  await r.term.open();
  const result = await r.term.authorise(990, 'txn-11');
  t.equal(result.outcome, 'approved');
  t.same(result.receipts.length, 1, 'the line with the last-line attribute closes the receipt');
  t.equal(result.receipts[0]!.type, 'unspecified');
  t.equal(result.receipts[0]!.lines.at(-1), 'APPROVED');
  t.ok(result.receipts[0]!.lines.includes('AMOUNT CNY 9.90'));
});

t.test('no receipts at all when the terminal prints them itself', async (t) => {
  const r = await rig(t, { driver: { config: Config.intermediateStatus } });
  await r.term.open();
  const result = await r.term.authorise(100, 'txn-12');
  t.equal(result.outcome, 'approved');
  t.same(result.receipts, []);
});

t.test('not ready, bad arguments, a refused registration, and a terminal that goes away', async (t) => {
  const r = await rig(t, { password: '123456' });
  t.same(await r.term.authorise(100, 'early'), { outcome: 'declined', code: 'not-ready', detail: 'payment terminal not ready: not opened', receipts: [] });
  t.equal((await r.term.reverse(1)).code, 'not-ready');
  t.equal((await r.term.endOfDay()).code, 'not-ready');
  t.throws(() => r.term.authorise(0, 'x'), RangeError);
  t.throws(() => r.term.authorise(10.5, 'x'), RangeError);
  t.throws(() => r.term.reverse(10000), RangeError);
  await t.rejects(r.term.open(), /registration refused/, 'the wrong password');
  t.equal(r.term.status().code, 'registration-refused');
  t.match(r.printed(), /registration refused: wrong password/);

  const good = await rig(t, { driver: { healthIntervalMs: 100 } });
  await good.term.open();
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.equal(good.term.status().health, 'ok', 'status enquiries keep it ok');
  await good.device.stop();
  await until(() => good.term.status().health === 'offline', 'the driver to notice');
  t.equal((await good.term.authorise(100, 'gone')).code, 'not-ready');
});

t.test('the emulator console: help, unknown lines, and a port already in use', async (t) => {
  const r = await rig(t);
  t.match(await r.say('help'), /silent-after-pin/);
  t.equal(await r.say('frobnicate'), 'error: unknown command "frobnicate" (type help)\n');
  t.match(await r.say('approve now'), /^error: approve: takes no argument/);
  await t.rejects(runZvtDevice({ tcp: r.device.tcpPort!, input: new PassThrough(), output: new PassThrough() }), /cannot listen/);
  await t.rejects(runZvtDevice({ input: new PassThrough(), output: new PassThrough() }), /either a TCP port or a serial port/);
});
