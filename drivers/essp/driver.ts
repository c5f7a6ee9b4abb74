/**
 * ITL eSSP bill validator (NV9, NV10, NV200 …), host side. One command is on the line at a time,
 * each with the alternating sequence flag and, once the key is negotiated, encrypted with its
 * counter. The device reports what happened in poll events; the hooks decide and record the money
 * before the device is told to go on: HOLD keeps a note in escrow while the escrow hook decides,
 * and EVENT ACK (which lets POLL WITH ACK stop repeating a credit) is sent only once the credit is
 * durable, as VEND VALID's ACK is with ID-003.
 *
 * Host protocol version: 8 (7 and 6 are tried when the device refuses 8).
 */
import { randomBytes } from 'node:crypto';
import { NoAnswerError, RefusedError, hex, writeFailed } from '../line/request-line.js';
import { replyDeadline, type ReplyDeadline } from '../transport/reply-deadline.js';
import type { Transport } from '../transport/types.js';
import type { BillAtPowerUp, DeviceIdentity, DeviceStatus, DriverLog } from '../types.js';
import { ValidatorBase } from '../validator/base.js';
import { newCycle, type NoteCycle } from '../validator/escrow-cycle.js';
import { ACK_EVENTS, Cmd, DEFAULT_FIXED_KEY, Generic, PROTOCOL_VERSIONS, REJECT_REASONS, STEX } from './constants.js';
import {
  FrameSplitter,
  decodeReply,
  encodeFrame,
  genericName,
  inhibitMask,
  parsePollEvents,
  parseSetup,
  uint64le,
  type Frame,
  type PollEvent,
  type Reply,
  type SetupInfo,
} from './codec.js';
import { HostSession, aesKey, negotiatedKey, newKeyExchange, type RandomSource } from './crypto.js';

export interface EsspOptions {
  transport: Transport;
  /** SSP address of the validator. Default 0. */
  address?: number;
  /** The fixed half of the AES key. Default 0x0123456701234567, ITL's factory value. */
  fixedKey?: bigint;
  /** Pause between polls. Default 150 ms. */
  pollIntervalMs?: number;
  /** How long one command waits for its reply before it is sent again. Default 1000 ms. */
  replyTimeoutMs?: number;
  /** Sends of one command (the first and the re-sends) before the device counts as silent. Default 20. */
  tries?: number;
  /** Back-off while the device is silent: starts at initialMs, doubles up to maxMs. */
  reconnect?: { initialMs: number; maxMs: number };
  log?: DriverLog;
  /** Source of the key-exchange secrets and the packing bytes. */
  random?: RandomSource;
}

/** Commands sent in the clear even once a key is set: the session and key set-up itself. */
const PLAIN_COMMANDS: ReadonlySet<number> = new Set([
  Cmd.sync,
  Cmd.hostProtocolVersion,
  Cmd.setGenerator,
  Cmd.setModulus,
  Cmd.requestKeyExchange,
]);

/** Polls allowed at start-up for a note left over from before to be settled. */
const SETTLE_POLLS = 400;
const EMPTY = Buffer.alloc(0);

type Outcome = Reply | 'timeout' | 'closed';

interface Waiter {
  seq: boolean;
  /** The session the command was encrypted in, if it was. */
  session: HostSession | undefined;
  /** A damaged or refused reply arrived meanwhile. */
  garbled: boolean;
  done(outcome: Outcome): void;
}

/** The device answered KEY NOT SET: it lost its key (power cycle, reset), so the key is negotiated again. */
class KeyNotSetError extends Error {}

/** eSSP's own part of a note's cycle: HOLD and REJECT are sent by the loop, the credit is an event. */
interface HoldState {
  /** HOLD was refused: the note left escrow without us, and polls will tell how. */
  holdRefused: boolean;
  rejectSent: boolean;
  creditSeen: boolean;
}
type Cycle = NoteCycle & HoldState;

function cycleOf(channel: number, note: Cycle['note'], decision: Cycle['decision']): Cycle {
  return newCycle(channel, note, decision, { holdRefused: false, rejectSent: false, creditSeen: false });
}

const READY: DeviceStatus = { health: 'ok', code: 'ok', detail: 'ready' };

