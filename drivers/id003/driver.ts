/**
 * JCM ID-003 bill validator, host side, polled mode. One command is on the line at a time; the
 * device's answers drive the note through escrow → stack/return → vend valid → ACK, and the hooks
 * decide and record the money before the device is told to go on.
 */
import { PolledDevice } from '../lifecycle.js';
import type { Transport } from '../transport/types.js';
import type {
  BillAtPowerUp,
  BillValidator,
  BillValidatorCapabilities,
  BillValidatorEvents,
  BillValidatorHooks,
  DeviceIdentity,
  DeviceStatus,
  EscrowDecision,
  Note,
} from '../types.js';
import { Cmd } from './constants.js';
import {
  FrameSplitter,
  decodeStatus,
  denominationMask,
  encodeCommand,
  isStatusReply,
  type CurrencyRecord,
  type DeviceStatusReply,
  type Frame,
  type Reply,
  type SplitterStats,
} from './codec.js';

export type Id003Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

export interface Id003Options {
  transport: Transport;
  /** Pause between status requests. Default 150 ms. */
  pollIntervalMs?: number;
  /** How long one command waits for its reply. Default 300 ms. */
  replyTimeoutMs?: number;
  /** Back-off while the device is silent: starts at initialMs, doubles up to maxMs. */
  reconnect?: { initialMs: number; maxMs: number };
  log?: Id003Log;
}

/** Resends after the first try before the device counts as silent. */
const RETRIES = 3;
/** Status requests allowed after Reset for the device to reach INITIALIZE or DISABLED. */
const RESET_POLLS = 60;
const NOISE_LOG_INTERVAL_MS = 5000;

type Expect = 'status' | 'ack' | 'echo' | 'version' | 'currency';
type Answer = { frame: Frame; reply: Reply };
type Outcome = Answer | 'timeout' | 'refused' | 'closed';

interface Waiter {
  expect: Expect;
  cmd: number;
  data: Buffer;
  /** A frame with a bad CRC arrived meanwhile: probably our reply, garbled. */
  garbled: boolean;
  done(outcome: Outcome): void;
}

/** The device did not answer (or the line is down): the driver goes offline and starts over. */
class NoAnswerError extends Error {
  /** Writing failed: the port is gone even if it still looks open, so it is closed and reopened. */
  linkBroken = false;
}
/** The device answered INVALID COMMAND. */
class RefusedError extends Error {}

/** One note from escrow to the cash box or back; it outlives a reconnect, not a power-up. */
interface NoteCycle {
  /** Escrow code; undefined when the first thing we saw of this note was VEND VALID. */
  code: number | undefined;
  note: Note | null;
  decision: 'asking' | EscrowDecision;
  decisionSending: boolean;
  decisionAcked: boolean;
  credit: 'none' | 'asking' | 'done';
}

/** Statuses in which a note is on its way and must be seen through before a Reset. */
const NOTE_IN_MOTION = new Set<Reply['kind']>([
  'accepting',
  'escrow',
  'stacking',
  'vend-valid',
  'stacked',
  'rejecting',
  'returning',
]);

/** Statuses after which the current note is finished with (stacked, returned or forgotten by a reset). */
const NOTE_CYCLE_ENDS = new Set<Reply['kind']>([
  'stacked',
  'idling',
  'accepting',
  'disabled',
  'initialize',
  'rejecting',
  'returning',
  'power-up',
  'power-up-bill-in-acceptor',
  'power-up-bill-in-stacker',
]);

const RESET_DONE = new Set<Reply['kind']>([
  'initialize',
  'disabled',
  'idling',
  'stacker-full',
  'stacker-open',
  'jam-acceptor',
  'jam-stacker',
  'cheated',
  'failure',
]);

const POWER_UP: ReadonlyMap<Reply['kind'], BillAtPowerUp> = new Map([
  ['power-up', 'none'],
  ['power-up-bill-in-acceptor', 'acceptor'],
  ['power-up-bill-in-stacker', 'stacker'],
] as const);

