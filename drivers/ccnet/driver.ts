/**
 * CashCode CCNET bill validator, host side. One command is on the line at a time. Every data reply
 * of the validator is acknowledged with ACK, a reply with a bad CRC is answered with NAK, and a
 * command the validator NAKs or leaves unanswered is sent again. The validator's states drive the
 * note through escrow → stack/return → bill stacked, and the hooks decide and record the money
 * before the validator is told to go on.
 *
 * Our reading of the protocol for the credit point: the validator reports BILL STACKED (0x81) on
 * every POLL until the host acknowledges that reply, so the host may withhold the ACK until the
 * credit is durable and keep polling meanwhile. The ACK is sent only after `credited` resolved; if
 * it rejects, no ACK is sent and the hook is asked again at the next 0x81.
 */
import type { Backoff } from '../lifecycle.js';
import { NoAnswerError, RefusedError, hex, writeFailed } from '../line/request-line.js';
import { replyDeadline, type ReplyDeadline } from '../transport/reply-deadline.js';
import type { Transport } from '../transport/types.js';
import type { DeviceIdentity, DeviceStatus, DriverLog } from '../types.js';
import { ValidatorBase } from '../validator/base.js';
import { newCycle, type NoteCycle } from '../validator/escrow-cycle.js';
import { ACK, BILL_TABLE_ENTRY, BILL_TYPES, Cmd, NAK, VALIDATOR_ADDRESS } from './constants.js';
import {
  FrameSplitter,
  IDENTIFICATION_LENGTH,
  decodeReply,
  enableBillTypesData,
  encodeCommand,
  isPollState,
  parseBillTable,
  parseIdentification,
  type BillTableEntry,
  type Frame,
  type Identification,
  type PollState,
  type Reply,
} from './codec.js';
import { NOTE_CYCLE_ENDS, NOTE_IN_MOTION, POWER_UP, RESET_DONE, healthOf } from './statuses.js';

export interface CcnetOptions {
  transport: Transport;
  /** Pause between POLLs. Default 150 ms. */
  pollIntervalMs?: number;
  /** How long one command waits for its reply. Default 300 ms. */
  replyTimeoutMs?: number;
  /**
   * While the escrow hook is pending, HOLD is sent this often so that the validator keeps the note
   * (it gives a held note back by itself after its escrow time, about 10 s). Default 2000 ms.
   */
  holdIntervalMs?: number;
  /** Back-off while the device is silent: starts at initialMs, doubles up to maxMs. */
  reconnect?: Backoff;
  log?: DriverLog;
}

/** Resends after the first try before the device counts as silent. */
const RETRIES = 3;
/** POLLs allowed after RESET for the device to reach UNIT DISABLED (or a fault). */
const RESET_POLLS = 60;
/**
 * A frame with a bad CRC is NAKed only once the line has been quiet this long without a good reply:
 * noise that merely looks like a frame comes just before the real reply, and a NAK then would make
 * the validator send a second copy.
 */
const GARBLE_SETTLE_MS = 20;
const ACK_FRAME = encodeCommand(ACK);
const NAK_FRAME = encodeCommand(NAK);

type Expect = 'state' | 'ack' | 'identification' | 'bill-table';
type Answer = { frame: Frame; reply: Reply };
type Outcome = Answer | 'timeout' | 'garbled' | 'nak' | 'closed';

interface Waiter {
  expect: Expect;
  cmd: number;
  settled: boolean;
  /** Set by a frame with a bad CRC; runs out once the line is quiet, unless a good reply came meanwhile. */
  garbled: NodeJS.Timeout | undefined;
  done(outcome: Outcome): void;
}

/** CCNET's own part of a note's cycle: keeping it held while the hook decides. */
interface HoldState {
  /** When the note was last known to be held: first seen in escrow, or the last HOLD sent. */
  heldAt: number;
  holdSending: boolean;
  returnedSeen: boolean;
}
type Cycle = NoteCycle & HoldState;

/** Unknown bill type: HOLDING and RETURNED name none. */
const NO_TYPE = -1;