/** Codes match the ID-003 driver's where the meaning is the same. */
function faultOf(e: PollEvent): DeviceStatus | undefined {
  switch (e.kind) {
    case 'unsafe-jam':
      return { health: 'fault', code: 'jam-acceptor', detail: 'note jammed where it can be reached from the front (unsafe jam)' };
    case 'safe-jam':
      return { health: 'fault', code: 'jam-stacker', detail: 'note jammed inside the validator (safe jam)' };
    case 'stacker-full':
      return { health: 'fault', code: 'stacker-full', detail: 'cash box full' };
    case 'cashbox-removed':
      return { health: 'fault', code: 'stacker-open', detail: 'cash box removed' };
    case 'path-open':
      return { health: 'fault', code: 'path-open', detail: 'note path open' };
    case 'fraud-attempt':
      return { health: 'fault', code: 'cheated', detail: 'the device detected a fraud attempt' };
    default:
      return undefined;
  }
}

const NOTE_ACTIVITY = new Set<PollEvent['kind']>(['read', 'credit', 'stacking', 'rejecting']);

export class EsspValidator extends ValidatorBase<Cycle> {
  private readonly address: number;
  private readonly fixedKey: bigint;
  private readonly pollIntervalMs: number;
  private readonly replyTimeoutMs: number;
  private readonly tries: number;
  private readonly random: RandomSource;
  private readonly splitter = new FrameSplitter();

  private setup: SetupInfo | undefined;
  private serial: string | undefined;
  private protocolVersion: number = PROTOCOL_VERSIONS[0];
  private session: HostSession | undefined;
  /** The flag of the last command sent; SYNC sets it, so the first command after SYNC has it clear. */
  private lastSeq = true;
  /** The device answered POLL WITH ACK with "command not known": plain POLL from then on. */
  private pollWithAck = true;
  private starting = false;

  private waiter: Waiter | undefined;

  /** Notes whose credit event was seen and whose credit is not durable yet: no EVENT ACK until empty. */
  private readonly owed = new Set<Cycle>();
  /** The poll reply POLL WITH ACK will repeat until EVENT ACK. */
  private unacked: Buffer | undefined;
  /** The last poll showed a note moving. */
  private noteMoving = false;
  /** The device rejected a note by itself: ask it why after this poll. */
  private rejectReasonWanted = false;

  constructor(opts: EsspOptions) {
    super({
      label: 'essp',
      transport: opts.transport,
      reconnect: opts.reconnect,
      log: opts.log,
      escrow: { unknownNote: 'escrow channel not in the setup', codeFields: (channel) => ({ channel }) },
    });
    this.address = opts.address ?? 0;
    this.fixedKey = opts.fixedKey ?? DEFAULT_FIXED_KEY;
    this.pollIntervalMs = opts.pollIntervalMs ?? 150;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 1000;
    this.tries = opts.tries ?? 20;
    this.random = opts.random ?? randomBytes;
  }

  // ---------------------------------------------------------------------------- public API

  identity(): DeviceIdentity {
    return {
      kind: 'bill-validator',
      model: this.setup ? `ITL eSSP ${this.setup.unitName}` : 'ITL eSSP',
      ...(this.setup ? { version: this.setup.firmware } : {}),
      ...(this.serial ? { serial: this.serial } : {}),
    };
  }

  protected async inhibit(): Promise<void> {
    await this.ok(Cmd.disable);
  }

  // ---------------------------------------------------------------------------- life cycle

  protected async step(): Promise<void> {
    if (!(await this.connect())) return;
    try {
      await this.tick();
    } catch (err) {
      if (!(err instanceof KeyNotSetError)) throw err;
      this.log('warn', 'essp: the device answers KEY NOT SET (it lost power or was reset): negotiating a new key');
      this.ready = false;
      return;
    }
    await this.sleep(this.pollIntervalMs);
  }

  protected resetLine(): void {
    this.splitter.reset();
  }

  protected abortWait(): void {
    this.waiter?.done('closed');
  }

  /** Decisions are sent by the loop, which runs only while the device is ready. */
  protected override decisionsGo(): boolean {
    return this.ready;
  }

