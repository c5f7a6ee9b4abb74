import t from 'tap';
import { memoryPair, type MemoryTransport } from '../../drivers/transport/memory.js';
import { Id003Validator } from '../../drivers/id003/driver.js';
import { createId003 } from '../../drivers/id003/index.js';
import type { BillValidatorHooks, DeviceStatus, EscrowDecision, Note } from '../../drivers/types.js';

// Host → device frames the scripted device recognises (hand-computed CRC-16/KERMIT).
const HOST: Record<string, string> = {
  fc05112756: 'status',
  fc05886f5f: 'version',
  fc058a7d7c: 'currency',
  fc05402b15: 'reset',
  fc0541a204: 'stack1',
  fc0543b027: 'return',
  fc0550aa05: 'ack',
  fc07c10000f1ef: 'security',
  fc06c200dccf: 'comm-polled',
  fc07c000002db5: 'enable-all',
  fc07c01e00acba: 'mask-1-and-100',
  fc06c3018dc7: 'inhibit-on',
  fc06c30004d6: 'inhibit-off',
};

// Device → host frames.
const DEV = {
  idling: 'fc 05 11 27 56',
  accepting: 'fc 05 12 bc 64',
  escrow63: 'fc 06 13 63 a2 d8',
  escrow6f: 'fc 06 13 6f ce 12',
  stacking: 'fc 05 14 8a 01',
  vendValid: 'fc 05 15 03 10',
  stacked: 'fc 05 16 98 22',
  rejecting71: 'fc 06 17 71 51 8c',
  returning: 'fc 05 18 e6 cb',
  disabled: 'fc 05 1a f4 e8',
  initialize: 'fc 05 1b 7d f9',
  powerUp: 'fc 05 40 2b 15',
  powerUpBillInAcceptor: 'fc 05 41 a2 04',
  stackerFull: 'fc 05 43 b0 27',
  invalid: 'fc 05 4b f8 ab',
  ack: 'fc 05 50 aa 05',
  version: 'fc 18 88 4a 43 4d 2d 49 44 30 30 33 2d 43 4e 59 20 56 31 2e 30 30 d7 33',
  currency:
    'fc 25 8a 61 9c 01 00 62 9c 05 00 63 9c 01 01 64 9c 02 01 65 9c 05 01 66 9c 01 02 67 00 00 00 68 00 00 00 4b a8',
};
const bytes = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/**
 * A few lines of ID-003 device: it answers each known command with fixed frames and walks a note
 * through escrow, stacking and vend valid. `log` records what the host sent, in order, and the
 * test adds its own markers to it.
 */
class ScriptedDevice {
  /** What a status request gets now, then the queued statuses one poll at a time. */
  state: string;
  next: string[] = [];
  inhibited = true;
  silent = false;
  noisy = false;
  /** This many replies are sent only as a copy with a broken CRC. */
  garble = 0;
  ignoreAcks = 0;

  constructor(
    private readonly end: MemoryTransport,
    initial: string,
    readonly log: string[] = [],
  ) {
    this.state = initial;
    end.on('data', (chunk) => this.receive(chunk));
  }

  get rest(): string {
    return this.inhibited ? DEV.disabled : DEV.idling;
  }

  count(name: string): number {
    return this.log.filter((n) => n === name).length;
  }

  insert(escrow: string): void {
    this.state = escrow;
    this.next = [];
  }

