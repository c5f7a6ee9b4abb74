import t from 'tap';
import { memoryPair, type MemoryTransport } from '../../drivers/transport/memory.js';
import { CcnetValidator } from '../../drivers/ccnet/driver.js';
import { createCcnet } from '../../drivers/ccnet/index.js';
import type { BillValidatorHooks, DeviceStatus, EscrowDecision, Note } from '../../drivers/types.js';

// Host → device frames the scripted device recognises (CRC-16/KERMIT computed by hand).
const HOST: Record<string, string> = {
  '02030633da81': 'poll',
  '02030600c282': 'ack',
  '020306ffba8d': 'nak',
  '0203063041b3': 'reset',
  '02030635ece4': 'stack',
  '0203063677d6': 'return',
  '02030638093f': 'hold',
  '02030637fec7': 'identification',
  '020306414fd1': 'bill-table',
  '02030c34000000000000170c': 'enable-none',
  '02030c3400003f00003f683b': 'enable-all',
  '02030c3400002100002174af': 'enable-1-and-100',
  '02030c34000004000004df38': 'enable-10',
  '02030c3400002000002046a2': 'enable-100',
};

// Device → host frames.
const DEV = {
  powerUp: '02 03 06 10 43 92',
  powerUpBillInValidator: '02 03 06 11 ca 83',
  powerUpBillInStacker: '02 03 06 12 51 b1',
  initialize: '02 03 06 13 d8 a0',
  idling: '02 03 06 14 67 d4',
  accepting: '02 03 06 15 ee c5',
  stacking: '02 03 06 17 fc e6',
  returning: '02 03 06 18 0b 1e',
  disabled: '02 03 06 19 82 0f',
  holding: '02 03 06 1a 19 3d',
  busy: '02 03 06 1b 90 2c',
  rejecting60: '02 03 07 1c 60 77 e0',
  illegal: '02 03 06 30 41 b3',
  cassetteFull: '02 03 06 41 4f d1',
  cassetteOut: '02 03 06 42 d4 e3',
  validatorJammed: '02 03 06 43 5d f2',
  cassetteJammed: '02 03 06 44 e2 86',
  cheated: '02 03 06 45 6b 97',
  pause: '02 03 06 46 f0 a5',
  failure50: '02 03 07 47 50 ab e6',
  ack: '02 03 06 00 c2 82',
  nak: '02 03 06 ff ba 8d',
  identification:
    '020327534d2d434e3133303120202020202034314b30303031323334353600000000003039e238',
  billTable:
    '02037d0143484e000543484e000143484e010243484e010543484e010143484e02' + '00'.repeat(90) + 'f2ee',
};
const ESCROW: Record<number, string> = { 2: '02 03 07 80 02 9e 10', 5: '02 03 07 80 05 21 64', 9: '02 03 07 80 09 4d ae' };
const STACKED: Record<number, string> = { 2: '02 03 07 81 02 46 09', 5: '02 03 07 81 05 f9 7d' };
const RETURNED: Record<number, string> = { 2: '02 03 07 82 02 2e 23', 5: '02 03 07 82 05 91 57', 9: '02 03 07 82 09 fd 9d' };

const bytes = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const isEvent = (frame: string) => /^020307(81|82)/.test(frame.replace(/\s+/g, ''));

/**
 * A few lines of CCNET validator: it answers each known command with fixed frames and walks a note
 * through escrow, stacking and the bill stacked event, which it repeats until a host ACK follows
 * it. `log` records what the host sent, in order, and the test adds its own markers to it.
 */
class ScriptedDevice {
  /** What a POLL gets now, then the queued states one POLL at a time. */
  state: string;
  next: string[] = [];
  enabled = false;
  silent = false;
  noisy = false;
  /** This many replies are sent only as a copy with a broken CRC. */
  garble = 0;
  /** This many host commands are answered with NAK. */
  nakCommands = 0;
  ignoreAcks = 0;
  /** The note in the path: set by insert(), or read from an initial escrow or event state. */
  billType = 0;
  private last: string | undefined;