  /** SYNC, protocol version, key, setup; then the device is left disabled with the wanted channels set. */
  protected async startUp(): Promise<void> {
    this.log('info', 'essp: start-up sequence', { port: this.transport.description, address: this.address });
    this.starting = true;
    try {
      this.session = undefined;
      await this.ok(Cmd.sync);
      await this.chooseProtocolVersion();
      await this.negotiateKey();
      this.loadSetup(parseSetup((await this.ok(Cmd.setupRequest)).data));
      await this.readSerial();
      await this.returnHeldNote();
      await this.ok(Cmd.disable);
      await this.ok(Cmd.setInhibits, inhibitMask(this.wantedChannels()));

      // What happened since the last session (a power-up, notes cleared, a credit owed, a note on its
      // way) is settled before open() resolves, as the ID-003 driver does before its Reset.
      for (let polls = 0; polls < SETTLE_POLLS && !this.closed; polls++) {
        await this.tick();
        if (!this.busy()) break;
        await this.sleep(this.pollIntervalMs);
      }
      if (this.closed) return;
      if (this.desired.values !== undefined) await this.applyDesired();
      this.log('info', 'essp: ready', {
        protocolVersion: this.protocolVersion,
        pollWithAck: this.pollWithAck,
        notes: this.notes.map((n) => n.value),
      });
    } finally {
      this.starting = false;
    }
  }

  private async chooseProtocolVersion(): Promise<void> {
    for (const version of PROTOCOL_VERSIONS) {
      const reply = await this.transact(Cmd.hostProtocolVersion, Buffer.of(version));
      if (reply.status === 'ok') {
        this.protocolVersion = version;
        return;
      }
      if (reply.status !== 'fail') throw this.refused(Cmd.hostProtocolVersion, reply);
      this.log('info', 'essp: device refuses host protocol version, trying a lower one', { version });
    }
    throw new Error(`device supports none of host protocol versions ${PROTOCOL_VERSIONS.join(', ')}`);
  }

  private async negotiateKey(): Promise<void> {
    const exchange = newKeyExchange(this.random);
    await this.ok(Cmd.setGenerator, uint64le(exchange.generator));
    await this.ok(Cmd.setModulus, uint64le(exchange.modulus));
    const reply = await this.ok(Cmd.requestKeyExchange, uint64le(exchange.hostIntermediate));
    if (reply.data.length < 8) throw new Error(`key exchange reply too short: ${reply.data.length} bytes`);
    const key = negotiatedKey(exchange, reply.data.readBigUInt64LE(0));
    this.session = new HostSession(aesKey(this.fixedKey, key), this.random);
    this.log('info', 'essp: encryption key negotiated');
  }

  private loadSetup(setup: SetupInfo): void {
    this.setup = setup;
    this.notes = setup.channels
      .filter((c) => c.value > 0)
      .map((c) => ({ value: c.value, currency: c.currency, code: c.channel }))
      .sort((a, b) => a.value - b.value);
    if (this.notes.length === 0) this.log('error', 'essp: the device reports no usable channels');
  }

  private async readSerial(): Promise<void> {
    try {
      const reply = await this.ok(Cmd.serialNumber);
      if (reply.data.length >= 4) this.serial = String(reply.data.readUInt32BE(0));
    } catch (err) {
      if (!(err instanceof RefusedError)) throw err;
      this.log('warn', 'essp: device refuses the serial number request');
    }
  }

  /**
   * A note still held in escrow from before a host restart: its Read event went to the process
   * that died, the device does not repeat it, and the next POLL would stack it undecided. REJECT
   * gives it back (the device answers "cannot be processed" when it holds none).
   */
  private async returnHeldNote(): Promise<void> {
    const reply = await this.transact(Cmd.reject);
    if (reply.status === 'key-not-set') throw new KeyNotSetError('device answers KEY NOT SET to REJECT');
    if (reply.status !== 'ok') return;
    this.log('warn', 'essp: a note was held in escrow from before; returning it');
    const held = cycleOf(0, null, 'return');
    held.rejectSent = true;
    this.cycles.current = held;
  }

  private wantedChannels(): number[] {
    const wanted = new Set(this.desired.values ?? this.notes.map((n) => n.value));
    return this.notes.filter((n) => wanted.has(n.value)).map((n) => n.code);
  }