  private receive(chunk: Buffer): void {
    const name = HOST[chunk.toString('hex')] ?? chunk.toString('hex');
    this.log.push(name);
    if (this.silent) return;
    const isSetting = chunk[2]! >= 0xc0 && chunk[2]! <= 0xc7;
    switch (name) {
      case 'status':
        this.reply(this.state);
        if (this.next.length > 0) this.state = this.next.shift()!;
        return;
      case 'version':
        return this.reply(DEV.version);
      case 'currency':
        return this.reply(DEV.currency);
      case 'reset':
        this.inhibited = true;
        this.state = DEV.initialize;
        this.next = [DEV.disabled];
        return this.reply(DEV.ack);
      case 'stack1':
        this.state = DEV.stacking;
        this.next = [DEV.vendValid];
        return this.reply(DEV.ack);
      case 'return':
        this.state = DEV.returning;
        this.next = [DEV.returning, this.rest];
        return this.reply(DEV.ack);
      case 'ack':
        if (this.state === DEV.vendValid) {
          if (this.ignoreAcks > 0) this.ignoreAcks--;
          else {
            this.state = DEV.stacked;
            this.next = [this.rest];
          }
        }
        return;
      case 'inhibit-on':
      case 'inhibit-off':
        this.inhibited = name === 'inhibit-on';
        if (this.state === DEV.idling || this.state === DEV.disabled) this.state = this.rest;
        return this.reply(chunk.toString('hex'));
      default:
        // Other settings (security, comm mode, denomination masks) are simply echoed.
        return this.reply(isSetting ? chunk.toString('hex') : DEV.invalid);
    }
  }

