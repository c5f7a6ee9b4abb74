import t from 'tap';
import { memoryPair, type MemoryTransport } from '../../drivers/transport/memory.js';
import { EsspValidator } from '../../drivers/essp/driver.js';
import { createEssp, parseFixedKey } from '../../drivers/essp/index.js';
import { FrameSplitter, encodeFrame, type Frame } from '../../drivers/essp/codec.js';
import { aesKey, decryptPacket, encryptPacket, modPow } from '../../drivers/essp/crypto.js';
import { DEFAULT_FIXED_KEY } from '../../drivers/essp/constants.js';
import { setupReply } from '../../hw-sim/devices/essp/channels.js';
import type { BillValidatorHooks, DeviceStatus, EscrowDecision, Note } from '../../drivers/types.js';

const F0 = 0xf0;
const ACK_CODES = new Set([0xee, 0xe1, 0xe2]);
const hex = (b: Uint8Array | number[]) => Buffer.from(b).toString('hex');

/**
 * A few lines of eSSP validator built on the driver's own codec and crypto (both checked against
 * the protocol's vectors and the independent emulator elsewhere): it answers each command, keeps
 * the key and its counter, and walks a note through escrow, credit and stacked. `log` records what
 * the host sent, in order; the test adds its own markers to it.
 */
class ScriptedDevice {
  readonly log: string[] = [];
  /** Every packet the host sent: its name, flag and bytes. */
  readonly packets: { name: string; seq: boolean; raw: string }[] = [];
  events: number[] = [0xf1];
  enabled = false;
  fault: number | undefined;
  silent = false;
  /** Commands executed whose reply is not sent (lost on the line). */
  dropReplies = 0;
  /** Replies sent with a broken CRC / under another key / with a stale count (the good one is kept for a repeat). */
  garble = 0;
  wrongKey = 0;
  stale = 0;
  refuseVersions = new Set<number>();
  refuseSerial = false;
  /** Forged or stray packets put on the line before the next replies, one per reply. */
  forge: ('stray' | 'plain-ok' | 'encrypted-to-plain')[] = [];
  pollWithAckUnknown = false;
  /** A note sits in escrow from before: REJECT answers OK. */
  heldFromBefore = false;
  lastRejectCode = 0x06;
  private key: Buffer | undefined;
  private count = 0;
  private generator = 0n;
  private modulus = 0n;
  private lastSeq: boolean | undefined;
  private lastReply: Buffer | undefined;
  private escrow: number | undefined;
  private announced = false;
  private unacked: { events: number[]; then?: () => void } | undefined;
  private readonly splitter = new FrameSplitter();

  constructor(private readonly end: MemoryTransport) {
    end.on('data', (chunk) => {
      for (const frame of this.splitter.push(chunk)) this.receive(frame, chunk);
    });
  }

  count_(name: string): number {
    return this.log.filter((n) => n === name).length;
  }

  insert(channel: number): void {
    this.escrow = channel;
    this.announced = false;
    this.events.push(0xef, 0x00, 0xef, channel);
  }

  /** The device gives up waiting for the host and rejects the note in escrow by itself. */
  escrowTimeout(): void {
    this.escrow = undefined;
    this.lastRejectCode = 0x13;
    this.events.push(0xed, 0xec);
  }

  powerCycle(extra: number[] = []): void {
    this.key = undefined;
    this.count = 0;
    this.lastSeq = undefined;
    this.lastReply = undefined;
    this.enabled = false;
    this.unacked = undefined;
    this.escrow = undefined;
    this.events = [0xf1, ...extra];
  }