/** A reply the host acknowledges: everything but the validator's own ACK and NAK. */
function isDataReply(frame: Frame): boolean {
  return !(frame.data.length === 1 && (frame.data[0] === ACK || frame.data[0] === NAK));
}

export class CcnetValidator extends ValidatorBase<Cycle> {
  private readonly pollIntervalMs: number;
  private readonly replyTimeoutMs: number;
  private readonly holdIntervalMs: number;
  private readonly splitter = new FrameSplitter();

  private ident: Identification | undefined;

  /** The caller's enable/inhibit state must be sent again (after a fault cleared). */
  private reapply = false;

  private waiter: Waiter | undefined;
  /** The last reply, when its ACK was withheld (BILL STACKED with the credit pending). */
  private unacked: Frame | undefined;
  private lastKind: Reply['kind'] | undefined;

  constructor(opts: CcnetOptions) {
    super({
      label: 'ccnet',
      transport: opts.transport,
      reconnect: opts.reconnect,
      log: opts.log,
      escrow: { unknownNote: 'bill type not in the bill table', codeFields: (billType) => ({ billType }) },
    });
    this.pollIntervalMs = opts.pollIntervalMs ?? 150;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 300;
    this.holdIntervalMs = opts.holdIntervalMs ?? 2000;
  }

  identity(): DeviceIdentity {
    const ident = this.ident;
    return {
      kind: 'bill-validator',
      model: 'CashCode CCNET',
      ...(ident?.partNumber ? { version: ident.partNumber } : {}),
      ...(ident?.serialNumber ? { serial: ident.serialNumber } : {}),
    };
  }