  private reply(frame: string): void {
    if (this.garble > 0) {
      this.garble--;
      const broken = bytes(frame);
      broken[2]! ^= 0x01;
      void this.end.write(broken);
      return;
    }
    if (this.noisy) {
      // Line garbage, then a copy of the frame with a broken CRC, then the frame itself.
      const broken = bytes(frame);
      broken[broken.length - 1]! ^= 0x5a;
      void this.end.write(Buffer.concat([bytes('00 ff 13'), broken]));
    }
    void this.end.write(bytes(frame));
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
  driver: Id003Validator;
  device: ScriptedDevice;
  host: MemoryTransport;
  statuses: DeviceStatus[];
  logs: { level: string; msg: string }[];
}

async function rig(
  t: { teardown(fn: () => unknown): void },
  initial: string,
  hooks: Partial<BillValidatorHooks> = {},
  opts: { open?: boolean; host?: MemoryTransport; deviceEnd?: MemoryTransport; log?: string[] } = {},
): Promise<Rig> {
  const [host, deviceEnd] = opts.host && opts.deviceEnd ? [opts.host, opts.deviceEnd] : memoryPair('id003');
  await deviceEnd.open();
  const device = new ScriptedDevice(deviceEnd, initial, opts.log);
  const logs: { level: string; msg: string }[] = [];
  const driver = new Id003Validator({
    transport: host,
    pollIntervalMs: 2,
    replyTimeoutMs: 40,
    reconnect: { initialMs: 10, maxMs: 40 },
    log: (level, msg) => logs.push({ level, msg }),
  });
  const statuses: DeviceStatus[] = [];
  driver.on('status', (s) => statuses.push(s));
  driver.setHooks({
    escrow: hooks.escrow ?? (() => 'stack'),
    credited: hooks.credited ?? (() => undefined),
  });
  t.teardown(() => driver.close());
  if (opts.open !== false) await guard('open()', driver.open());
  return { driver, device, host, statuses, logs };
}

t.test('start-up: status, version, currency, reset, settings; device left inhibited', async (t) => {
  const powerUps: string[] = [];
  const [host, deviceEnd] = memoryPair('id003');
  const { driver, device } = await rig(t, DEV.powerUp, {}, { open: false, host, deviceEnd });
  driver.on('power-up', (p) => powerUps.push(p.bill));
  await guard('open()', driver.open());

  const sent = device.log.filter((n, i, all) => n !== 'status' || all[i - 1] !== 'status');
  t.same(sent.slice(0, 9), [
    'status',
    'version',
    'currency',
    'reset',
    'status',
    'security',
    'comm-polled',
    'enable-all',
    'inhibit-on',
  ]);
  t.same(powerUps, ['none']);
  t.same(driver.identity(), { kind: 'bill-validator', model: 'JCM ID-003', version: 'JCM-ID003-CNY V1.00' });
  t.same(
    driver.denominations().map((n) => n.value),
    [100, 500, 1000, 2000, 5000, 10000],
  );
  t.same(driver.denominations()[2], { value: 1000, currency: 'CNY', code: 0x63 });
  t.equal(driver.status().health, 'ok');
  t.ok(device.inhibited);
  t.same(driver.capabilities, { hold: true });
});

t.test('open() without hooks is refused', async (t) => {
  const [host] = memoryPair();
  const driver = new Id003Validator({ transport: host });
  await t.rejects(driver.open(), /setHooks/);
  await driver.close();
});

t.test('enable() sends the mask of the notes not listed, then inhibit off', async (t) => {
  const { driver, device } = await rig(t, DEV.disabled);
  await driver.enable([100, 10000]);
  t.same(device.log.slice(-2), ['mask-1-and-100', 'inhibit-off']);
  t.notOk(device.inhibited);
  await driver.disable();
  t.equal(device.log.at(-1), 'inhibit-on');
  t.ok(device.inhibited);
});

t.test('escrow → stack → vend valid: hooks asked once, ACK only after credited resolves', async (t) => {
  const escrowed: Note[] = [];
  const credited: (Note | null)[] = [];
  let releaseEscrow!: (d: EscrowDecision) => void;
  let releaseCredit!: () => void;
  const { driver, device } = await rig(t, DEV.disabled, {
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
  device.insert(DEV.escrow63);

  await until('escrow hook', () => escrowed.length === 1);
  const polls = device.count('status');
  await until('more escrow polls while the hook is pending', () => device.count('status') > polls + 5);
  t.equal(escrowed.length, 1, 'escrow asked once although the device kept reporting escrow');
  t.equal(device.count('stack1'), 0, 'nothing sent before the decision');
  releaseEscrow('stack');

  await until('credited hook', () => credited.length === 1);
  const vendPolls = device.count('status');
  await until('vend-valid polls while crediting', () => device.count('status') > vendPolls + 5);
  t.equal(device.count('ack'), 0, 'no ACK while the credit is pending');
  device.log.push('credit-resolved');
  releaseCredit();

  await until('ACK', () => device.count('ack') === 1);
  await until('back to idling', () => device.state === DEV.idling);
  t.ok(device.log.indexOf('ack') > device.log.indexOf('credit-resolved'), 'ACK written after the hook resolved');
  t.equal(device.count('stack1'), 1);
  t.same(escrowed, [{ value: 1000, currency: 'CNY', code: 0x63 }]);
  t.same(credited, [{ value: 1000, currency: 'CNY', code: 0x63 }]);
});

t.test('escrow → return: Return sent, returned emitted, nothing credited', async (t) => {
  const credited: (Note | null)[] = [];
  const returned: (Note | null)[] = [];
  const { driver, device } = await rig(t, DEV.disabled, {
    escrow: () => 'return',
    credited: (n) => void credited.push(n),
  });
  driver.on('returned', (n) => returned.push(n));
  await driver.enable([1000]);
  device.insert(DEV.escrow63);
  await until('returned event', () => returned.length === 1);
  t.same(returned, [{ value: 1000, currency: 'CNY', code: 0x63 }]);
  t.equal(device.count('return'), 1);
  t.equal(device.count('stack1'), 0);
  t.same(credited, []);
});

t.test('a rejecting escrow hook counts as return; an unknown escrow code is returned unasked', async (t) => {
  let asked = 0;
  const { driver, device } = await rig(t, DEV.disabled, {
    escrow: () => {
      asked++;
      throw new Error('journal unavailable');
    },
  });
  await driver.enable([1000]);
  device.insert(DEV.escrow63);
  await until('return after hook failure', () => device.count('return') === 1);
  await until('idle', () => device.state === DEV.idling);
  device.insert(DEV.escrow6f);
  await until('return of the unknown note', () => device.count('return') === 2);
  t.equal(asked, 1, 'the hook is not asked about a code missing from the 0x8A table');
});

t.test('first status vend valid (host restarted): credited(null), then ACK, then reset', async (t) => {
  const credited: (Note | null)[] = [];
  const log: string[] = [];
  await rig(
    t,
    DEV.vendValid,
    {
      credited: (n) => {
        credited.push(n);
        log.push('credited');
      },
    },
    { log },
  );
  t.same(credited, [null]);
  t.ok(log.indexOf('credited') < log.indexOf('ack'), 'credited before ACK');
  t.ok(log.indexOf('ack') < log.indexOf('reset'), 'ACK before reset');
});

t.test('first status escrow (host restarted): the hook decides before reset', async (t) => {
  const escrowed: Note[] = [];
  const credited: (Note | null)[] = [];
  const { device } = await rig(t, DEV.escrow63, {
    escrow: (n) => {
      escrowed.push(n);
      return 'stack';
    },
    credited: (n) => void credited.push(n),
  });
  t.same(escrowed.map((n) => n.value), [1000]);
  t.same(credited.map((n) => n?.value), [1000]);
  const log = device.log;
  t.ok(log.indexOf('stack1') < log.indexOf('ack') && log.indexOf('ack') < log.indexOf('reset'));
});

t.test('a rejected credited hook means no ACK, and it is asked again', async (t) => {
  const calls: (Note | null)[] = [];
  const { driver, device, logs } = await rig(t, DEV.disabled, {
    credited: (n) => {
      calls.push(n);
      if (calls.length === 1) return Promise.reject(new Error('disk full'));
      device.log.push('credit-ok');
    },
  });
  await driver.enable([1000]);
  device.insert(DEV.escrow63);
  await until('second credit attempt', () => calls.length === 2);
  await until('ACK', () => device.count('ack') === 1);
  t.ok(device.log.indexOf('ack') > device.log.indexOf('credit-ok'), 'no ACK before a credit succeeded');
  t.same(calls.map((n) => n?.value), [1000, 1000]);
  t.ok(logs.some((l) => l.level === 'error' && /credit hook failed/.test(l.msg)));
});

t.test('a lost ACK is repeated without crediting the note twice', async (t) => {
  let credits = 0;
  const { driver, device } = await rig(t, DEV.disabled, { credited: () => void credits++ });
  await driver.enable([1000]);
  device.ignoreAcks = 2;
  device.insert(DEV.escrow63);
  await until('ACK accepted at the third try', () => device.count('ack') === 3);
  await until('idle', () => device.state === DEV.idling);
  t.equal(credits, 1);
});

t.test('rejecting status emits rejected with the reason', async (t) => {
  const rejected: { reason: string; code: number }[] = [];
  const { driver, device } = await rig(t, DEV.disabled);
  driver.on('rejected', (r) => rejected.push(r));
  device.state = DEV.rejecting71;
  device.next = [DEV.rejecting71, DEV.rejecting71, DEV.disabled];
  await until('rejected event', () => rejected.length > 0 && device.state === DEV.disabled);
  t.same(rejected, [{ reason: 'insertion error', code: 0x71 }], 'once per rejection, not once per poll');
});

t.test('a power-up seen while running is reported and followed by a new start-up', async (t) => {
  const { driver, device } = await rig(t, DEV.disabled);
  const powerUps: string[] = [];
  driver.on('power-up', (p) => powerUps.push(p.bill));
  await driver.enable([1000]);
  const resets = device.count('reset');
  const inhibitOffs = device.count('inhibit-off');
  device.state = DEV.powerUpBillInAcceptor;
  await until('reset again', () => device.count('reset') > resets);
  await until('set up again', () => device.count('inhibit-off') > inhibitOffs);
  t.same(powerUps, ['acceptor'], 'reported once although polled several times');
  t.notOk(device.inhibited, 'the enable state is restored after the new start-up');
});

t.test('a device that stops answering goes offline, comes back, and is set up again', async (t) => {
  const { driver, device, statuses } = await rig(t, DEV.disabled);
  await driver.enable([1000, 100, 500, 2000, 5000, 10000]);
  device.silent = true;
  await until('offline', () => driver.status().health === 'offline');
  t.equal(driver.status().code, 'no-answer');
  await t.rejects(driver.enable([1000]), /not ready/);
  const resets = device.count('reset');
  const inhibitOffs = device.count('inhibit-off');
  device.silent = false;
  await until('ok again', () => driver.status().health === 'ok');
  await until('set up again', () => device.count('inhibit-off') > inhibitOffs);
  t.equal(device.count('reset'), resets + 1, 'start-up sequence redone');
  t.notOk(device.inhibited, 'the enable state asked last is applied again');
  t.same(
    statuses.map((s) => s.health),
    ['ok', 'offline', 'ok'],
  );
});

t.test('a closed link is reopened', async (t) => {
  const { driver, device, host } = await rig(t, DEV.disabled);
  const resets = device.count('reset');
  await host.close();
  await until('reopened and set up', () => host.isOpen && device.count('reset') > resets);
  await until('ok', () => driver.status().health === 'ok');
  t.pass();
});

t.test('open() rejects when the port cannot be opened, and the driver keeps trying', async (t) => {
  const [host, deviceEnd] = memoryPair('id003');
  let failures = 2;
  const realOpen = host.open.bind(host);
  host.open = async () => {
    if (failures-- > 0) throw new Error('cannot open serial port /dev/ttyUSB9: ENOENT');
    return realOpen();
  };
  const { driver } = await rig(t, DEV.disabled, {}, { open: false, host, deviceEnd });
  await t.rejects(driver.open(), /cannot open serial port/);
  t.equal(driver.status().health, 'offline');
  await until('ok after retries', () => driver.status().health === 'ok');
  await guard('second open()', driver.open());
  t.pass('a later open() resolves once ready');
});

t.test('stacker full is a fault that clears itself; the enable state is re-applied', async (t) => {
  const { driver, device, statuses } = await rig(t, DEV.disabled);
  await driver.enable([1000]);
  const inhibitOffs = device.count('inhibit-off');
  device.state = DEV.stackerFull;
  await until('fault', () => driver.status().health === 'fault');
  t.same(driver.status(), { health: 'fault', code: 'stacker-full', detail: 'cash box full' });
  device.state = DEV.disabled;
  await until('ok', () => driver.status().health === 'ok');
  await until('re-applied', () => device.count('inhibit-off') > inhibitOffs);
  t.notOk(device.inhibited);
  t.same(
    statuses.map((s) => s.code),
    ['ok', 'stacker-full', 'ok'],
    'status emitted only on change',
  );
});

t.test('garbage and bad CRC frames on the line are survived', async (t) => {
  const credited: (Note | null)[] = [];
  const { driver, device, logs } = await rig(t, DEV.disabled, { credited: (n) => void credited.push(n) });
  device.noisy = true;
  await driver.enable([1000]);
  device.insert(DEV.escrow63);
  await until('credited', () => credited.length === 1);
  await until('ACK', () => device.count('ack') >= 1);
  await until('idle', () => device.state === DEV.idling);
  t.same(credited.map((n) => n?.value), [1000]);
  t.equal(driver.status().health, 'ok');
  t.ok(logs.some((l) => /discarded bytes/.test(l.msg)), 'line noise is logged');
});

t.test('a garbled reply is retried after the time-out', async (t) => {
  const credited: (Note | null)[] = [];
  const { driver, device, logs } = await rig(t, DEV.disabled, { credited: (n) => void credited.push(n) });
  await driver.enable([1000]);
  device.insert(DEV.escrow63);
  device.garble = 2;
  await until('credited', () => credited.length === 1);
  await until('idle', () => device.state === DEV.idling);
  t.same(credited.map((n) => n?.value), [1000]);
  t.ok(logs.some((l) => /garbled reply/.test(l.msg)));
  t.equal(driver.status().health, 'ok', 'two garbled replies do not make the device silent');
});

t.test('createId003: 8E1 serial port; a missing port rejects open() clearly', async (t) => {
  const validator = createId003({ port: '/dev/id003-test-no-such-port', pollIntervalMs: 50 });
  validator.setHooks({ escrow: () => 'return', credited: () => undefined });
  t.equal(validator.kind, 'bill-validator');
  await t.rejects(validator.open(), /id003-test-no-such-port/);
  t.equal(validator.status().health, 'offline');
  await validator.close();
  t.equal(validator.status().code, 'closed');
});

t.test('close() stops polling and never throws', async (t) => {
  const { driver, device } = await rig(t, DEV.disabled);
  await driver.close();
  await new Promise((r) => setImmediate(r)); // a frame written just before close is still in the pipe
  const seen = device.log.length;
  await new Promise((r) => setTimeout(r, 30));
  t.equal(device.log.length, seen);
  t.equal(driver.status().health, 'offline');
  await driver.close();
});