const READY: DeviceStatus = { health: 'ok', code: 'ok', detail: 'ready' };

function healthOf(s: DeviceStatusReply): DeviceStatus | undefined {
  switch (s.kind) {
    case 'stacker-full':
      return { health: 'fault', code: 'stacker-full', detail: 'cash box full' };
    case 'stacker-open':
      return { health: 'fault', code: 'stacker-open', detail: 'cash box removed' };
    case 'jam-acceptor':
      return { health: 'fault', code: 'jam-acceptor', detail: 'note jammed in the acceptor' };
    case 'jam-stacker':
      return { health: 'fault', code: 'jam-stacker', detail: 'note jammed in the stacker' };
    case 'failure':
      return { health: 'fault', code: 'failure', detail: `${s.text} (0x${s.code.toString(16).toUpperCase()})` };
    case 'cheated':
      return { health: 'fault', code: 'cheated', detail: 'the device detected a cheat attempt' };
    case 'pause':
      return { health: 'degraded', code: 'pause', detail: 'paused: a second note was inserted' };
    case 'communication-error':
    case 'invalid-command':
      return undefined;
    default:
      return READY;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
}

export class Id003Validator extends PolledDevice<BillValidatorEvents> implements BillValidator {
  readonly kind = 'bill-validator' as const;
  readonly capabilities: BillValidatorCapabilities = { hold: true };

  private readonly transport: Transport;
  private readonly pollIntervalMs: number;
  private readonly replyTimeoutMs: number;
  private readonly splitter = new FrameSplitter();

  private hooks: BillValidatorHooks | undefined;
  private version: string | undefined;
  private records: CurrencyRecord[] = [];
  private notes: Note[] = [];

  /** The caller's enable/inhibit state must be sent again (after a fault cleared). */
  private reapply = false;
  private desired: { accepting: boolean; values: number[] | undefined } = { accepting: false, values: undefined };

  private queue: Promise<unknown> = Promise.resolve();
  private waiter: Waiter | undefined;
  private noiseReported: SplitterStats = { droppedBytes: 0, badCrc: 0, badLength: 0 };
  private noiseReportedAt = Number.NEGATIVE_INFINITY;

  private lastKind: Reply['kind'] | undefined;
  private cycle: NoteCycle | undefined;
  private returningNote: Note | null = null;

  constructor(opts: Id003Options) {
    super({
      label: 'id003',
      link: opts.transport,
      reconnect: opts.reconnect,
      log: opts.log,
      unavailableMessage: 'id003: device unavailable, retrying',
      recoveredMessage: () => 'id003: device healthy again',
    });
    this.transport = opts.transport;
    this.pollIntervalMs = opts.pollIntervalMs ?? 150;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 300;
    this.transport.on('data', (chunk) => this.onData(chunk));
    this.transport.on('close', () => {
      if (this.closed) return;
      this.log('warn', 'id003: serial link closed', { port: this.transport.description });
      this.waiter?.done('closed');
    });
    this.transport.on('error', (err) => this.log('warn', 'id003: serial link error', { error: err.message }));
  }

  // ---------------------------------------------------------------------------- public API

  setHooks(hooks: BillValidatorHooks): void {
    this.hooks = hooks;
  }

  identity(): DeviceIdentity {
    return { kind: 'bill-validator', model: 'JCM ID-003', ...(this.version ? { version: this.version } : {}) };
  }

  denominations(): readonly Note[] {
    return this.notes;
  }

  override open(): Promise<void> {
    if (!this.hooks) return Promise.reject(new Error('id003: setHooks() must be called before open()'));
    return super.open();
  }

  override close(): Promise<void> {
    // A command on the line would otherwise hold up the close until its reply time-out.
    this.waiter?.done('closed');
    return super.close();
  }

  async enable(values: readonly number[]): Promise<void> {
    const known = new Set(this.notes.map((n) => n.value));
    const unknown = values.filter((v) => !known.has(v));
    if (unknown.length > 0 && this.notes.length > 0) {
      this.log('warn', 'id003: enable() asked for values the device does not have', { values: unknown });
    }
    this.desired = { accepting: true, values: [...values] };
    if (!this.ready) {
      throw new Error('id003: validator not ready (offline or starting); the setting is kept and applied when it is');
    }
    await this.applyDesired();
  }

  async disable(): Promise<void> {
    this.desired = { ...this.desired, accepting: false };
    // Every start-up leaves the device inhibited, so a device that is not ready needs nothing more.
    if (!this.ready) return;
    await this.transact(Cmd.setInhibit, Buffer.of(1), 'echo');
  }

  // ---------------------------------------------------------------------------- life cycle

  protected async step(): Promise<void> {
    if (!this.transport.isOpen) {
      this.splitter.reset();
      await this.transport.open();
    }
    if (!this.ready && !(await this.start())) return;
    await this.pollOnce();
    await this.sleep(this.pollIntervalMs);
  }

  protected async failed(err: unknown): Promise<void> {
    const message = (err as Error).message;
    if (err instanceof NoAnswerError && err.linkBroken) {
      await this.transport.close().catch(() => undefined);
    }
    if (err instanceof NoAnswerError || !this.transport.isOpen) {
      this.setStatus({ health: 'offline', code: 'no-answer', detail: message });
    } else {
      this.setStatus({ health: 'fault', code: 'start-up-failed', detail: message });
    }
  }

  protected async release(): Promise<void> {
    try {
      await this.transport.close();
    } catch (err) {
      this.log('warn', 'id003: closing the transport failed', { error: (err as Error).message });
    }
  }

  /** Brings the device from whatever state it is in to reset, configured and inhibited. */
  protected async startUp(): Promise<void> {
    this.log('info', 'id003: start-up sequence', { port: this.transport.description });
    const first = await this.requestStatus();
    try {
      const version = await this.transact(Cmd.versionRequest, undefined, 'version');
      if (version.reply.kind === 'version') this.version = version.reply.text;
    } catch (err) {
      if (!(err instanceof RefusedError)) throw err;
      this.log('warn', 'id003: device refuses the version request');
    }
    const table = await this.transact(Cmd.currencyRequest, undefined, 'currency');
    if (table.reply.kind === 'currency') this.loadCurrencyTable(table.reply.records);

    // A note left over from before (host restart, reconnect) is decided and credited first: a
    // Reset now could lose track of it.
    let status = first;
    this.handleStatus(status);
    while (NOTE_IN_MOTION.has(status.kind)) {
      await this.sleep(this.pollIntervalMs);
      if (this.closed) return;
      status = await this.requestStatus();
      this.handleStatus(status);
    }

    await this.transact(Cmd.reset, undefined, 'ack');
    let polls = 0;
    do {
      if (++polls > RESET_POLLS) throw new Error('device did not initialise after Reset');
      await this.sleep(this.pollIntervalMs);
      if (this.closed) return;
      status = await this.requestStatus();
      this.handleStatus(status);
    } while (!RESET_DONE.has(status.kind));

    this.reapply = false;
    await this.configure(Cmd.setSecurity, Buffer.of(0, 0));
    await this.configure(Cmd.setCommMode, Buffer.of(0));
    await this.configure(Cmd.setDenominations, denominationMask([]));
    await this.configure(Cmd.setInhibit, Buffer.of(1));
    if (this.desired.values !== undefined && !this.reapply) {
      try {
        await this.applyDesired();
      } catch (err) {
        if (!(err instanceof RefusedError)) throw err;
        this.reapply = true;
      }
    }
    this.log('info', 'id003: ready', { version: this.version, notes: this.notes.map((n) => n.value) });
  }

  /** A setting the device refuses now (e.g. while in a fault) is retried once it is healthy. */
  private async configure(cmd: number, data: Buffer): Promise<void> {
    try {
      await this.transact(cmd, data, 'echo');
    } catch (err) {
      if (!(err instanceof RefusedError)) throw err;
      this.log('warn', 'id003: device refused a setting', { cmd: hex(cmd), data: data.toString('hex') });
      this.reapply = true;
    }
  }

  private loadCurrencyTable(records: CurrencyRecord[]): void {
    this.records = records;
    const foreign = records.filter((r) => r.currency === undefined);
    if (foreign.length > 0) {
      this.log('warn', 'id003: notes with an unknown country code will be returned', {
        codes: foreign.map((r) => `${hex(r.code)}/${hex(r.country)}`),
      });
    }
    this.notes = records
      .filter((r): r is CurrencyRecord & { currency: string } => r.currency !== undefined)
      .map((r) => ({ value: r.value, currency: r.currency, code: r.code }))
      .sort((a, b) => a.value - b.value);
    if (this.notes.length === 0) this.log('error', 'id003: the device reports no usable denominations');
  }

  private async pollOnce(): Promise<void> {
    const status = await this.requestStatus();
    this.handleStatus(status);
    if (POWER_UP.has(status.kind)) {
      // It lost power under us: redo the whole start-up, which resets it.
      this.ready = false;
      return;
    }
    if (this.reapply && this.current.health === 'ok') {
      this.reapply = false;
      try {
        await this.applyDesired();
      } catch (err) {
        if (!(err instanceof RefusedError)) throw err;
        this.log('warn', 'id003: device refused the enable/inhibit settings; will retry');
        this.reapply = true;
      }
    }
  }

  private async applyDesired(): Promise<void> {
    const wanted = new Set(this.desired.values ?? this.notes.map((n) => n.value));
    const disabled = this.records.filter((r) => r.currency === undefined || !wanted.has(r.value)).map((r) => r.code);
    await this.transact(Cmd.setDenominations, denominationMask(disabled), 'echo');
    // Read after the await: a disable() that arrived meanwhile must not be undone by this enable.
    await this.transact(Cmd.setInhibit, Buffer.of(this.desired.accepting ? 0 : 1), 'echo');
  }

  // ---------------------------------------------------------------------------- statuses

  private handleStatus(s: DeviceStatusReply): void {
    const previous = this.lastKind;
    this.lastKind = s.kind;
    const health = healthOf(s);
    if (health) this.setStatus(health);

    if (previous === 'returning' && s.kind !== 'returning') {
      const note = this.returningNote;
      this.returningNote = null;
      this.tell(() => this.emit('returned', note));
    }
    if (NOTE_CYCLE_ENDS.has(s.kind)) this.endCycle(s.kind);

    switch (s.kind) {
      case 'escrow':
        this.onEscrow(s.code);
        break;
      case 'vend-valid':
        this.onVendValid();
        break;
      case 'rejecting':
        if (previous !== 'rejecting') {
          this.log('info', 'id003: note rejected by the device', { code: hex(s.code), reason: s.reason });
          this.tell(() => this.emit('rejected', { reason: s.reason, code: s.code }));
        }
        break;
      case 'communication-error':
      case 'invalid-command':
        this.log('warn', `id003: device reports ${s.kind}`);
        break;
      default: {
        const bill = POWER_UP.get(s.kind);
        if (bill && previous !== s.kind) {
          this.log('warn', 'id003: device powered up', { bill });
          this.tell(() => this.emit('power-up', { bill }));
        }
      }
    }
  }

  private endCycle(kind: Reply['kind']): void {
    const cycle = this.cycle;
    if (!cycle) return;
    if (kind === 'returning') this.returningNote = cycle.note;
    if (kind === 'stacked' && cycle.credit !== 'done') {
      this.log('error', 'id003: note stacked without our credit', { note: cycle.note });
    }
    this.cycle = undefined;
  }

  private onEscrow(code: number): void {
    const same = this.cycle;
    if (same && same.code === code && same.credit === 'none') {
      if (same.decision !== 'asking' && !same.decisionAcked) this.sendDecision(same);
      return;
    }
    const note = this.notes.find((n) => n.code === code) ?? null;
    const cycle: NoteCycle = {
      code,
      note,
      decision: 'asking',
      decisionSending: false,
      decisionAcked: false,
      credit: 'none',
    };
    this.cycle = cycle;
    if (!note) {
      this.log('warn', 'id003: escrow code not in the denomination table; returning the note', { code: hex(code) });
      cycle.decision = 'return';
      this.sendDecision(cycle);
      return;
    }
    this.log('info', 'id003: note in escrow', { value: note.value, currency: note.currency, code: hex(code) });
    const hooks = this.hooks!;
    Promise.resolve()
      .then(() => hooks.escrow(note))
      .then(
        (decision): EscrowDecision => (decision === 'stack' ? 'stack' : 'return'),
        (err: unknown): EscrowDecision => {
          this.log('warn', 'id003: escrow hook failed; returning the note', { error: String(err) });
          return 'return';
        },
      )
      .then((decision) => {
        cycle.decision = decision;
        if (this.cycle === cycle && !this.closed) this.sendDecision(cycle);
      });
  }

  private sendDecision(cycle: NoteCycle): void {
    if (cycle.decisionSending) return;
    cycle.decisionSending = true;
    const cmd = cycle.decision === 'stack' ? Cmd.stack1 : Cmd.return;
    this.transact(cmd, undefined, 'ack').then(
      () => {
        cycle.decisionSending = false;
        cycle.decisionAcked = true;
      },
      (err: Error) => {
        cycle.decisionSending = false;
        this.log('warn', 'id003: escrow command not acknowledged; will resend while in escrow', {
          cmd: hex(cmd),
          error: err.message,
        });
      },
    );
  }

  private onVendValid(): void {
    let cycle = this.cycle;
    if (!cycle) {
      cycle = {
        code: undefined,
        note: null,
        decision: 'stack',
        decisionSending: false,
        decisionAcked: true,
        credit: 'none',
      };
      this.cycle = cycle;
    }
    if (cycle.credit === 'done') {
      // Our ACK did not arrive: acknowledge again, never credit again.
      this.sendAck();
      return;
    }
    if (cycle.credit === 'asking') return;
    cycle.credit = 'asking';
    const current = cycle;
    const hooks = this.hooks!;
    Promise.resolve()
      .then(() => hooks.credited(current.note))
      .then(
        () => {
          current.credit = 'done';
          this.log('info', 'id003: note credited', { note: current.note });
          if (this.cycle === current && !this.closed) this.sendAck();
        },
        (err: unknown) => {
          current.credit = 'none';
          this.log('error', 'id003: credit hook failed; not acknowledging, will ask again', { error: String(err) });
        },
      );
  }

  private sendAck(): void {
    this.send(Cmd.ack).catch((err: Error) => this.log('warn', 'id003: ACK not sent', { error: err.message }));
  }

  protected override setStatus(next: DeviceStatus): void {
    // Settings the device refused during the fault are sent again now that it takes them.
    if (this.current.health === 'fault' && next.health !== 'fault' && next.health !== 'offline' && this.ready) {
      this.reapply = true;
    }
    super.setStatus(next);
  }

  // ---------------------------------------------------------------------------- line

  private async requestStatus(): Promise<DeviceStatusReply> {
    const { reply } = await this.transact(Cmd.statusRequest, undefined, 'status');
    return reply as DeviceStatusReply;
  }

  /** Queues a command behind the one on the line and resolves with its matching reply. */
  private transact(cmd: number, data: Uint8Array | undefined, expect: Expect): Promise<Answer> {
    const job = this.queue.then(() => this.exchange(cmd, Buffer.from(data ?? []), expect));
    this.queue = job.catch(() => undefined);
    return job;
  }

  /** Queues a command the device does not answer (our ACK of VEND VALID). */
  private send(cmd: number): Promise<void> {
    const job = this.queue.then(async () => {
      if (this.closed || !this.transport.isOpen) throw new NoAnswerError('link is down');
      await this.transport.write(encodeCommand(cmd));
    });
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async exchange(cmd: number, data: Buffer, expect: Expect): Promise<Answer> {
    const frame = encodeCommand(cmd, data);
    for (let attempt = 1; attempt <= RETRIES + 1; attempt++) {
      if (this.closed) throw new NoAnswerError('driver closed');
      if (!this.transport.isOpen) throw new NoAnswerError(`${this.transport.description} is not open`);
      const outcome = new Promise<Outcome>((resolve) => {
        this.waiter = { expect, cmd, data, garbled: false, done: resolve };
      });
      let timer: NodeJS.Timeout | undefined;
      try {
        await this.transport.write(frame);
        timer = setTimeout(() => this.waiter?.done('timeout'), this.replyTimeoutMs);
        const result = await outcome;
        if (typeof result === 'object') return result;
        if (result === 'refused') throw new RefusedError(`device refused command ${hex(cmd)}`);
        if (result === 'closed') throw new NoAnswerError('link closed');
        if (this.current.health !== 'offline') {
          const garbled = this.waiter?.garbled ?? false;
          this.log('warn', `id003: ${garbled ? 'garbled reply' : 'reply time-out'}`, { cmd: hex(cmd), attempt });
        }
        for (const stale of this.splitter.abandonPending()) this.onFrame(stale);
      } catch (err) {
        if (err instanceof NoAnswerError || err instanceof RefusedError) throw err;
        const broken = new NoAnswerError(`write failed: ${(err as Error).message}`);
        broken.linkBroken = true;
        throw broken;
      } finally {
        clearTimeout(timer);
        this.waiter = undefined;
      }
    }
    throw new NoAnswerError(`no answer to command ${hex(cmd)} after ${RETRIES + 1} tries`);
  }

  private onData(chunk: Buffer): void {
    const badCrc = this.splitter.stats.badCrc;
    const frames = this.splitter.push(chunk);
    for (const frame of frames) this.onFrame(frame);
    // A garbled reply is retried when the time-out expires, not at once: resending at once would
    // make the device answer twice, and the stale answer would end the next wait early.
    if (this.splitter.stats.badCrc !== badCrc && this.waiter) this.waiter.garbled = true;
    this.reportNoise();
  }

  /** Line noise is logged at most every NOISE_LOG_INTERVAL_MS, with the counts since the last report. */
  private reportNoise(): void {
    const now = this.splitter.stats;
    const last = this.noiseReported;
    if (now.droppedBytes === last.droppedBytes) return;
    if (Date.now() - this.noiseReportedAt < NOISE_LOG_INTERVAL_MS) return;
    this.log('warn', 'id003: discarded bytes on the line', {
      dropped: now.droppedBytes - last.droppedBytes,
      badCrc: now.badCrc - last.badCrc,
      badLength: now.badLength - last.badLength,
      totalDropped: now.droppedBytes,
    });
    this.noiseReported = { ...now };
    this.noiseReportedAt = Date.now();
  }

  private onFrame(frame: Frame): void {
    const reply = decodeStatus(frame);
    const waiter = this.waiter;
    if (waiter && this.matches(waiter, frame, reply)) {
      waiter.done({ frame, reply });
    } else if (waiter && waiter.expect !== 'status' && reply.kind === 'invalid-command') {
      waiter.done('refused');
    } else {
      this.log('info', 'id003: unexpected frame ignored', {
        frame: frame.bytes.toString('hex'),
        waitingFor: waiter ? hex(waiter.cmd) : null,
      });
    }
  }

  private matches(waiter: Waiter, frame: Frame, reply: Reply): boolean {
    switch (waiter.expect) {
      case 'status':
        return isStatusReply(reply);
      case 'ack':
        return reply.kind === 'ack';
      case 'echo':
        return frame.cmd === waiter.cmd && frame.data.equals(waiter.data);
      case 'version':
        return reply.kind === 'version';
      case 'currency':
        return reply.kind === 'currency';
    }
  }
}