  protected async applyDesired(): Promise<void> {
    await this.ok(Cmd.setInhibits, inhibitMask(this.wantedChannels()));
    // Read after the await: a disable() that arrived meanwhile must not be undone by this enable.
    await this.ok(this.desired.accepting ? Cmd.enable : Cmd.disable);
  }

  private busy(): boolean {
    return this.cycles.current !== undefined || this.owed.size > 0 || this.unacked !== undefined || this.noteMoving;
  }

  // ---------------------------------------------------------------------------- one exchange per step

  /** HOLD while the escrow hook decides, REJECT once it said return, EVENT ACK once a credit is durable, else poll. */
  private async tick(): Promise<void> {
    const cycle = this.cycles.current;
    if (cycle?.decision === 'asking' && !cycle.holdRefused) return this.hold(cycle);
    if (cycle?.decision === 'return' && !cycle.rejectSent) return this.reject(cycle);
    if (this.unacked && this.owed.size === 0) await this.eventAck();
    await this.pollOnce();
  }

  private async hold(cycle: Cycle): Promise<void> {
    const reply = await this.transact(Cmd.hold);
    if (reply.status === 'ok') return;
    if (reply.status === 'key-not-set') throw new KeyNotSetError('device answers KEY NOT SET to HOLD');
    cycle.holdRefused = true;
    this.log('warn', 'essp: HOLD refused; the note is no longer in escrow', { answer: genericName(reply.code) });
  }

  private async reject(cycle: Cycle): Promise<void> {
    const reply = await this.transact(Cmd.reject);
    if (reply.status === 'key-not-set') throw new KeyNotSetError('device answers KEY NOT SET to REJECT');
    cycle.rejectSent = true;
    if (reply.status !== 'ok') {
      this.log('warn', 'essp: REJECT refused; the note is no longer in escrow', { answer: genericName(reply.code) });
    }
  }

  private async eventAck(): Promise<void> {
    const reply = await this.transact(Cmd.eventAck);
    if (reply.status === 'key-not-set') throw new KeyNotSetError('device answers KEY NOT SET to EVENT ACK');
    // "Cannot be processed": nothing is waiting for an ACK any more (an earlier ACK did arrive).
    if (reply.status === 'ok' || reply.status === 'cannot-process') this.unacked = undefined;
    else this.log('warn', 'essp: EVENT ACK refused', { answer: genericName(reply.code) });
  }

  private async pollOnce(): Promise<void> {
    const cmd = this.pollWithAck ? Cmd.pollWithAck : Cmd.poll;
    const reply = await this.transact(cmd);
    if (reply.status === 'key-not-set') throw new KeyNotSetError('device answers KEY NOT SET to POLL');
    if (reply.status === 'unknown-command' && this.pollWithAck) {
      this.pollWithAck = false;
      this.log('warn', 'essp: device does not know POLL WITH ACK; using POLL (a credit is then reported once, not until acknowledged)');
      return this.pollOnce();
    }
    if (reply.status !== 'ok') {
      this.log('warn', 'essp: poll refused', { answer: genericName(reply.code) });
      return;
    }
    const { events, unparsed } = parsePollEvents(reply.data, this.protocolVersion);
    if (unparsed.length > 0) this.log('warn', 'essp: poll events not understood', { bytes: unparsed.toString('hex') });
    // POLL WITH ACK sends the same events again until EVENT ACK: they were dealt with already.
    const repeat = this.unacked !== undefined && reply.data.equals(this.unacked);
    this.handleEvents(events, repeat);
    if (this.pollWithAck && !repeat && events.some((e) => ACK_EVENTS.has(e.code))) this.unacked = Buffer.from(reply.data);
    for (const owed of this.owed) this.cycles.credit(owed);
    if (this.rejectReasonWanted) await this.reportRejection();
    if (this.unacked && this.owed.size === 0) await this.eventAck();
  }

  // ---------------------------------------------------------------------------- events

