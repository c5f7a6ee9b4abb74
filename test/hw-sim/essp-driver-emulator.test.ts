/**
 * The real eSSP driver against the emulator's console over socat pseudo-terminals: the two share no
 * protocol code, so each checks the other.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { EsspValidator } from '../../drivers/essp/driver.js';
import { FrameSplitter } from '../../drivers/essp/codec.js';
import { SerialTransport } from '../../drivers/transport/serial.js';
import type { Transport, TransportEvents } from '../../drivers/transport/types.js';
import type { BillValidatorHooks, DeviceStatus, Note } from '../../drivers/types.js';
import { runEsspDevice } from '../../hw-sim/devices/essp/console.js';
import type { EsspTiming } from '../../hw-sim/devices/essp/emulator.js';

async function until(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The host's end of the line, able to lose one whole packet coming from the device, as a noisy
 * cable would: the driver then times out and sends the same packet again.
 */
class LossyLine extends EventEmitter<TransportEvents> implements Transport {
  private dropping: FrameSplitter | undefined;

  constructor(private readonly inner: Transport) {
    super();
    inner.on('data', (chunk) => {
      const drop = this.dropping;
      if (drop) {
        if (drop.push(chunk).length > 0) this.dropping = undefined;
        return;
      }
      this.emit('data', chunk);
    });
    inner.on('close', () => this.emit('close'));
    inner.on('error', (err) => this.emit('error', err));
  }

  get description(): string {
    return this.inner.description;
  }

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.inner.write(bytes);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  loseNextReply(): void {
    this.dropping = new FrameSplitter();
  }
}

interface PtyRig {
  driver: EsspValidator;
  line: LossyLine;
  /** Every line the emulator's console printed. */
  lines: string[];
  say(command: string): void;
  statuses: DeviceStatus[];
  logs: { level: string; msg: string }[];
  powerUps: string[];
  returned: (Note | null)[];
}