  constructor(
    private readonly end: MemoryTransport,
    initial: string,
    readonly log: string[] = [],
  ) {
    this.state = initial;
    const event = /^020307(80|81|82)(..)/.exec(initial.replace(/\s+/g, ''));
    if (event) this.billType = parseInt(event[2]!, 16);
    end.on('data', (chunk) => this.receive(chunk));
  }

  get rest(): string {
    return this.enabled ? DEV.idling : DEV.disabled;
  }

  count(name: string): number {
    return this.log.filter((n) => n === name).length;
  }

  insert(billType: number): void {
    this.billType = billType;
    this.state = ESCROW[billType]!;
    this.next = [];
  }

  private receive(chunk: Buffer): void {
    const name = HOST[chunk.toString('hex')] ?? chunk.toString('hex');
    this.log.push(name);
    if (this.silent) return;
    if (this.nakCommands > 0 && name !== 'ack' && name !== 'nak') {
      this.nakCommands--;
      return this.send(DEV.nak);
    }
    switch (name) {
      case 'poll':
        this.reply(this.state);
        if (this.next.length > 0) this.state = this.next.shift()!;
        return;
      case 'ack':
        if (this.last && isEvent(this.last) && this.state === this.last) {
          if (this.ignoreAcks > 0) this.ignoreAcks--;
          else {
            this.log.push(this.state === STACKED[this.billType] ? 'acked:stacked' : 'acked:returned');
            this.state = this.state === STACKED[this.billType] ? DEV.busy : this.rest;
            this.next = [this.rest];
          }
        }
        return;
      case 'nak':
        if (this.last) this.reply(this.last);
        return;
      case 'identification':
        return this.reply(DEV.identification);
      case 'bill-table':
        return this.reply(DEV.billTable);
      case 'reset':
        this.enabled = false;
        this.state = DEV.initialize;
        this.next = [DEV.disabled];
        return this.reply(DEV.ack);
      case 'hold':
        this.state = DEV.holding;
        return this.reply(DEV.ack);
      case 'stack':
        this.state = DEV.stacking;
        this.next = [STACKED[this.billType]!];
        return this.reply(DEV.ack);
      case 'return':
        this.state = DEV.returning;
        this.next = [RETURNED[this.billType]!];
        return this.reply(DEV.ack);
      case 'enable-none':
      case 'enable-all':
      case 'enable-1-and-100':
      case 'enable-10':
      case 'enable-100':
        this.enabled = name !== 'enable-none';
        if (this.state === DEV.idling || this.state === DEV.disabled) this.state = this.rest;
        return this.reply(DEV.ack);
      default:
        return this.reply(DEV.illegal);
    }
  }

  private reply(frame: string): void {
    this.last = frame;
    if (this.garble > 0) {
      this.garble--;
      const broken = bytes(frame);
      broken[3]! ^= 0x01;
      return this.send(broken.toString('hex'));
    }
    if (this.noisy) {
      // Line garbage, then a copy of the frame with a broken CRC, then the frame itself.
      const broken = bytes(frame);
      broken[broken.length - 1]! ^= 0x5a;
      void this.end.write(Buffer.concat([bytes('00 ff 13'), broken]));
    }
    this.send(frame);
  }