  private handleEvents(events: PollEvent[], repeat: boolean): void {
    let health = READY;
    let powerUp: BillAtPowerUp | undefined;
    let moving = false;
    for (const e of events) {
      const fault = faultOf(e);
      if (fault && health === READY) health = fault;
      if (NOTE_ACTIVITY.has(e.kind)) moving = true;
      // A repeated credit may still be waiting for its hook; nothing else is acted on twice.
      if (repeat && e.kind !== 'credit') continue;
      switch (e.kind) {
        case 'slave-reset':
          powerUp = 'none';
          this.unacked = undefined;
          this.endCycle('the device restarted');
          break;
        case 'cleared-from-front':
          powerUp = 'acceptor';
          this.log('warn', 'essp: a note in the path at power-up was given back', { channel: e.channel });
          break;
        case 'cleared-into-cashbox':
          powerUp = 'stacker';
          this.log('warn', 'essp: a note in the path at power-up went into the cash box', { channel: e.channel });
          break;
        case 'read':
          if (e.channel! > 0) this.onEscrow(e.channel!);
          break;
        case 'credit':
          this.onCredit(e.channel!);
          break;
        case 'stacked':
          this.onStacked();
          break;
        case 'rejected':
          this.onRejected();
          break;
        case 'unsafe-jam':
        case 'safe-jam':
        case 'fraud-attempt':
          this.endCycle(e.kind);
          break;
        case 'payout-value':
        case 'payout-incomplete':
          this.log('warn', 'essp: payout event from a validator ignored', { code: hex(e.code), data: e.data.toString('hex') });
          break;
        default:
          break;
      }
    }
    this.noteMoving = moving;
    if (!repeat) this.setStatus(health);
    if (powerUp !== undefined) {
      this.log('warn', 'essp: device powered up', { bill: powerUp });
      const bill = powerUp;
      this.tell(() => this.emit('power-up', { bill }));
      // Its settings are gone: the whole start-up runs again (unless it is running now).
      if (!this.starting) this.ready = false;
    }
  }

  private onEscrow(channel: number): void {
    if (this.cycles.current) this.endCycle('a new note reached escrow');
    this.cycles.escrow(cycleOf(channel, this.notes.find((n) => n.code === channel) ?? null, 'asking'));
  }

  /** The loop sends HOLD while asking and REJECT once the answer is return: it only needs waking. */
  protected decided(): void {
    this.wakeLoop();
  }

  private onCredit(channel: number): void {
    let cycle = this.cycles.current;
    if (!cycle || cycle.code !== channel) {
      this.log('warn', 'essp: credit for a note whose escrow this driver did not see', { channel });
      cycle = cycleOf(channel, null, 'stack');
      this.cycles.current = cycle;
    }
    cycle.creditSeen = true;
    if (cycle.credit !== 'done') this.owed.add(cycle);
  }

  /** EVENT ACK goes with the next loop pass once no credit is owed. */
  protected creditDurable(cycle: Cycle): void {
    this.owed.delete(cycle);
    if (this.ready) this.wakeLoop();
  }

  private onStacked(): void {
    const cycle = this.cycles.end();
    if (cycle && !cycle.creditSeen) this.log('error', 'essp: note stacked without a credit event', { note: cycle.note });
  }

  private onRejected(): void {
    const cycle = this.cycles.end();
    if (cycle?.decision === 'return') {
      this.log('info', 'essp: note returned', { note: cycle.note });
      this.tell(() => this.emit('returned', cycle.note));
      return;
    }
    this.rejectReasonWanted = true;
  }

  private async reportRejection(): Promise<void> {
    this.rejectReasonWanted = false;
    const reply = await this.transact(Cmd.lastRejectCode);
    const code = reply.status === 'ok' && reply.data.length > 0 ? reply.data[0]! : -1;
    const reason = code < 0 ? 'reason not available' : (REJECT_REASONS[code] ?? `reject code ${hex(code)}`);
    this.log('info', 'essp: note rejected by the device', { code, reason });
    this.tell(() => this.emit('rejected', { reason, code }));
  }

  private endCycle(why: string): void {
    const cycle = this.cycles.end();
    if (!cycle) return;
    if (!cycle.creditSeen) this.log('warn', 'essp: note in the path is gone without a credit', { note: cycle.note, why });
  }

  // ---------------------------------------------------------------------------- line

  private refused(cmd: number, reply: Reply): RefusedError {
    return new RefusedError(`device refused command ${hex(cmd)}: ${genericName(reply.code)}`);
  }

