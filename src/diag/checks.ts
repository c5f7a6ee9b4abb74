/**
 * One check per device class, run by a technician before the kiosk goes into service. Each check
 * opens the device through its production driver, walks through a fixed list of steps and always
 * closes it again; a whole check is bounded in time, so a device that stops answering is reported
 * rather than waited for.
 */
import type { EventEmitter } from 'node:events';
import type {
  BillValidator,
  CardReader,
  CoinAcceptor,
  CoinHopper,
  Device,
  DeviceIdentity,
  DeviceKind,
  DeviceStatus,
  Note,
  PaymentTerminal,
  Printer,
  Receipt,
} from '../../drivers/types.js';
import { formatTime } from '../../drivers/time.js';
import { healthProblem } from './health.js';
import { STOP_SERVICE } from './service.js';

export type StepOutcome = 'ok' | 'failed' | 'skipped';

export interface StepReport {
  name: string;
  outcome: StepOutcome;
  detail: string;
  ms: number;
}

export type Fact = string | number | boolean | string[] | number[];

export interface DeviceReport {
  /** Configuration name: validator, coin, a hopper's name, printer. */
  name: string;
  kind: DeviceKind;
  /** Where it was looked for, e.g. /dev/ttyUSB0. */
  port: string;
  identity: DeviceIdentity & { category?: string };
  /** The device's health as the driver saw it just before closing. */
  status: DeviceStatus;
  /** What the steps read from the device, for tools reading the JSON report. */
  facts: Record<string, Fact>;
  steps: StepReport[];
  /** No step failed. */
  ok: boolean;
  ms: number;
}

export interface StepProgress {
  device: string;
  /** 1-based. */
  index: number;
  total: number;
  step: string;
}

