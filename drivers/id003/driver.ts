/**
 * JCM ID-003 bill validator, host side, polled mode. One command is on the line at a time; the
 * device's answers drive the note through escrow → stack/return → vend valid → ACK, and the hooks
 * decide and record the money before the device is told to go on (drivers/validator/escrow-cycle.ts).
 */
import { NoAnswerError, RefusedError, hex, writeFailed } from '../line/request-line.js';
import { replyDeadline, type ReplyDeadline } from '../transport/reply-deadline.js';
import type { Transport } from '../transport/types.js';
import type { DeviceIdentity, DeviceStatus, DriverLog, Note } from '../types.js';
import { ValidatorBase } from '../validator/base.js';
import { newCycle, type NoteCycle } from '../validator/escrow-cycle.js';
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
} from './codec.js';
import { NOTE_CYCLE_ENDS, NOTE_IN_MOTION, POWER_UP, RESET_DONE, healthOf } from './statuses.js';

export type Id003Log = DriverLog;

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

export class Id003Validator extends ValidatorBase<NoteCycle> {
  private readonly pollIntervalMs: number;
  private readonly replyTimeoutMs: number;
  private readonly splitter = new FrameSplitter();

  private version: string | undefined;
  private records: CurrencyRecord[] = [];

  /** The caller's enable/inhibit state must be sent again (after a fault cleared). */
  private reapply = false;

  private waiter: Waiter | undefined;
  private lastKind: Reply['kind'] | undefined;
  private returningNote: Note | null = null;

  constructor(opts: Id003Options) {
    super({
      label: 'id003',
      transport: opts.transport,
      reconnect: opts.reconnect,
      log: opts.log,
      escrow: { unknownNote: 'escrow code not in the denomination table', codeFields: (code) => ({ code: hex(code ?? 0) }) },
    });
    this.pollIntervalMs = opts.pollIntervalMs ?? 150;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 300;
  }

  identity(): DeviceIdentity {
    return { kind: 'bill-validator', model: 'JCM ID-003', ...(this.version ? { version: this.version } : {}) };
  }

  protected async inhibit(): Promise<void> {
    await this.transact(Cmd.setInhibit, Buffer.of(1), 'echo');
  }

  // ---------------------------------------------------------------------------- life cycle

  protected async step(): Promise<void> {
    if (!(await this.connect())) return;
    await this.pollOnce();
    await this.sleep(this.pollIntervalMs);
  }

  protected resetLine(): void {
    this.splitter.reset();
  }

  protected abortWait(): void {
    this.waiter?.done('closed');
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
    // Settings go in while it initialises; a removed cash box or a jam shows only after that, so
    // open() waits for it to finish rather than report 'initialising' as ready.
    while (status.kind === 'initialize') {
      if (++polls > RESET_POLLS) throw new Error('device did not finish initialising after Reset');
      await this.sleep(this.pollIntervalMs);
      if (this.closed) return;
      status = await this.requestStatus();
      this.handleStatus(status);
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

  protected async applyDesired(): Promise<void> {
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
    const cycle = this.cycles.end();
    if (!cycle) return;
    if (kind === 'returning') this.returningNote = cycle.note;
    if (kind === 'stacked' && cycle.credit !== 'done') {
      this.log('error', 'id003: note stacked without our credit', { note: cycle.note });
    }
  }

  // ---------------------------------------------------------------------------- the note

  private onEscrow(code: number): void {
    const same = this.cycles.current;
    if (same && same.code === code && same.credit === 'none') {
      if (same.decision !== 'asking' && !same.decisionAcked) this.decided(same);
      return;
    }
    this.cycles.escrow(newCycle(code, this.notes.find((n) => n.code === code) ?? null, 'asking', {}));
  }

  protected decided(cycle: NoteCycle): void {
    this.cycles.sendDecision(
      cycle,
      (decision) => (decision === 'stack' ? Cmd.stack1 : Cmd.return),
      (cmd) => this.transact(cmd, undefined, 'ack'),
    );
  }

  private onVendValid(): void {
    let cycle = this.cycles.current;
    if (!cycle) {
      cycle = newCycle(undefined, null, 'stack', {});
      cycle.decisionAcked = true;
      this.cycles.current = cycle;
    }
    // Our ACK did not arrive: acknowledge again, never credit again.
    if (cycle.credit === 'done') this.sendAck();
    else this.cycles.credit(cycle);
  }

  protected creditDurable(cycle: NoteCycle): void {
    if (this.cycles.current === cycle && !this.closed) this.sendAck();
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
    return this.queue.run(() => this.exchange(cmd, Buffer.from(data ?? []), expect));
  }

  /** Queues a command the device does not answer (our ACK of VEND VALID). */
  private send(cmd: number): Promise<void> {
    return this.queue.run(async () => {
      if (this.closed || !this.transport.isOpen) throw new NoAnswerError('link is down');
      await this.transport.write(encodeCommand(cmd));
    });
  }

  private async exchange(cmd: number, data: Buffer, expect: Expect): Promise<Answer> {
    const frame = encodeCommand(cmd, data);
    for (let attempt = 1; attempt <= RETRIES + 1; attempt++) {
      if (this.closed) throw new NoAnswerError('driver closed');
      if (!this.transport.isOpen) throw new NoAnswerError(`${this.transport.description} is not open`);
      const outcome = new Promise<Outcome>((resolve) => {
        this.waiter = { expect, cmd, data, garbled: false, done: resolve };
      });
      let deadline: ReplyDeadline | undefined;
      try {
        await this.transport.write(frame);
        deadline = replyDeadline(this.replyTimeoutMs, () => this.waiter?.done('timeout'));
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
        throw writeFailed(err);
      } finally {
        deadline?.clear();
        this.waiter = undefined;
      }
    }
    throw new NoAnswerError(`no answer to command ${hex(cmd)} after ${RETRIES + 1} tries`);
  }

  protected onData(chunk: Buffer): void {
    const badCrc = this.splitter.stats.badCrc;
    const frames = this.splitter.push(chunk);
    for (const frame of frames) this.onFrame(frame);
    // A garbled reply is retried when the time-out expires, not at once: resending at once would
    // make the device answer twice, and the stale answer would end the next wait early.
    if (this.splitter.stats.badCrc !== badCrc && this.waiter) this.waiter.garbled = true;
    this.noise.report(this.splitter.stats);
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