  /** A command that must be answered OK. */
  private async ok(cmd: number, args: Buffer = EMPTY): Promise<Reply> {
    const reply = await this.transact(cmd, args);
    if (reply.status === 'key-not-set') throw new KeyNotSetError(`device answers KEY NOT SET to command ${hex(cmd)}`);
    if (reply.status !== 'ok') throw this.refused(cmd, reply);
    return reply;
  }

  /** Queues a command behind the one on the line and resolves with its reply. */
  private transact(cmd: number, args: Buffer = EMPTY): Promise<Reply> {
    return this.queue.run(() => this.exchange(cmd, args));
  }

  private async exchange(cmd: number, args: Buffer): Promise<Reply> {
    const plain = Buffer.concat([Buffer.of(cmd), args]);
    const session = PLAIN_COMMANDS.has(cmd) ? undefined : this.session;
    const seq = cmd === Cmd.sync ? true : !this.lastSeq;
    this.lastSeq = seq;
    // Encrypted once: a re-send is the same packet with the same counter and sequence flag.
    const frame = encodeFrame(this.address, seq, session ? session.seal(plain) : plain);
    for (let attempt = 1; attempt <= this.tries; attempt++) {
      if (this.closed) throw new NoAnswerError('driver closed');
      if (!this.transport.isOpen) throw new NoAnswerError(`${this.transport.description} is not open`);
      const outcome = new Promise<Outcome>((resolve) => {
        this.waiter = { seq, session, garbled: false, done: resolve };
      });
      let deadline: ReplyDeadline | undefined;
      try {
        await this.transport.write(frame);
        deadline = replyDeadline(this.replyTimeoutMs, () => this.waiter?.done('timeout'));
        const result = await outcome;
        if (typeof result === 'object') return result;
        if (result === 'closed') throw new NoAnswerError('link closed');
        if (this.current.health !== 'offline') {
          const garbled = this.waiter?.garbled ?? false;
          this.log('warn', `essp: ${garbled ? 'unusable reply' : 'reply time-out'}; sending again with the same sequence flag`, {
            cmd: hex(cmd),
            attempt,
          });
        }
        this.splitter.abandonPending();
      } catch (err) {
        if (err instanceof NoAnswerError) throw err;
        throw writeFailed(err);
      } finally {
        deadline?.clear();
        this.waiter = undefined;
      }
    }
    throw new NoAnswerError(`no answer to command ${hex(cmd)} after ${this.tries} tries`);
  }

  protected onData(chunk: Buffer): void {
    const before = this.splitter.stats.badCrc + this.splitter.stats.aborted;
    for (const frame of this.splitter.push(chunk)) this.onFrame(frame);
    // A damaged reply is answered by a re-send when the time-out expires, not at once: the device
    // would repeat its reply, and a second copy would be taken for the answer to the next command.
    if (this.splitter.stats.badCrc + this.splitter.stats.aborted !== before && this.waiter) this.waiter.garbled = true;
    this.noise.report(this.splitter.stats);
  }

  private onFrame(frame: Frame): void {
    const waiter = this.waiter;
    if (!waiter || frame.address !== this.address || frame.seq !== waiter.seq) {
      this.log('info', 'essp: unexpected packet ignored', {
        address: frame.address,
        seq: frame.seq,
        data: frame.data.toString('hex'),
        waiting: waiter !== undefined,
      });
      return;
    }
    let data: Buffer = frame.data;
    if (waiter.session) {
      if (data[0] === STEX) {
        const opened = waiter.session.open(data);
        if (!opened.ok) {
          this.log('warn', `essp: reply refused: ${opened.reason}`);
          waiter.garbled = true;
          return;
        }
        data = opened.data;
      } else if (!(data.length === 1 && data[0] === Generic.keyNotSet)) {
        // Only KEY NOT SET may come in the clear: a device without a key cannot encrypt it.
        this.log('warn', 'essp: plain reply to an encrypted command refused', { data: data.toString('hex') });
        waiter.garbled = true;
        return;
      }
    } else if (data[0] === STEX) {
      this.log('warn', 'essp: encrypted reply to a plain command refused', { data: data.toString('hex') });
      waiter.garbled = true;
      return;
    }
    waiter.done(decodeReply(data));
  }
}