  private send(frame: string): void {
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
  driver: CcnetValidator;
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
  const [host, deviceEnd] = opts.host && opts.deviceEnd ? [opts.host, opts.deviceEnd] : memoryPair('ccnet');
  await deviceEnd.open();
  const device = new ScriptedDevice(deviceEnd, initial, opts.log);
  const logs: { level: string; msg: string }[] = [];
  const driver = new CcnetValidator({
    transport: host,
    pollIntervalMs: 2,
    replyTimeoutMs: 40,
    holdIntervalMs: 20,
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

/** ENABLE BILL TYPES commands that enable something. */
const enables = (device: ScriptedDevice) => device.log.filter((n) => n.startsWith('enable-') && n !== 'enable-none').length;

/** Whether the host's next frame after the i-th one is an ACK. */
const ackedAt = (log: string[], i: number) => log[i + 1] === 'ack';

t.test('start-up: poll, identification, bill table, reset, enable none; every data reply acknowledged', async (t) => {
  const powerUps: string[] = [];
  const [host, deviceEnd] = memoryPair('ccnet');
  const { driver, device } = await rig(t, DEV.powerUp, {}, { open: false, host, deviceEnd });
  driver.on('power-up', (p) => powerUps.push(p.bill));
  await guard('open()', driver.open());

  const commands = device.log.filter((n) => n !== 'ack');
  const sent = commands.filter((n, i, all) => n !== 'poll' || all[i - 1] !== 'poll');
  t.same(sent.slice(0, 6), ['poll', 'identification', 'bill-table', 'reset', 'poll', 'enable-none']);
  device.log.forEach((n, i) => {
    if (['poll', 'identification', 'bill-table'].includes(n)) t.ok(ackedAt(device.log, i), `${n} #${i} acknowledged`);
    if (['reset', 'enable-none'].includes(n)) t.notOk(ackedAt(device.log, i), `the device's ACK to ${n} is not acknowledged`);
  });
  t.same(powerUps, ['none']);
  t.same(driver.identity(), { kind: 'bill-validator', model: 'CashCode CCNET', version: 'SM-CN1301', serial: '41K000123456' });
  t.same(
    driver.denominations().map((n) => n.value),
    [100, 500, 1000, 2000, 5000, 10000],
  );
  t.same(driver.denominations()[2], { value: 1000, currency: 'CNY', code: 2 });
  t.equal(driver.status().health, 'ok');
  t.notOk(device.enabled);
  t.same(driver.capabilities, { hold: true });
});

t.test('open() without hooks is refused', async (t) => {
  const [host] = memoryPair();
  const driver = new CcnetValidator({ transport: host });
  await t.rejects(driver.open(), /setHooks/);
  await driver.close();
});

t.test('enable() sends the enable and escrow masks of the listed notes; disable() clears them', async (t) => {
  const { driver, device } = await rig(t, DEV.disabled);
  await driver.enable([100, 10000]);
  t.equal(device.log.at(-1), 'enable-1-and-100');
  t.ok(device.enabled);
  await driver.enable([100, 500, 1000, 2000, 5000, 10000]);
  t.equal(device.log.at(-1), 'enable-all');
  await driver.disable();
  t.equal(device.log.at(-1), 'enable-none');
  t.notOk(device.enabled);
});

t.test('escrow → HOLD while the hook is pending → stack → bill stacked: ACK only after credited resolves', async (t) => {
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
  device.insert(2);

  await until('escrow hook', () => escrowed.length === 1);
  await until('HOLDs while the hook is pending', () => device.count('hold') >= 2);
  const polls = device.count('poll');
  await until('more polls while the hook is pending', () => device.count('poll') > polls + 5);
  t.equal(escrowed.length, 1, 'escrow asked once although the device kept reporting it');
  t.equal(device.count('stack'), 0, 'nothing decided before the hook resolved');
  t.equal(device.state, DEV.holding, 'the device holds the note');
  releaseEscrow('stack');

  await until('credited hook', () => credited.length === 1);
  const stackedPolls = device.count('poll');
  await until('bill stacked polls while crediting', () => device.count('poll') > stackedPolls + 5);
  const holds = device.count('hold');
  t.equal(device.count('acked:stacked'), 0, 'the bill stacked reply is not acknowledged while the credit is pending');
  device.log.push('credit-resolved');
  releaseCredit();

  await until('ACK', () => device.count('acked:stacked') === 1);
  await until('back to idling', () => device.state === DEV.idling);
  t.ok(device.log.indexOf('acked:stacked') > device.log.indexOf('credit-resolved'), 'ACK written after the hook resolved');
  t.equal(device.count('stack'), 1);
  t.equal(device.count('hold'), holds, 'no HOLD once decided');
  t.same(escrowed, [{ value: 1000, currency: 'CNY', code: 2 }]);
  t.same(credited, [{ value: 1000, currency: 'CNY', code: 2 }]);
});

t.test('escrow → return: RETURN sent, returned emitted once, nothing credited', async (t) => {
  const credited: (Note | null)[] = [];
  const returned: (Note | null)[] = [];
  const { driver, device } = await rig(t, DEV.disabled, {
    escrow: () => 'return',
    credited: (n) => void credited.push(n),
  });
  driver.on('returned', (n) => returned.push(n));
  await driver.enable([10000]);
  device.ignoreAcks = 2;
  device.insert(5);
  await until('back to idle', () => device.count('return') === 1 && device.state === DEV.idling);
  t.same(returned, [{ value: 10000, currency: 'CNY', code: 5 }], 'once, although the bill returned event was repeated');
  t.equal(device.count('stack'), 0);
  t.same(credited, []);
});

t.test('a rejecting escrow hook counts as return; an unknown bill type is returned unasked', async (t) => {
  let asked = 0;
  const returned: (Note | null)[] = [];
  const { driver, device } = await rig(t, DEV.disabled, {
    escrow: () => {
      asked++;
      throw new Error('journal unavailable');
    },
  });
  driver.on('returned', (n) => returned.push(n));
  await driver.enable([1000]);
  device.insert(2);
  await until('return after hook failure', () => device.count('return') === 1);
  await until('idle', () => device.state === DEV.idling);
  device.insert(9);
  await until('return of the unknown note', () => device.count('return') === 2);
  await until('idle again', () => device.state === DEV.idling);
  t.equal(asked, 1, 'the hook is not asked about a bill type missing from the bill table');
  t.same(returned.map((n) => n?.value ?? null), [1000, null]);
});

t.test('first state bill stacked (host restarted): credited(null), then ACK, then reset', async (t) => {
  const credited: (Note | null)[] = [];
  const log: string[] = [];
  await rig(
    t,
    STACKED[2]!,
    {
      credited: (n) => {
        credited.push(n);
        log.push('credited');
      },
    },
    { log },
  );
  t.same(credited, [null]);
  t.same(log.slice(0, 2), ['poll', 'identification'], 'the first reply, bill stacked, is not acknowledged at once');
  t.ok(log.indexOf('credited') < log.indexOf('acked:stacked'), 'credited before the ACK of the bill stacked reply');
  t.ok(log.indexOf('acked:stacked') < log.indexOf('reset'), 'ACK before reset');
});

t.test('first state escrow (host restarted): the hook decides before reset', async (t) => {
  const escrowed: Note[] = [];
  const credited: (Note | null)[] = [];
  const { device } = await rig(t, ESCROW[2]!, {
    escrow: (n) => {
      escrowed.push(n);
      return 'stack';
    },
    credited: (n) => void credited.push(n),
  });
  t.same(escrowed.map((n) => n.value), [1000]);
  t.same(credited.map((n) => n?.value), [1000]);
  const log = device.log;
  t.ok(log.indexOf('stack') < log.indexOf('reset'));
});

t.test('first state holding (host restarted, bill type unknown): the note is returned before reset', async (t) => {
  const escrowed: Note[] = [];
  const { driver, device } = await rig(
    t,
    DEV.holding,
    {
      escrow: (n) => {
        escrowed.push(n);
        return 'stack';
      },
    },
    { open: false },
  );
  device.billType = 2;
  await guard('open()', driver.open());
  t.ok(device.log.indexOf('return') >= 0 && device.log.indexOf('return') < device.log.indexOf('reset'));
  t.same(escrowed, [], 'nothing to ask about: the note is not known');
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
  device.insert(2);
  await until('second credit attempt', () => calls.length === 2);
  await until('idle', () => device.state === DEV.idling);
  t.equal(device.count('acked:stacked'), 1);
  t.ok(device.log.indexOf('acked:stacked') > device.log.indexOf('credit-ok'), 'no ACK before a credit succeeded');
  t.same(calls.map((n) => n?.value), [1000, 1000]);
  t.ok(logs.some((l) => l.level === 'error' && /credit hook failed/.test(l.msg)));
});

t.test('a lost ACK of bill stacked is repeated without crediting the note twice', async (t) => {
  let credits = 0;
  const { driver, device } = await rig(t, DEV.disabled, { credited: () => void credits++ });
  await driver.enable([1000]);
  device.ignoreAcks = 2;
  device.insert(2);
  await until('idle after the third ACK', () => device.state === DEV.idling);
  t.equal(credits, 1);
});

t.test('rejecting emits rejected with the reason, once per rejection', async (t) => {
  const rejected: { reason: string; code: number }[] = [];
  const { driver, device } = await rig(t, DEV.disabled);
  driver.on('rejected', (r) => rejected.push(r));
  device.state = DEV.accepting;
  device.next = [DEV.rejecting60, DEV.rejecting60, DEV.rejecting60, DEV.disabled];
  await until('rejected event', () => rejected.length > 0 && device.state === DEV.disabled);
  t.same(rejected, [{ reason: 'insertion error', code: 0x60 }]);
});

for (const [state, bill] of [
  [DEV.powerUpBillInValidator, 'acceptor'],
  [DEV.powerUpBillInStacker, 'stacker'],
] as const) {
  t.test(`power up with a bill (${bill}) while running: reported once, then a new start-up`, async (t) => {
    const credited: (Note | null)[] = [];
    const { driver, device } = await rig(t, DEV.disabled, { credited: (n) => void credited.push(n) });
    const powerUps: string[] = [];
    driver.on('power-up', (p) => powerUps.push(p.bill));
    await driver.enable([1000]);
    const resets = device.count('reset');
    const before = enables(device);
    device.state = state;
    await until('reset again', () => device.count('reset') > resets);
    await until('set up again', () => enables(device) > before);
    t.same(powerUps, [bill], 'reported once although polled several times');
    t.ok(device.enabled, 'the enable state is restored after the new start-up');
    t.same(credited, [], 'nothing credited by the driver: the runtime decides from the power-up report');
  });
}

t.test("a NAK from the device makes the driver send the command again", async (t) => {
  const { driver, device, logs } = await rig(t, DEV.disabled);
  await driver.enable([1000]);
  const from = device.log.length;
  device.nakCommands = 2;
  await until('two NAKs and a good exchange', () => device.log.slice(from).filter((n) => n === 'ack').length >= 1);
  t.same(device.log.slice(from, from + 4), ['poll', 'poll', 'poll', 'ack'], 'the same POLL three times, then its reply ACKed');
  t.ok(logs.some((l) => /device answered NAK/.test(l.msg)));
  t.equal(driver.status().health, 'ok');
});

t.test('a garbled reply is answered with NAK and the repeat is used', async (t) => {
  const credited: (Note | null)[] = [];
  const { driver, device, logs } = await rig(t, DEV.disabled, { credited: (n) => void credited.push(n) });
  await driver.enable([1000]);
  const from = device.log.length;
  device.garble = 2;
  device.insert(2);
  await until('credited', () => credited.length === 1);
  await until('idle', () => device.state === DEV.idling);
  t.same(device.log.slice(from, from + 3), ['poll', 'nak', 'nak'], 'NAK twice, no re-sent POLL');
  t.same(credited.map((n) => n?.value), [1000]);
  t.ok(logs.some((l) => /bad CRC; NAK sent/.test(l.msg)));
  t.equal(driver.status().health, 'ok');
});

t.test('NAKs until the retries run out make the device offline', async (t) => {
  const { driver, device } = await rig(t, DEV.disabled);
  device.nakCommands = 1000;
  await until('offline', () => driver.status().health === 'offline');
  t.match(driver.status().detail, /after 4 tries/);
  device.nakCommands = 0;
  await until('ok again', () => driver.status().health === 'ok');
});

t.test('a device that stops answering goes offline, comes back, and is set up again', async (t) => {
  const { driver, device, statuses } = await rig(t, DEV.disabled);
  await driver.enable([100, 10000]);
  device.silent = true;
  await until('offline', () => driver.status().health === 'offline');
  t.equal(driver.status().code, 'no-answer');
  await t.rejects(driver.enable([1000]), /not ready/);
  await driver.enable([100, 10000]).catch(() => undefined);
  const resets = device.count('reset');
  const enables = device.count('enable-1-and-100');
  device.silent = false;
  await until('ok again', () => driver.status().health === 'ok');
  await until('set up again', () => device.count('enable-1-and-100') > enables);
  t.equal(device.count('reset'), resets + 1, 'start-up sequence redone');
  t.ok(device.enabled, 'the enable state asked last is applied again');
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
  const [host, deviceEnd] = memoryPair('ccnet');
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

t.test('faults 0x41–0x47 map to the same status codes as the ID-003 driver', async (t) => {
  const { driver, device } = await rig(t, DEV.disabled);
  const cases: [string, DeviceStatus][] = [
    [DEV.cassetteFull, { health: 'fault', code: 'stacker-full', detail: 'cash box full' }],
    [DEV.cassetteOut, { health: 'fault', code: 'stacker-open', detail: 'cash box removed or out of position' }],
    [DEV.validatorJammed, { health: 'fault', code: 'jam-acceptor', detail: 'note jammed in the validator' }],
    [DEV.cassetteJammed, { health: 'fault', code: 'jam-stacker', detail: 'note jammed in the cash box' }],
    [DEV.cheated, { health: 'fault', code: 'cheated', detail: 'the device detected a cheat attempt' }],
    [DEV.pause, { health: 'degraded', code: 'pause', detail: 'paused: a second note was inserted' }],
    [DEV.failure50, { health: 'fault', code: 'failure', detail: 'stack motor failure (0x50)' }],
  ];
  for (const [state, want] of cases) {
    device.state = state;
    await until(want.code, () => driver.status().code === want.code);
    t.same(driver.status(), want, want.code);
    device.state = DEV.disabled;
    await until('ok', () => driver.status().health === 'ok');
  }
});

t.test('stacker full is a fault that clears itself; the enable state is re-applied', async (t) => {
  const { driver, device, statuses } = await rig(t, DEV.disabled);
  await driver.enable([1000]);
  const before = enables(device);
  device.state = DEV.cassetteFull;
  await until('fault', () => driver.status().health === 'fault');
  device.enabled = false;
  device.state = DEV.disabled;
  await until('ok', () => driver.status().health === 'ok');
  await until('re-applied', () => device.enabled);
  t.equal(enables(device), before + 1, 'ENABLE BILL TYPES sent again');
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
  device.insert(2);
  await until('credited', () => credited.length === 1);
  await until('idle', () => device.state === DEV.idling);
  t.same(credited.map((n) => n?.value), [1000]);
  t.equal(driver.status().health, 'ok');
  t.equal(device.count('nak'), 0, 'noise followed at once by the good reply is not NAKed');
  t.ok(logs.some((l) => /discarded bytes/.test(l.msg)), 'line noise is logged');
});

t.test('createCcnet: a missing port rejects open() clearly', async (t) => {
  const validator = createCcnet({ port: '/dev/ccnet-test-no-such-port', pollIntervalMs: 50 });
  validator.setHooks({ escrow: () => 'return', credited: () => undefined });
  t.equal(validator.kind, 'bill-validator');
  await t.rejects(validator.open(), /ccnet-test-no-such-port/);
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