export interface CheckOptions {
  name: string;
  port: string;
  /** The whole check, open to health. Default 15 s. */
  timeoutMs?: number;
  /** Hoppers: pay one real coin. */
  payout?: boolean;
  /** Printers: print a test page. */
  print?: boolean;
  /** Scanners: wait for one test code, shown by the technician within the check's time-out. */
  scan?: boolean;
  /** Printed on the test page. */
  terminalId?: string;
  /** The time zone of the test page's time (the configuration's `timeZone`). */
  timeZone?: string;
  /** Hoppers: the value of one coin in fen, when known (the configuration, or --coin). */
  coinValue?: number;
  /** How long the health step waits for the device to settle. Default 600 ms. */
  settleMs?: number;
  /** The equipment category the driver verifies before its open() resolves, when it does. */
  category?: string;
  now?: () => Date;
  onStep?: (progress: StepProgress) => void;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 15_000;
/** close() stops polling and releases the port; a driver that takes longer than this is reported. */
const CLOSE_LIMIT_MS = 5_000;

/** A step that did not apply this time (not asked for, or nothing to do). */
export class Skip {
  constructor(readonly reason: string) {}
}

export interface Step {
  name: string;
  run(): Promise<string | Skip>;
}

export type Facts = Record<string, Fact>;

export async function checkBillValidator(validator: BillValidator, opts: CheckOptions): Promise<DeviceReport> {
  const facts: Facts = {};
  const stacked: (Note | null)[] = [];
  // Diagnostics never take money: a note inserted meanwhile is handed back. A note the validator
  // still held from before may reach its credit point anyway; it is acknowledged (else the device
  // repeats VEND VALID for ever) and reported, since no transaction journals it.
  validator.setHooks({
    escrow: () => 'return',
    credited: (note) => {
      stacked.push(note);
    },
  });
  return runCheck(validator, opts, facts, [
    openStep(validator, 'ID-003 start-up done: reset, configured, inhibited'),
    {
      name: 'identity',
      run: async () => {
        const id = validator.identity();
        if (!id.version) throw new Error('no version string: the validator refused the version request (0x88)');
        facts.version = id.version;
        return `${id.model}, version ${id.version}`;
      },
    },
    {
      name: 'denominations',
      run: async () => {
        const notes = validator.denominations();
        if (notes.length === 0) throw new Error('the denomination table (0x8A) lists no usable note');
        facts.notes = notes.map((n) => n.value);
        return `${notes.length} notes: ${notes.map((n) => `${n.currency} ${money(n.value)}`).join(', ')}`;
      },
    },
    {
      name: 'enable / disable',
      run: async () => {
        await validator.enable(validator.denominations().map((n) => n.value));
        await validator.disable();
        return 'inhibit off, then on again: both echoed by the validator';
      },
    },
    healthStep(validator, opts, () => {
      if (stacked.length === 0) return undefined;
      const what = stacked.map((n) => (n ? `${n.currency} ${money(n.value)}` : 'a note of unknown value')).join(', ');
      return `stacked during the check, outside any transaction: ${what}; count it at cash-up`;
    }),
  ]);
}

export async function checkCoinAcceptor(acceptor: CoinAcceptor, opts: CheckOptions): Promise<DeviceReport> {
  const facts: Facts = {};
  return runCheck(acceptor, opts, facts, [
    openStep(acceptor, 'answered, category checked, inhibited'),
    {
      name: 'identity',
      run: async () => {
        const id = acceptor.identity();
        if (id.serial === undefined) throw new Error('no serial number');
        facts.serial = id.serial;
        if (opts.category) facts.category = opts.category;
        return [opts.category ? `category ${opts.category}` : id.model, `serial ${id.serial}`].join(', ');
      },
    },
    {
      name: 'enable / disable',
      run: async () => {
        const coins = acceptor.coins();
        if (coins.length === 0) throw new Error('the acceptor reports no coins it can take');
        facts.coins = coins.map((c) => c.value);
        await acceptor.enable(coins.map((c) => c.value));
        await acceptor.disable();
        return `coins ${coins.map((c) => money(c.value)).join(', ')} enabled, then inhibited again`;
      },
    },
    healthStep(acceptor, opts),
  ]);
}

export async function checkHopper(hopper: CoinHopper, opts: CheckOptions): Promise<DeviceReport> {
  const facts: Facts = {};
  let running = 0;
  return runCheck(hopper, opts, facts, [
    openStep(hopper, 'answered, category and serial checked, enabled'),
    {
      name: 'identity',
      run: async () => {
        const id = hopper.identity();
        if (id.serial === undefined) throw new Error('no serial number');
        facts.serial = id.serial;
        if (opts.category) facts.category = opts.category;
        return [opts.category ? `category ${opts.category}` : id.model, `serial ${id.serial}`].join(', ');
      },
    },
    {
      name: 'self-test',
      run: async () => {
        const flags = await hopper.selfTest();
        facts.flags = flags;
        // The driver turns the flags it cannot pay through into a fault; the others (a power-up
        // seen, payout disabled until enabled again) it clears by itself.
        const status = hopper.status();
        if (status.health === 'fault') throw new Error(`${flags.join(', ')} (${status.code})`);
        return flags.length === 0 ? 'no flags' : `flags: ${flags.join(', ')} (no fault)`;
      },
    },
    {
      name: 'counters',
      run: async () => {
        const s = await hopper.readStatus();
        Object.assign(facts, { event: s.event, remaining: s.remaining, paid: s.paid, unpaid: s.unpaid });
        running = s.remaining;
        const last = `last payout: ${s.paid} paid, ${s.unpaid} unpaid`;
        if (s.remaining > 0) return `event ${s.event}, a payout is running (${s.remaining} coins to go); ${last}`;
        return `event ${s.event}, idle; ${last}`;
      },
    },
    {
      name: 'payout of one coin',
      run: async () => {
        if (!opts.payout) return new Skip('not asked (--payout): a real coin leaves the machine');
        if (running > 0) throw new Error('a payout is already running; not adding one');
        const { event } = await hopper.dispense(1);
        const { paid, unpaid } = await hopper.awaitPayout(event);
        Object.assign(facts, { testPaid: paid, testUnpaid: unpaid });
        if (paid !== 1 || unpaid !== 0) throw new Error(`asked 1 coin: ${paid} paid, ${unpaid} unpaid (event ${event})`);
        const value = opts.coinValue !== undefined ? `of ${money(opts.coinValue)} ` : '(of a value not known here: give --coin <fen>) ';
        return `1 coin ${value}paid (event ${event})`;
      },
    },
    healthStep(hopper, opts),
  ]);
}

export async function checkPrinter(printer: Printer, opts: CheckOptions): Promise<DeviceReport> {
  const facts: Facts = {};
  const now = opts.now ?? (() => new Date());
  return runCheck(printer, opts, facts, [
    openStep(printer, 'initialised, status read'),
    {
      name: 'paper and cover',
      run: async () => {
        const s = printer.status();
        if (s.health === 'offline') throw new Error(`no answer: ${s.detail}`);
        const { paper, cover } = paperAndCover(s);
        Object.assign(facts, { paper, cover });
        const line = `paper ${paper}, cover ${cover}`;
        if (s.health === 'fault') throw new Error(`${line}: ${s.detail}`);
        return line;
      },
    },
    {
      name: 'test page',
      run: async () => {
        if (!opts.print) return new Skip('not asked (--print)');
        await printer.print(testPage(opts.terminalId ?? 'unknown terminal', now(), opts.timeZone));
        return 'printed and cut; status after the job is fine';
      },
    },
    healthStep(printer, opts),
  ]);
}

export async function checkCardReader(reader: CardReader, opts: CheckOptions): Promise<DeviceReport> {
  const facts: Facts = {};
  return runCheck(reader, opts, facts, [
    openStep(reader, 'reader found and listening'),
    {
      name: 'identity',
      run: async () => {
        const id = reader.identity();
        facts.presence = reader.capabilities.presence;
        return `${id.model}, ${reader.capabilities.presence ? 'reports a card inserted and removed' : 'swipe only'}`;
      },
    },
    {
      name: 'enable / disable',
      run: async () => {
        await reader.enable();
        await reader.disable();
        return 'reads turned on, then off again';
      },
    },
    healthStep(reader, opts),
  ]);
}

export async function checkPaymentTerminal(terminal: PaymentTerminal, opts: CheckOptions): Promise<DeviceReport> {
  return runCheck(terminal, opts, {}, [
    openStep(terminal, 'connected and registered'),
    {
      name: 'identity',
      run: async () => {
        const id = terminal.identity();
        return [id.model, id.version ? `version ${id.version}` : undefined, id.serial ? `serial ${id.serial}` : undefined].filter(Boolean).join(', ');
      },
    },
    healthStep(terminal, opts),
  ]);
}

/** The page a technician tears off to see text, Chinese characters, the QR code and the cutter. */
export function testPage(terminalId: string, at: Date, timeZone?: string): Receipt {
  const stamp = at.toISOString();
  return {
    lines: [
      { text: 'TEST PAGE / 测试页', align: 'center', emphasis: true },
      { text: `terminal ${terminalId}`, align: 'center' },
      { text: formatTime(at, timeZone), align: 'center' },
      { text: 'kiosk diag: text, 中文, QR and cut' },
    ],
    qr: `diag ${terminalId} ${stamp}`,
  };
}

/**
 * The status code says the first thing wrong, paper before cover (the summary of DLE EOT 1..4), so
 * with the paper out the cover state is not known.
 */
function paperAndCover(s: DeviceStatus): { paper: string; cover: string } {
  const paper = s.code === 'paper-out' ? 'out' : s.code === 'paper-near-end' ? 'near end' : 'ok';
  const cover = s.code === 'cover-open' ? 'open' : s.code === 'paper-out' ? 'not known' : 'closed';
  return { paper, cover };
}

export function openStep(device: Device<any>, done: string): Step {
  return {
    name: 'open',
    run: async () => {
      try {
        await device.open();
      } catch (err) {
        throw new Error(openFailure(err, device.status()));
      }
      return done;
    },
  };
}

/** Tells the technician which of the two usual problems it is: the wrong path or a silent device. */
function openFailure(err: unknown, status: DeviceStatus): string {
  const message = (err as Error).message;
  if (/cannot lock port|resource temporarily unavailable/i.test(message)) {
    return `the port is in use by another program, most likely the kiosk service: stop it (${STOP_SERVICE}), or run kiosk diag --config to have the running service test its devices (${message})`;
  }
  if (/cannot open/i.test(message)) return `cannot open: ${message}`;
  if (status.health === 'offline') return `no answer: ${message}`;
  return message;
}

/**
 * The last step of every check. A driver reports a fault at its next poll, not at once (an ID-003
 * validator answers 'initialising' right after its reset, and only then 'stacker open'), so the
 * step waits for the device to settle before it reads the health. Anything short of ready fails
 * it, and so does a fault that came and went during the check: a technician signs off on this.
 */
export function healthStep(device: Device<any>, opts: CheckOptions, extra?: () => string | undefined): Step {
  return {
    name: 'health',
    run: async () => {
      const settled = await settle(device, opts.settleMs ?? SETTLE_MS);
      const problem = extra?.();
      if (problem) throw new Error(problem);
      const s = device.status();
      const earlier = (SEEN.get(device) ?? []).filter((x) => x.health === 'fault' && x.code !== s.code);
      const also = earlier.length > 0 ? `; during the check also ${[...new Set(earlier.map(statusText))].join(', ')}` : '';
      const wrong = healthProblem(s);
      if (wrong) throw new Error(`${wrong}${s.health === 'degraded' && !settled ? `, still after ${seconds(SETTLE_LIMIT_MS)}` : ''}${also}`);
      if (earlier.length > 0) throw new Error(`ready now, but reported during the check: ${[...new Set(earlier.map(statusText))].join(', ')}`);
      return `${s.health}: ${s.detail}`;
    },
  };
}

function statusText(s: DeviceStatus): string {
  return `${s.code} (${s.detail})`;
}

/** Every status each device's driver reported during its check, filled by runCheck. */
const SEEN = new WeakMap<Device<any>, DeviceStatus[]>();

/** How long the health step watches the device before reading it, and at most while it keeps changing. */
const SETTLE_MS = 600;
const SETTLE_LIMIT_MS = 3_000;

/**
 * Waits `quietMs`, then on while the device is not ready and its status changed within the last
 * `quietMs` (it is still on its way somewhere), up to SETTLE_LIMIT_MS. Resolves false at the limit.
 */
async function settle(device: Device<any>, quietMs: number): Promise<boolean> {
  let changed = Date.now();
  const onStatus = () => (changed = Date.now());
  (device as unknown as EventEmitter).on('status', onStatus);
  const started = Date.now();
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, Math.min(quietMs, 100)));
      const now = Date.now();
      if (now - started < quietMs) continue;
      const s = device.status();
      if (s.health === 'ok' && now - changed >= quietMs) return true;
      if (s.health !== 'ok' && now - changed >= quietMs && s.code !== 'initializing') return true;
      if (now - started >= SETTLE_LIMIT_MS) return false;
    }
  } finally {
    (device as unknown as EventEmitter).off('status', onStatus);
  }
}