async function rig(t: Test, hooks: Partial<BillValidatorHooks>, timing: Partial<EsspTiming> = {}): Promise<PtyRig> {
  const dir = mkdtempSync(join(tmpdir(), 'essp-pty-'));
  const devicePath = join(dir, 'device');
  const hostPath = join(dir, 'host');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], { stdio: 'ignore' });
  t.teardown(() => {
    socat.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await until('socat links', () => existsSync(devicePath) && existsSync(hostPath));

  const input = new PassThrough();
  const output = new PassThrough();
  const lines: string[] = [];
  let partial = '';
  output.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const device = await runEsspDevice({
    port: devicePath,
    input,
    output,
    timing: { acceptingMs: 100, stackingMs: 200, stackedMs: 100, returningMs: 200, ...timing },
  });
  t.teardown(() => device.stop());

  const line = new LossyLine(new SerialTransport({ path: hostPath, baudRate: 9600, stopBits: 2 }));
  const logs: { level: string; msg: string }[] = [];
  const driver = new EsspValidator({
    transport: line,
    pollIntervalMs: 50,
    replyTimeoutMs: 400,
    reconnect: { initialMs: 100, maxMs: 400 },
    log: (level, msg) => logs.push({ level, msg }),
  });
  const statuses: DeviceStatus[] = [];
  const powerUps: string[] = [];
  const returned: (Note | null)[] = [];
  driver.on('status', (s) => statuses.push(s));
  driver.on('power-up', (p) => powerUps.push(p.bill));
  driver.on('returned', (n) => returned.push(n));
  driver.setHooks({ escrow: hooks.escrow ?? (() => 'stack'), credited: hooks.credited ?? (() => undefined) });
  t.teardown(() => driver.close());
  await driver.open();
  return { driver, line, lines, say: (c) => input.write(`${c}\n`), statuses, logs, powerUps, returned };
}

t.test('insert → escrow → stack → credited, with POLL WITH ACK and EVENT ACK', async (t) => {
  const escrowed: Note[] = [];
  const credited: (Note | null)[] = [];
  const r = await rig(t, {
    escrow: (n) => {
      escrowed.push(n);
      return 'stack';
    },
    credited: (n) => void credited.push(n),
  });
  t.same(r.powerUps, ['none'], 'the slave reset of the fresh device');
  t.same(
    r.driver.denominations().map((n) => n.value),
    [100, 500, 1000, 2000, 5000, 10000],
  );
  t.match(r.driver.identity(), { model: 'ITL eSSP banknote validator', version: '0420', serial: '12345678' });
  t.ok(r.lines.includes('host: protocol version 8'));
  t.ok(r.lines.includes('host: key exchange done, encryption on (eCOUNT 0)'));
  await r.driver.enable([1000, 2000, 5000]);
  t.ok(r.lines.includes('host: channel inhibits 1C 00 (enabled: 1000, 2000, 5000)'));
  r.say('insert 2000');
  await until('credited', () => credited.length === 1);
  await until('stacked line', () => r.lines.includes('stacked 2000 fen'));
  t.same(escrowed, [{ value: 2000, currency: 'CNY', code: 4 }]);
  t.same(credited, [{ value: 2000, currency: 'CNY', code: 4 }]);
  const ack = r.lines.indexOf('host: event ack');
  t.ok(ack > r.lines.findIndex((l) => l.startsWith('credit 2000 fen')) && ack < r.lines.indexOf('stacked 2000 fen'), 'stacked only after EVENT ACK');
  r.say('status');
  await until('status line', () => r.lines.some((l) => l.includes('cash box: 2000x1')));
  t.equal(r.driver.status().health, 'ok');
});

t.test('return: REJECT from escrow, the note comes back', async (t) => {
  const credited: (Note | null)[] = [];
  const r = await rig(t, { escrow: () => 'return', credited: (n) => void credited.push(n) });
  await r.driver.enable([5000]);
  r.say('insert 5000');
  await until('returned event', () => r.returned.length === 1);
  t.same(r.returned, [{ value: 5000, currency: 'CNY', code: 5 }]);
  t.ok(r.lines.includes('returning 5000 fen'));
  t.ok(r.lines.includes('returned 5000 fen'));
  t.same(credited, []);
});

t.test('a slow escrow decision is held with HOLD beyond the device time-out', async (t) => {
  const credited: (Note | null)[] = [];
  let decide!: (d: 'stack') => void;
  const r = await rig(t, { escrow: () => new Promise((resolve) => (decide = resolve)), credited: (n) => void credited.push(n) }, { escrowTimeoutMs: 600 });
  await r.driver.enable([10000]);
  r.say('insert 10000');
  await until('holding', () => r.lines.includes('holding 10000 fen (host HOLD)'));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.notOk(r.lines.some((l) => l.startsWith('escrow time-out')), 'still in escrow after more than the time-out');
  decide('stack');
  await until('credited', () => credited.length === 1);
  t.same(credited.map((n) => n?.value), [10000]);
});

t.test('jam while stacking: a fault with the ID-003 code, nothing credited, healthy after clear', async (t) => {
  const credited: (Note | null)[] = [];
  const r = await rig(t, { credited: (n) => void credited.push(n) }, { stackingMs: 3000 });
  await r.driver.enable([5000]);
  r.say('insert 5000');
  await until('stacking', () => r.lines.includes('stacking 5000 fen'));
  r.say('jam');
  await until('fault', () => r.driver.status().code === 'jam-acceptor');
  t.equal(r.driver.status().health, 'fault');
  r.say('clear');
  await until('ok', () => r.driver.status().health === 'ok');
  t.same(credited, []);
  t.ok(r.logs.some((l) => /gone without a credit/.test(l.msg)));
});

t.test('a device power cycle: KEY NOT SET, a new key, power-up reported, accepting again', async (t) => {
  const credited: (Note | null)[] = [];
  const r = await rig(t, { credited: (n) => void credited.push(n) });
  await r.driver.enable([1000]);
  r.say('power-cycle');
  await until('renegotiated', () => r.lines.filter((l) => l.startsWith('host: key exchange done')).length === 2);
  await until('power-up', () => r.powerUps.length === 2);
  await until('enabled again', () => r.lines.filter((l) => l === 'host: enable (accepting enabled)').length === 2);
  t.ok(r.lines.some((l) => l.startsWith('answered KEY NOT SET')), 'the device refused the old key');
  t.ok(r.logs.some((l) => /KEY NOT SET/.test(l.msg)));
  r.say('insert 1000');
  await until('credited', () => credited.length === 1);
  t.same(r.powerUps, ['none', 'none']);
});

t.test('power cycle with the note accepted: cleared into the cash box, power-up with bill in the stacker', async (t) => {
  const r = await rig(t, {}, { stackingMs: 3000 });
  await r.driver.enable([2000]);
  r.say('insert 2000');
  await until('stacking', () => r.lines.includes('stacking 2000 fen'));
  r.say('power-cycle-with-bill');
  await until('power-up', () => r.powerUps.length === 2);
  t.same(r.powerUps, ['none', 'stacker']);
  await until('acknowledged', () => r.lines.includes('host: event ack'));
});

t.test('a lost reply: the driver sends the same packet again and the device answers with its last reply', async (t) => {
  const r = await rig(t, {});
  r.line.loseNextReply();
  await until('repeat', () => r.lines.some((l) => l.startsWith('repeated sequence flag')));
  t.ok(r.logs.some((l) => /reply time-out; sending again with the same sequence flag/.test(l.msg)));
  r.say('garbage');
  await until('garbage used', () => r.logs.some((l) => /discarded bytes on the line/.test(l.msg)));
  t.equal(r.driver.status().health, 'ok', 'noise before a reply is survived');
});