  protected async inhibit(): Promise<void> {
    await this.transact(Cmd.enableBillTypes, enableBillTypesData([], []), 'ack');
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

  /**
   * Brings the device from whatever state it is in to reset, configured and with no bill type
   * enabled. The identification and bill table are read before the RESET, because a note left over
   * from before (host restart, reconnect) is decided and credited first: a RESET now could lose
   * track of it, and deciding needs the table.
   */
  protected async startUp(): Promise<void> {
    this.log('info', 'ccnet: start-up sequence', { port: this.transport.description });
    const first = await this.poll();
    try {
      const ident = await this.transact(Cmd.identification, undefined, 'identification');
      this.ident = parseIdentification(ident.frame.data);
    } catch (err) {
      if (!(err instanceof RefusedError)) throw err;
      this.log('warn', 'ccnet: device refuses the identification request');
    }
    const table = await this.transact(Cmd.getBillTable, undefined, 'bill-table');
    this.loadBillTable(parseBillTable(table.frame.data));

    let status = first;
    this.handleState(status);
    while (NOTE_IN_MOTION.has(status.kind)) {
      await this.sleep(this.pollIntervalMs);
      if (this.closed) return;
      status = await this.poll();
      this.handleState(status);
    }

    await this.transact(Cmd.reset, undefined, 'ack');
    let polls = 0;
    do {
      if (++polls > RESET_POLLS) throw new Error('device did not initialise after RESET');
      await this.sleep(this.pollIntervalMs);
      if (this.closed) return;
      status = await this.poll();
      this.handleState(status);
    } while (!RESET_DONE.has(status.kind));

    this.reapply = false;
    await this.configure(enableBillTypesData([], []));
    if (this.desired.values !== undefined && !this.reapply) {
      try {
        await this.applyDesired();
      } catch (err) {
        if (!(err instanceof RefusedError)) throw err;
        this.reapply = true;
      }
    }
    this.log('info', 'ccnet: ready', {
      part: this.ident?.partNumber,
      serial: this.ident?.serialNumber,
      notes: this.notes.map((n) => n.value),
    });
  }

  /** A setting the device refuses now (e.g. while in a fault) is retried once it is healthy. */
  private async configure(data: Buffer): Promise<void> {
    try {
      await this.transact(Cmd.enableBillTypes, data, 'ack');
    } catch (err) {
      if (!(err instanceof RefusedError)) throw err;
      this.log('warn', 'ccnet: device refused a setting', { data: data.toString('hex') });
      this.reapply = true;
    }
  }

  private loadBillTable(entries: BillTableEntry[]): void {
    const unusable = entries.filter((e) => e.currency === undefined || e.value === undefined);
    if (unusable.length > 0) {
      this.log('warn', 'ccnet: bill types with an unknown country or value will be returned', {
        types: unusable.map((e) => `${e.billType}:${e.digits}e${e.exponent} ${e.country}`),
      });
    }
    this.notes = entries
      .filter((e): e is BillTableEntry & { currency: string; value: number } => e.currency !== undefined && e.value !== undefined)
      .map((e) => ({ value: e.value, currency: e.currency, code: e.billType }))
      .sort((a, b) => a.value - b.value);
    if (this.notes.length === 0) this.log('error', 'ccnet: the device reports no usable bill types');
  }

  private async pollOnce(): Promise<void> {
    const status = await this.poll();
    this.handleState(status);
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
        this.log('warn', 'ccnet: device refused the enable settings; will retry');
        this.reapply = true;
      }
    }
  }

  /** One command sets both the accepted bill types and, for the same types, escrow: the hooks decide every note. */
  protected async applyDesired(): Promise<void> {
    const wanted = new Set(this.desired.values ?? this.notes.map((n) => n.value));
    const types = this.desired.accepting ? this.notes.filter((n) => wanted.has(n.value)).map((n) => n.code) : [];
    await this.transact(Cmd.enableBillTypes, enableBillTypesData(types, types), 'ack');
  }

  // ---------------------------------------------------------------------------- states

  private handleState(s: PollState): void {
    const previous = this.lastKind;
    this.lastKind = s.kind;
    const health = healthOf(s);
    if (health) this.setStatus(health);
    if (NOTE_CYCLE_ENDS.has(s.kind)) this.cycles.end();

    switch (s.kind) {
      case 'escrow':
        this.onEscrow(s.billType);
        break;
      case 'holding':
        this.onHolding();
        break;
      case 'stacked':
        this.onStacked(s.billType);
        break;
      case 'returned':
        this.onReturned();
        break;
      case 'rejecting':
        if (previous !== 'rejecting') {
          this.log('info', 'ccnet: note rejected by the device', { code: hex(s.code), reason: s.reason });
          this.tell(() => this.emit('rejected', { reason: s.reason, code: s.code }));
        }
        break;
      case 'illegal-command':
        this.log('warn', 'ccnet: device reports an illegal command');
        break;
      default: {
        const bill = POWER_UP.get(s.kind);
        if (bill && previous !== s.kind) {
          this.log('warn', 'ccnet: device powered up', { bill });
          this.tell(() => this.emit('power-up', { bill }));
        }
      }
    }
  }

  private newCycle(billType: number, note: Cycle['note'], decision: Cycle['decision']): Cycle {
    return newCycle(billType, note, decision, { heldAt: Date.now(), holdSending: false, returnedSeen: false });
  }

  private onEscrow(billType: number): void {
    const same = this.cycles.current;
    if (same && same.code === billType && same.credit === 'none') {
      this.onHolding();
      return;
    }
    this.cycles.escrow(this.newCycle(billType, this.notes.find((n) => n.code === billType) ?? null, 'asking'));
  }

  /** The note waits in escrow: keep it there while we decide, or (re)send what we decided. */
  private onHolding(): void {
    const cycle = this.cycles.current;
    if (!cycle) {
      // HOLDING names no bill type: a note held before this driver started can only be given back.
      this.log('warn', 'ccnet: a note is held that this driver did not see in escrow; returning it');
      const held = this.newCycle(NO_TYPE, null, 'return');
      this.cycles.current = held;
      this.decided(held);
      return;
    }
    if (cycle.decision === 'asking') this.keepHolding(cycle);
    else if (!cycle.decisionAcked) this.decided(cycle);
  }

  private keepHolding(cycle: Cycle): void {
    if (cycle.holdSending || Date.now() - cycle.heldAt < this.holdIntervalMs) return;
    cycle.holdSending = true;
    cycle.heldAt = Date.now();
    this.transact(Cmd.hold, undefined, 'ack').then(
      () => {
        cycle.holdSending = false;
      },
      (err: Error) => {
        cycle.holdSending = false;
        this.log('warn', 'ccnet: HOLD not acknowledged', { error: err.message });
      },
    );
  }

  protected decided(cycle: Cycle): void {
    this.cycles.sendDecision(
      cycle,
      (decision) => (decision === 'stack' ? Cmd.stack : Cmd.return),
      (cmd) => this.transact(cmd, undefined, 'ack'),
    );
  }

  private onStacked(billType: number): void {
    let cycle = this.cycles.current;
    if (cycle && cycle.code !== billType) {
      this.log('error', 'ccnet: stacked bill type differs from the one in escrow', { escrow: cycle.code, stacked: billType });
      cycle = undefined;
    }
    if (!cycle) {
      // The escrow happened before this driver saw it (host restart): the journal knows the note.
      cycle = this.newCycle(billType, null, 'stack');
      cycle.decisionAcked = true;
      this.cycles.current = cycle;
    }
    // Credited already: the exchange has acknowledged this repeat (our earlier ACK was lost).
    this.cycles.credit(cycle);
  }

  protected creditDurable(cycle: Cycle): void {
    if (this.cycles.current === cycle && !this.closed) this.sendWithheldAck();
  }

  private onReturned(): void {
    let cycle = this.cycles.current;
    if (!cycle) {
      cycle = this.newCycle(NO_TYPE, null, 'return');
      this.cycles.current = cycle;
    }
    if (cycle.returnedSeen) return;
    cycle.returnedSeen = true;
    this.log('info', 'ccnet: note handed back', { note: cycle.note });
    const note = cycle.note;
    this.tell(() => this.emit('returned', note));
  }

  /** Whether the ACK of this reply waits: BILL STACKED is acknowledged only once its credit is durable. */
  private withholdAck(reply: Reply): boolean {
    if (reply.kind !== 'stacked') return false;
    const cycle = this.cycles.current;
    return !(cycle && cycle.code === reply.billType && cycle.credit === 'done');
  }

  private sendWithheldAck(): void {
    this.queue
      .run(async () => {
        // A later POLL got (and acknowledged) its own reply meanwhile: nothing is waiting any more.
        if (!this.unacked) return;
        this.unacked = undefined;
        if (this.closed || !this.transport.isOpen) throw new NoAnswerError('link is down');
        await this.transport.write(ACK_FRAME);
      })
      .catch((err: Error) => this.log('warn', 'ccnet: ACK not sent', { error: err.message }));
  }

  protected override setStatus(next: DeviceStatus): void {
    // Settings the device refused during the fault are sent again now that it takes them.
    if (this.current.health === 'fault' && next.health !== 'fault' && next.health !== 'offline' && this.ready) {
      this.reapply = true;
    }
    super.setStatus(next);
  }

  // ---------------------------------------------------------------------------- line

  private async poll(): Promise<PollState> {
    const { reply } = await this.transact(Cmd.poll, undefined, 'state');
    return reply as PollState;
  }

  /** Queues a command behind the one on the line and resolves with its matching reply. */
  private transact(cmd: number, data: Uint8Array | undefined, expect: Expect): Promise<Answer> {
    return this.queue.run(() => this.exchange(cmd, Buffer.from(data ?? []), expect));
  }

  private async exchange(cmd: number, data: Buffer, expect: Expect): Promise<Answer> {
    const command = encodeCommand(cmd, data);
    let outgoing = command;
    for (let attempt = 1; attempt <= RETRIES + 1; attempt++) {
      if (this.closed) throw new NoAnswerError('driver closed');
      if (!this.transport.isOpen) throw new NoAnswerError(`${this.transport.description} is not open`);
      const outcome = new Promise<Outcome>((resolve) => {
        const waiter: Waiter = {
          expect,
          cmd,
          settled: false,
          garbled: undefined,
          done: (o) => {
            if (waiter.settled) return;
            waiter.settled = true;
            clearTimeout(waiter.garbled);
            resolve(o);
          },
        };
        this.waiter = waiter;
      });
      let deadline: ReplyDeadline | undefined;
      try {
        await this.transport.write(outgoing);
        deadline = replyDeadline(this.replyTimeoutMs, () => this.waiter?.done('timeout'));
        const result = await outcome;
        if (typeof result === 'object') {
          await this.acknowledge(result);
          if (result.reply.kind === 'illegal-command' && expect !== 'state') {
            throw new RefusedError(`device refused command ${hex(cmd)}`);
          }
          return result;
        }
        if (result === 'closed') throw new NoAnswerError('link closed');
        const quiet = this.current.health === 'offline';
        if (result === 'garbled') {
          // The validator answers a NAK by sending the same reply again.
          if (!quiet) this.log('warn', 'ccnet: reply with a bad CRC; NAK sent', { cmd: hex(cmd), attempt });
          outgoing = NAK_FRAME;
          continue;
        }
        if (result === 'nak') {
          if (!quiet) this.log('warn', 'ccnet: device answered NAK; command sent again', { cmd: hex(cmd), attempt });
        } else {
          if (!quiet) this.log('warn', 'ccnet: reply time-out', { cmd: hex(cmd), attempt });
          for (const stale of this.splitter.abandonPending()) this.onFrame(stale);
        }
        outgoing = command;
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

  /** Every data reply gets its ACK at once, before anything else goes on the line, unless it must wait. */
  private async acknowledge({ frame, reply }: Answer): Promise<void> {
    this.unacked = undefined;
    if (!isDataReply(frame)) return;
    if (this.withholdAck(reply)) {
      this.unacked = frame;
      return;
    }
    await this.transport.write(ACK_FRAME);
  }

  protected onData(chunk: Buffer): void {
    const badCrc = this.splitter.stats.badCrc;
    for (const frame of this.splitter.push(chunk)) this.onFrame(frame);
    const waiter = this.waiter;
    if (waiter && !waiter.settled && (waiter.garbled || this.splitter.stats.badCrc !== badCrc)) {
      clearTimeout(waiter.garbled);
      waiter.garbled = setTimeout(() => {
        // A SYNC inside the garbled bytes must not swallow the repeat the NAK asks for.
        for (const stale of this.splitter.abandonPending()) this.onFrame(stale);
        waiter.done('garbled');
      }, Math.min(GARBLE_SETTLE_MS, this.replyTimeoutMs / 2));
    }
    this.noise.report(this.splitter.stats);
  }

  private onFrame(frame: Frame): void {
    if (frame.address !== VALIDATOR_ADDRESS) {
      this.log('info', 'ccnet: frame for another address ignored', { frame: frame.bytes.toString('hex') });
      return;
    }
    const reply = decodeReply(frame);
    const waiter = this.waiter;
    if (waiter && !waiter.settled) {
      if (reply.kind === 'nak') return waiter.done('nak');
      if (this.matches(waiter.expect, frame, reply)) return waiter.done({ frame, reply });
    }
    this.log('info', 'ccnet: unexpected frame ignored', {
      frame: frame.bytes.toString('hex'),
      waitingFor: waiter ? hex(waiter.cmd) : null,
    });
  }

  private matches(expect: Expect, frame: Frame, reply: Reply): boolean {
    switch (expect) {
      case 'state':
        return isPollState(reply);
      case 'ack':
        return reply.kind === 'ack' || reply.kind === 'illegal-command';
      case 'identification':
        return frame.data.length >= IDENTIFICATION_LENGTH || reply.kind === 'illegal-command';
      case 'bill-table':
        return frame.data.length >= BILL_TYPES * BILL_TABLE_ENTRY || reply.kind === 'illegal-command';
    }
  }
}