/** Integer fen as yuan with two decimals, by integer arithmetic. */
export function money(fen: number): string {
  return `${Math.trunc(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

const TIMED_OUT = Symbol('timed out');

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, ms));
  });
  // A step abandoned at the deadline may still fail later, when close() cuts it short.
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

export async function runCheck(device: Device<any>, opts: CheckOptions, facts: Facts, steps: Step[]): Promise<DeviceReport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const started = Date.now();
  const deadline = started + timeoutMs;
  const reports: StepReport[] = [];
  const total = steps.length + 1;
  const seen: DeviceStatus[] = [];
  SEEN.set(device, seen);
  const onStatus = (s: DeviceStatus) => seen.push(s);
  (device as unknown as EventEmitter).on('status', onStatus);
  /** Why the remaining steps are not run. */
  let halted: string | undefined;

  for (const [i, step] of steps.entries()) {
    if (halted) {
      reports.push({ name: step.name, outcome: 'skipped', detail: halted, ms: 0 });
      continue;
    }
    opts.onStep?.({ device: opts.name, index: i + 1, total, step: step.name });
    const t0 = Date.now();
    let report: StepReport;
    try {
      const result = await withDeadline(step.run(), deadline - t0);
      if (result === TIMED_OUT) {
        halted = 'the check ran out of time';
        const s = device.status();
        // A device that answers but never gets ready is not a silent one: say what it last said.
        const detail =
          s.health === 'offline' || s.code === 'closed'
            ? `no answer within ${seconds(timeoutMs)} (the check's time-out)`
            : `not finished within ${seconds(timeoutMs)} (the check's time-out); the device says ${s.code}: ${s.detail}`;
        report = { name: step.name, outcome: 'failed', detail, ms: 0 };
      } else if (result instanceof Skip) {
        report = { name: step.name, outcome: 'skipped', detail: result.reason, ms: 0 };
      } else {
        report = { name: step.name, outcome: 'ok', detail: result, ms: 0 };
      }
    } catch (err) {
      if (step.name === 'open') halted = 'device not open';
      report = { name: step.name, outcome: 'failed', detail: (err as Error).message, ms: 0 };
    }
    report.ms = Date.now() - t0;
    reports.push(report);
  }

  (device as unknown as EventEmitter).off('status', onStatus);
  const identity = device.identity();
  const status = device.status();
  opts.onStep?.({ device: opts.name, index: total, total, step: 'close' });
  const t0 = Date.now();
  const closed = await withDeadline(device.close(), CLOSE_LIMIT_MS);
  reports.push(
    closed === TIMED_OUT
      ? { name: 'close', outcome: 'failed', detail: `the driver did not let go of the port within ${seconds(CLOSE_LIMIT_MS)}`, ms: Date.now() - t0 }
      : { name: 'close', outcome: 'ok', detail: 'port released', ms: Date.now() - t0 },
  );

  return {
    name: opts.name,
    kind: device.kind,
    port: opts.port,
    identity: opts.category && reports[0]?.outcome === 'ok' ? { ...identity, category: opts.category } : identity,
    status,
    facts,
    steps: reports,
    ok: reports.every((r) => r.outcome !== 'failed'),
    ms: Date.now() - started,
  };
}