  private receive(frame: Frame, raw: Buffer): void {
    if (this.silent) return;
    let data: Buffer = frame.data;
    const sync = data.length === 1 && data[0] === 0x11;
    if (!sync && frame.seq === this.lastSeq && this.lastReply) {
      this.log.push('repeat');
      this.packets.push({ name: 'repeat', seq: frame.seq, raw: hex(raw) });
      void this.end.write(this.lastReply);
      return;
    }
    let encrypted = false;
    if (data[0] === 0x7e) {
      if (!this.key) return this.answer(frame, [0xfa], false, sync);
      const opened = decryptPacket(this.key, data);
      if (!opened.ok || opened.count !== this.count) {
        this.log.push('undecryptable');
        return;
      }
      this.count++;
      data = opened.data;
      encrypted = true;
    }
    const name = this.name(data);
    this.log.push(name);
    this.packets.push({ name, seq: frame.seq, raw: hex(raw) });
    this.answer(frame, this.execute(data), encrypted, sync);
  }

  private answer(frame: Frame, reply: number[], encrypted: boolean, sync: boolean): void {
    const seal = (key: Buffer, count: number) => (encrypted ? encryptPacket(key, count, Buffer.from(reply)) : Buffer.from(reply));
    const good = encodeFrame(0, frame.seq, seal(this.key!, this.count));
    this.lastSeq = sync ? true : frame.seq;
    this.lastReply = good;
    if (this.dropReplies > 0) {
      this.dropReplies--;
      return;
    }
    let sent = good;
    const forge = this.forge.shift();
    if (forge === 'stray') {
      // A reply from another address, and one with the other flag (a late duplicate): neither is ours.
      void this.end.write(encodeFrame(5, frame.seq, Buffer.of(F0)));
      void this.end.write(encodeFrame(0, !frame.seq, Buffer.of(F0)));
    } else if (forge === 'plain-ok' && encrypted) {
      sent = encodeFrame(0, frame.seq, Buffer.of(F0, 0xee, 0x06));
    } else if (forge === 'encrypted-to-plain' && !encrypted) {
      sent = encodeFrame(0, frame.seq, encryptPacket(this.key ?? aesKey(1n, 1n), this.count + 1, Buffer.of(F0)));
    }
    if (this.garble > 0) {
      this.garble--;
      sent = Buffer.from(good);
      sent[sent.length - 1] = sent[sent.length - 1] === 0x00 ? 0x01 : 0x00;
    } else if (encrypted && this.wrongKey > 0) {
      this.wrongKey--;
      sent = encodeFrame(0, frame.seq, seal(aesKey(1n, 2n), this.count));
    } else if (encrypted && this.stale > 0) {
      this.stale--;
      sent = encodeFrame(0, frame.seq, seal(this.key!, this.count - 1));
    }
    void this.end.write(sent);
  }

  private name(data: Buffer): string {
    const names: Record<number, string> = {
      0x11: 'sync',
      0x4a: 'generator',
      0x4b: 'modulus',
      0x4c: 'key-exchange',
      0x05: 'setup',
      0x0c: 'serial',
      0x08: 'reject',
      0x09: 'disable',
      0x0a: 'enable',
      0x18: 'hold',
      0x07: 'poll',
      0x56: 'poll-ack',
      0x57: 'event-ack',
      0x17: 'last-reject',
    };
    if (data[0] === 0x06) return `version ${data[1]}`;
    if (data[0] === 0x02) return `inhibits ${hex(data.subarray(1))}`;
    return names[data[0]!] ?? `cmd ${hex(data)}`;
  }

  private execute(data: Buffer): number[] {
    switch (data[0]) {
      case 0x11:
        return [F0];
      case 0x06:
        return this.refuseVersions.has(data[1]!) ? [0xf8] : [F0];
      case 0x4a:
        this.generator = data.readBigUInt64LE(1);
        return [F0];
      case 0x4b:
        this.modulus = data.readBigUInt64LE(1);
        return [F0];
      case 0x4c: {
        const secret = 0x1234567n;
        const shared = modPow(data.readBigUInt64LE(1), secret, this.modulus);
        const inter = Buffer.alloc(8);
        inter.writeBigUInt64LE(modPow(this.generator, secret, this.modulus));
        this.key = aesKey(DEFAULT_FIXED_KEY, shared);
        this.count = 0;
        return [F0, ...inter];
      }
      case 0x05:
        return [F0, ...setupReply(8)];
      case 0x0c:
        return this.refuseSerial ? [0xf2] : [F0, 0x00, 0x00, 0x30, 0x39];
      case 0x08:
        if (this.escrow !== undefined) {
          this.escrow = undefined;
          this.events.push(0xed, 0xec);
          return [F0];
        }
        if (this.heldFromBefore) {
          this.heldFromBefore = false;
          this.events.push(0xec);
          return [F0];
        }
        return [0xf5];
      case 0x09:
      case 0x0a:
        this.enabled = data[0] === 0x0a;
        return [F0];
      case 0x02:
        return [F0];
      case 0x18:
        return this.escrow !== undefined ? [F0] : [0xf5];
      case 0x07:
      case 0x56:
        return this.poll(data[0] === 0x56);
      case 0x57: {
        const pending = this.unacked;
        if (!pending) return [0xf5];
        this.unacked = undefined;
        pending.then?.();
        return [F0];
      }
      case 0x17:
        return [F0, this.lastRejectCode];
      default:
        return [0xf2];
    }
  }

  private poll(withAck: boolean): number[] {
    if (withAck && this.pollWithAckUnknown) return [0xf2];
    if (this.unacked) return [F0, ...this.unacked.events];
    const accept = this.escrow !== undefined && this.announced;
    const events = [...this.events, ...(this.fault !== undefined ? [this.fault] : this.enabled ? [] : [0xe8])];
    this.events = [];
    if (this.escrow !== undefined) this.announced = true;
    const credit = events.indexOf(0xee);
    const stack = () => this.events.push(0xeb);
    // Channel bytes are small numbers, so a plain search for the event codes is safe here.
    if (withAck && events.some((e) => ACK_CODES.has(e))) {
      this.unacked = { events, ...(credit >= 0 ? { then: stack } : {}) };
    } else if (credit >= 0) {
      stack();
    }
    if (accept) {
      this.events.push(0xcc, 0xee, this.escrow!);
      this.escrow = undefined;
    }
    return [F0, ...events];
  }
}

async function until(what: string, cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Fails the test instead of hanging when a promise never settles. */
async function guard<T>(what: string, p: Promise<T>, ms = 8000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

interface Rig {
  driver: EsspValidator;
  device: ScriptedDevice;
  host: MemoryTransport;
  statuses: DeviceStatus[];
  logs: { level: string; msg: string }[];
  powerUps: string[];
  returned: (Note | null)[];
}

async function rig(
  t: { teardown(fn: () => unknown): void },
  hooks: Partial<BillValidatorHooks> = {},
  opts: { open?: boolean; prepare?: (d: ScriptedDevice) => void; tries?: number } = {},
): Promise<Rig> {
  const [host, deviceEnd] = memoryPair('essp');
  await deviceEnd.open();
  const device = new ScriptedDevice(deviceEnd);
  opts.prepare?.(device);
  const logs: { level: string; msg: string }[] = [];
  const driver = new EsspValidator({
    transport: host,
    pollIntervalMs: 2,
    replyTimeoutMs: 100,
    tries: opts.tries ?? 5,
    reconnect: { initialMs: 10, maxMs: 40 },
    log: (level, msg) => logs.push({ level, msg }),
  });
  const statuses: DeviceStatus[] = [];
  const powerUps: string[] = [];
  const returned: (Note | null)[] = [];
  driver.on('status', (s) => statuses.push(s));
  driver.on('power-up', (p) => powerUps.push(p.bill));
  driver.on('returned', (n) => returned.push(n));
  driver.setHooks({
    escrow: hooks.escrow ?? (() => 'stack'),
    credited: hooks.credited ?? (() => undefined),
  });
  t.teardown(() => driver.close());
  if (opts.open !== false) await guard('open()', driver.open());
  return { driver, device, host, statuses, logs, powerUps, returned };
}

const TEN_YUAN: Note = { value: 1000, currency: 'CNY', code: 3 };

t.test('start-up: SYNC, version 8, key, setup, serial, REJECT, DISABLE, inhibits, then polls; left disabled', async (t) => {
  const { driver, device, powerUps } = await rig(t);
  t.same(device.log.slice(0, 11), [
    'sync',
    'version 8',
    'generator',
    'modulus',
    'key-exchange',
    'setup',
    'serial',
    'reject',
    'disable',
    'inhibits 3f00',
    'poll-ack',
  ]);
  t.same(
    device.packets.slice(0, 5).map((p) => p.raw.slice(0, 4)),
    ['7f80', '7f00', '7f80', '7f00', '7f80'],
    'SYNC with the flag set, then the flag alternates',
  );
  t.ok(device.packets.slice(5).every((p) => p.raw.slice(6, 8) === '7e'), 'everything after the key exchange is encrypted');
  t.same(powerUps, ['none'], 'the slave reset of the first poll');
  t.same(driver.identity(), { kind: 'bill-validator', model: 'ITL eSSP banknote validator', version: '0420', serial: '12345' });
  t.same(
    driver.denominations().map((n) => n.value),
    [100, 500, 1000, 2000, 5000, 10000],
  );
  t.same(driver.denominations()[2], TEN_YUAN);
  t.equal(driver.status().health, 'ok');
  t.notOk(device.enabled);
  t.same(driver.capabilities, { hold: true });
});

t.test('host protocol version: 8 refused, 7 taken; a refused serial number request is only logged', async (t) => {
  const { driver, device, logs } = await rig(t, {}, {
    prepare: (d) => {
      d.refuseVersions.add(8);
      d.refuseSerial = true;
    },
  });
  t.same(device.log.slice(1, 3), ['version 8', 'version 7']);
  t.ok(logs.some((l) => /trying a lower one/.test(l.msg)));
  t.ok(logs.some((l) => /refuses the serial number/.test(l.msg)));
  t.equal(driver.identity().serial, undefined);
});

t.test('a device that takes none of versions 8, 7, 6 is a start-up fault, retried', async (t) => {
  const { driver, device } = await rig(t, {}, { open: false, prepare: (d) => [8, 7, 6].forEach((v) => d.refuseVersions.add(v)) });
  await t.rejects(driver.open(), /none of host protocol versions 8, 7, 6/);
  t.same(driver.status(), { health: 'fault', code: 'start-up-failed', detail: 'device supports none of host protocol versions 8, 7, 6' });
  device.refuseVersions.clear();
  await until('ok after the retry', () => driver.status().health === 'ok');
});

t.test('open() without hooks is refused', async (t) => {
  const [host] = memoryPair();
  const driver = new EsspValidator({ transport: host });
  await t.rejects(driver.open(), /setHooks/);
  await driver.close();
});

t.test('enable() sets the inhibits of the listed notes, then ENABLE; disable() sends DISABLE', async (t) => {
  const { driver, device } = await rig(t);
  await driver.enable([100, 10000]);
  t.same(device.log.filter((n) => !n.startsWith('poll')).slice(-2), ['inhibits 2100', 'enable']);
  t.ok(device.enabled);
  await driver.disable();
  t.equal(device.log.filter((n) => !n.startsWith('poll')).at(-1), 'disable');
  t.notOk(device.enabled);
});

t.test('enable() with a value the device lacks enables the others and says so', async (t) => {
  const { driver, device, logs } = await rig(t);
  await driver.enable([300, 500]);
  t.equal(device.log.filter((n) => n.startsWith('inhibits')).at(-1), 'inhibits 0200');
  t.ok(logs.some((l) => /values the device does not have/.test(l.msg)));
});

t.test('escrow: HOLD while the hook decides; stack; EVENT ACK only after credited resolves', async (t) => {
  const escrowed: Note[] = [];
  const credited: (Note | null)[] = [];
  let releaseEscrow!: (d: EscrowDecision) => void;
  let releaseCredit!: () => void;
  const { driver, device } = await rig(t, {
    escrow: (note) => {
      escrowed.push(note);
      return new Promise((r) => (releaseEscrow = r));
    },
    credited: (note) => {
      credited.push(note);
      return new Promise<void>((r) => (releaseCredit = r));
    },
  });
  await driver.enable([100, 500, 1000, 2000, 5000, 10000]);
  device.insert(3);
  await until('escrow hook', () => escrowed.length === 1);
  const polls = device.count_('poll-ack');
  await until('holds while the hook is pending', () => device.count_('hold') > 5);
  t.equal(device.count_('poll-ack'), polls, 'no poll (which would accept the note) while the hook decides');
  device.log.push('escrow-resolved');
  releaseEscrow('stack');

  await until('credited hook', () => credited.length === 1);
  const creditPolls = device.count_('poll-ack');
  await until('polls repeating the credit', () => device.count_('poll-ack') > creditPolls + 5);
  t.equal(device.count_('event-ack'), 0, 'no EVENT ACK while the credit is pending');
  device.log.push('credit-resolved');
  releaseCredit();

  await until('EVENT ACK', () => device.count_('event-ack') === 1);
  await until('stacked and idle', () => device.log.lastIndexOf('poll-ack') > device.log.indexOf('event-ack') + 2);
  t.ok(device.log.indexOf('event-ack') > device.log.indexOf('credit-resolved'), 'EVENT ACK written after the hook resolved');
  t.same(escrowed, [TEN_YUAN]);
  t.same(credited, [TEN_YUAN], 'credited once although the credit was polled many times');
  t.equal(device.count_('reject'), 1, 'only the start-up REJECT');
});

t.test('escrow → return: REJECT sent, returned emitted, nothing credited', async (t) => {
  const credited: (Note | null)[] = [];
  const { driver, device, returned } = await rig(t, { escrow: () => 'return', credited: (n) => void credited.push(n) });
  await driver.enable([1000]);
  device.insert(3);
  await until('returned event', () => returned.length === 1);
  t.same(returned, [TEN_YUAN]);
  t.equal(device.count_('reject'), 2, 'the start-up one and ours');
  t.same(credited, []);
});

t.test('a failing escrow hook counts as return; a channel missing from the setup is returned unasked', async (t) => {
  let asked = 0;
  const { driver, device, returned } = await rig(t, {
    escrow: () => {
      asked++;
      throw new Error('journal unavailable');
    },
  });
  await driver.enable([1000]);
  device.insert(3);
  await until('first return', () => returned.length === 1);
  device.insert(9);
  await until('second return', () => returned.length === 2);
  t.equal(asked, 1, 'the hook is not asked about channel 9');
  t.same(returned, [TEN_YUAN, null]);
});

t.test('a credit seen first (host restarted mid-stack): credited(null), EVENT ACK, before open() resolves', async (t) => {
  const credited: (Note | null)[] = [];
  const { device } = await rig(
    t,
    { credited: (n) => void credited.push(n) },
    { prepare: (d) => (d.events = [0xcc, 0xee, 0x03]) },
  );
  t.same(credited, [null], 'the contract: null when the driver did not see the escrow');
  t.ok(device.log.indexOf('event-ack') > 0, 'acknowledged during the start-up');
});

t.test('a note held in escrow from before the restart is returned at start-up', async (t) => {
  const { returned, device } = await rig(t, {}, {
    prepare: (d) => {
      d.heldFromBefore = true;
      d.events = [];
    },
  });
  t.same(returned, [null]);
  t.equal(device.count_('reject'), 1);
});

t.test('a rejected credited hook means no EVENT ACK, and it is asked again', async (t) => {
  const calls: (Note | null)[] = [];
  const { driver, device, logs } = await rig(t, {
    credited: (n) => {
      calls.push(n);
      if (calls.length === 1) return Promise.reject(new Error('disk full'));
      device.log.push('credit-ok');
    },
  });
  await driver.enable([1000]);
  device.insert(3);
  await until('second credit attempt', () => calls.length === 2);
  await until('EVENT ACK', () => device.count_('event-ack') === 1);
  t.ok(device.log.indexOf('event-ack') > device.log.indexOf('credit-ok'), 'no EVENT ACK before a credit succeeded');
  t.same(calls, [TEN_YUAN, TEN_YUAN]);
  t.ok(logs.some((l) => l.level === 'error' && /credit hook failed/.test(l.msg)));
});

t.test('a lost EVENT ACK is sent again, with the same flag, and the note is not credited twice', async (t) => {
  let credits = 0;
  const { driver, device } = await rig(t, {
    credited: () => {
      credits++;
      device.dropReplies = 1; // the next command is the EVENT ACK: its reply is lost
    },
  });
  await driver.enable([1000]);
  device.insert(3);
  await until('EVENT ACK repeated', () => device.log.includes('repeat'));
  t.equal(device.log[device.log.indexOf('repeat') - 1], 'event-ack');
  await until('stacked', () => device.log.lastIndexOf('poll-ack') > device.log.lastIndexOf('repeat') + 3);
  t.equal(credits, 1);
  t.equal(device.count_('event-ack'), 1, 'executed once; the re-send got the repeated reply');
});

t.test('a note the device rejects by itself: rejected with the reason from LAST REJECT CODE', async (t) => {
  const rejected: { reason: string; code: number }[] = [];
  const { driver, device } = await rig(t);
  driver.on('rejected', (r) => rejected.push(r));
  device.events.push(0xef, 0x00, 0xed, 0xec);
  await until('rejected event', () => rejected.length === 1);
  t.same(rejected, [{ reason: 'channel inhibited', code: 0x06 }]);
  t.equal(device.count_('last-reject'), 1);
});

t.test('a lost reply: the same packet is sent again after the time-out, with the same flag', async (t) => {
  const { device, logs } = await rig(t);
  const before = device.packets.length;
  device.dropReplies = 1;
  await until('the repeat', () => device.log.includes('repeat'));
  await until('the next command', () => device.packets.length > before + 2);
  const [lost, again, next] = device.packets.slice(before, before + 3);
  t.ok(logs.some((l) => /reply time-out; sending again with the same sequence flag/.test(l.msg)));
  t.equal(again!.name, 'repeat');
  t.equal(again!.raw, lost!.raw, 'the same bytes: same flag, same encrypted packet and counter');
  t.equal(next!.seq, !lost!.seq, 'the command after it has the other flag');
  t.equal(device.log.filter((n) => n === 'repeat').length, 1, 'answered from the last reply, not executed again');
});

t.test('bad CRC, a reply under another key and a stale counter are ignored; the link carries on', async (t) => {
  const credited: (Note | null)[] = [];
  const { driver, device, logs } = await rig(t, { credited: (n) => void credited.push(n) });
  await driver.enable([1000]);
  device.garble = 1;
  await until('garbled reply handled', () => device.log.filter((n) => n === 'repeat').length === 1);
  device.wrongKey = 1;
  await until('wrong key handled', () => device.log.filter((n) => n === 'repeat').length === 2);
  device.stale = 1;
  await until('stale handled', () => device.log.filter((n) => n === 'repeat').length === 3);
  device.insert(3);
  await until('credited', () => credited.length === 1);
  t.ok(logs.some((l) => /discarded bytes on the line/.test(l.msg)), 'the bad CRC is logged');
  t.ok(logs.some((l) => /reply refused: decryption failed/.test(l.msg)), 'the failed decryption is logged');
  t.ok(logs.some((l) => /reply refused: stale counter/.test(l.msg)), 'the stale counter is logged');
  t.ok(logs.some((l) => /unusable reply/.test(l.msg)));
  t.equal(driver.status().health, 'ok');
});

t.test('stray, forged and misdirected replies are ignored', async (t) => {
  const credited: (Note | null)[] = [];
  const { device, logs } = await rig(t, { credited: (n) => void credited.push(n) });
  device.forge.push('stray', 'plain-ok');
  await until('both used', () => device.forge.length === 0 && device.log.includes('repeat'));
  t.ok(logs.some((l) => /unexpected packet ignored/.test(l.msg)), 'other address and other flag');
  t.ok(logs.some((l) => /plain reply to an encrypted command refused/.test(l.msg)), 'a plain "credit" is not believed');
  t.same(credited, [], 'the forged credit was never acted on');
  // A plain command (SYNC at start-up) answered with an encrypted packet.
  const other = await rig(t, {}, { prepare: (d) => d.forge.push('encrypted-to-plain') });
  t.ok(other.logs.some((l) => /encrypted reply to a plain command refused/.test(l.msg)));
  t.same(other.device.log.slice(0, 2), ['sync', 'sync'], 'SYNC sent again, then the start-up went on');
});

t.test('HOLD refused (the device gave up on the note): polls show the rejection; the late decision sends nothing', async (t) => {
  let decide!: (d: EscrowDecision) => void;
  const rejected: { reason: string; code: number }[] = [];
  const { driver, device, logs, returned } = await rig(t, { escrow: () => new Promise((r) => (decide = r)) });
  driver.on('rejected', (r) => rejected.push(r));
  await driver.enable([1000]);
  device.insert(3);
  await until('holding', () => device.count_('hold') > 2);
  device.escrowTimeout();
  await until('rejected', () => rejected.length === 1);
  t.same(rejected, [{ reason: 'escrow time-out', code: 0x13 }]);
  t.ok(logs.some((l) => /HOLD refused/.test(l.msg)));
  const rejects = device.count_('reject');
  decide('return');
  await until('more polls', () => device.count_('poll-ack') > 40);
  t.equal(device.count_('reject'), rejects, 'no REJECT for a note that is gone');
  t.same(returned, []);
});

t.test('a write that fails closes the link; it is reopened and set up again', async (t) => {
  const { driver, device, host } = await rig(t);
  const realWrite = host.write.bind(host);
  let failures = 1;
  host.write = async (bytes) => {
    if (failures-- > 0) throw new Error('EIO');
    return realWrite(bytes);
  };
  const syncs = device.count_('sync');
  await until('set up again', () => device.count_('sync') > syncs && driver.status().health === 'ok');
  t.pass();
});

t.test('a device that stops answering goes offline, comes back, and is set up again', async (t) => {
  const { driver, device, statuses } = await rig(t, {}, { tries: 3 });
  await driver.enable([100, 500, 1000, 2000, 5000, 10000]);
  device.silent = true;
  await until('offline', () => driver.status().health === 'offline');
  t.equal(driver.status().code, 'no-answer');
  t.match(driver.status().detail, /after 3 tries/);
  await t.rejects(driver.enable([1000]), /not ready/);
  await driver.disable();
  await t.rejects(driver.enable([1000, 100]), /not ready/, 'kept for when it is back');
  const syncs = device.count_('sync');
  device.silent = false;
  await until('ok again', () => driver.status().health === 'ok');
  await until('enabled again', () => device.enabled);
  t.equal(device.count_('sync'), syncs + 1, 'start-up sequence redone');
  t.equal(device.count_('key-exchange'), 2, 'with a new key');
  t.equal(device.log.filter((n) => n.startsWith('inhibits')).at(-1), 'inhibits 0500', 'the last enable() asked is applied');
  t.same(
    statuses.map((s) => s.health),
    ['ok', 'offline', 'ok'],
  );
});

t.test('power cycle while running: KEY NOT SET, a new key, power-up reported, settings restored', async (t) => {
  const { driver, device, powerUps, logs } = await rig(t);
  await driver.enable([1000]);
  device.powerCycle();
  await until('new key', () => device.count_('key-exchange') === 2);
  await until('enabled again', () => device.enabled);
  t.same(powerUps, ['none', 'none']);
  t.ok(logs.some((l) => /KEY NOT SET .* negotiating a new key/.test(l.msg)));
  t.equal(driver.status().health, 'ok');
});

t.test('power-up with a note cleared from the front or into the cash box: reported, acknowledged, not credited', async (t) => {
  const credited: (Note | null)[] = [];
  const { driver, device, powerUps, returned } = await rig(t, { credited: (n) => void credited.push(n) });
  await driver.enable([1000]);
  device.powerCycle([0xe1, 0x03]);
  await until('acceptor', () => powerUps.length === 2);
  await until('acknowledged', () => device.count_('event-ack') === 1);
  device.powerCycle([0xe2, 0x05]);
  await until('stacker', () => powerUps.length === 3);
  await until('acknowledged', () => device.count_('event-ack') === 2);
  await until('enabled again', () => device.enabled);
  t.same(powerUps, ['none', 'acceptor', 'stacker'], 'once each, although repeated until acknowledged');
  t.same(credited, [], 'the recovery decides from the journal, as after ID-003 0x41/0x42');
  t.same(returned, []);
  t.equal(driver.status().health, 'ok');
});

t.test('faults map to the ID-003 codes and clear when the events stop', async (t) => {
  const { device, statuses, logs } = await rig(t);
  const cases: [number, string][] = [
    [0xe7, 'stacker-full'],
    [0xe9, 'jam-acceptor'],
    [0xea, 'jam-stacker'],
    [0xe3, 'stacker-open'],
    [0xe0, 'path-open'],
  ];
  for (const [event, code] of cases) {
    device.fault = event;
    await until(code, () => statuses.at(-1)?.code === code);
    device.fault = undefined;
    await until(`${code} cleared`, () => statuses.at(-1)?.code === 'ok');
  }
  device.events.push(0xd2, 0x01, 0x10, 0x27, 0x00, 0x00, 0x43, 0x4e, 0x59);
  device.events.push(0xe6, 0x00);
  await until('fraud', () => statuses.some((s) => s.code === 'cheated'));
  t.ok(logs.some((l) => /payout event from a validator ignored/.test(l.msg)), 'a payout event is skipped, the fraud after it read');
  await until('fraud over', () => statuses.at(-1)?.code === 'ok');
  t.same(
    statuses.map((s) => s.code),
    ['ok', 'stacker-full', 'ok', 'jam-acceptor', 'ok', 'jam-stacker', 'ok', 'stacker-open', 'ok', 'path-open', 'ok', 'cheated', 'ok'],
    'status emitted only on change',
  );
  t.equal(statuses[1]!.health, 'fault');
});

t.test('a device without POLL WITH ACK is polled with POLL; the credit still goes through the hook once', async (t) => {
  const credited: (Note | null)[] = [];
  const { driver, device, logs } = await rig(t, { credited: (n) => void credited.push(n) }, { prepare: (d) => (d.pollWithAckUnknown = true) });
  t.ok(logs.some((l) => /does not know POLL WITH ACK/.test(l.msg)));
  await driver.enable([1000]);
  device.insert(3);
  await until('credited', () => credited.length === 1);
  await until('more polls', () => device.count_('poll') > 20);
  t.same(credited, [TEN_YUAN]);
  t.equal(device.count_('event-ack'), 0);
});

t.test('a closed link is reopened', async (t) => {
  const { driver, device, host } = await rig(t);
  await host.close();
  t.notOk(host.isOpen);
  const polls = device.count_('poll-ack');
  await until('reopened and polling', () => host.isOpen && device.count_('poll-ack') > polls + 5);
  await until('ok', () => driver.status().health === 'ok');
  t.pass();
});

t.test('createEssp: 8N2 serial port; a missing port rejects open() clearly; a bad fixed key is refused', async (t) => {
  const validator = createEssp({ port: '/dev/essp-test-no-such-port', pollIntervalMs: 50, address: 0, fixedKey: '0123456701234567' });
  validator.setHooks({ escrow: () => 'return', credited: () => undefined });
  t.equal(validator.kind, 'bill-validator');
  await t.rejects(validator.open(), /essp-test-no-such-port/);
  t.equal(validator.status().health, 'offline');
  await validator.close();
  t.equal(validator.status().code, 'closed');
  t.equal(parseFixedKey('0123456701234567'), DEFAULT_FIXED_KEY);
  t.throws(() => createEssp({ port: '/dev/null', fixedKey: '12345' }), /16 hex digits/);
});

t.test('close() stops polling and never throws', async (t) => {
  const { driver, device } = await rig(t);
  await driver.close();
  await new Promise((r) => setImmediate(r));
  const seen = device.log.length;
  await new Promise((r) => setTimeout(r, 30));
  t.equal(device.log.length, seen);
  t.equal(driver.status().health, 'offline');
  await driver.close();
});
