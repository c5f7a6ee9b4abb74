import { DEFAULT_TIME_ZONE } from '../../drivers/time.js';
import type { Config } from '../config/schema.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { COLLECT_NOTES, COMMANDS, UsageError, collectionLines, collectionResult, helpLines, type CommandContext, type Payload } from './commands.js';
import { duration, faceValue, PAGE_LINES, wrapLine } from './format.js';
import { Lockout, RefusalAudit } from './lockout.js';
import { COST, hashCost, hashPin, isValidPin, verifyPin } from './pin.js';

/** Asks the kiosk service; rejects when it cannot be reached. */
export type Requester = (req: ControlRequest) => Promise<ControlResponse>;

/** Where the session's text goes: the line editor on a serial port, or a test's recorder. */
export interface ConsoleOutput {
  line(text: string): void;
  prompt(text: string, masked: boolean): void;
}

export interface SessionOptions {
  settings: Config['console'];
  request: Requester;
  output: ConsoleOutput;
  terminalId?: string;
  /** The configuration's IANA time zone, in which every time is shown; Asia/Shanghai when absent. */
  timeZone?: string;
  /** Milliseconds; injected by tests for lock-outs and idle logouts. */
  now?: () => number;
  /**
   * Called when the engineer leaves: `exit`, or Ctrl-C, Ctrl-D or `exit` at the login prompt. The
   * stdin/stdout console ends there; a serial one (no onExit) shows a fresh login prompt.
   */
  onExit?: () => void;
  /** How often refused input at a locked console is journalled: once per window. */
  refusalWindowMs?: number;
}

type Stage =
  | { kind: 'name' }
  | { kind: 'pin'; name: string }
  | { kind: 'ready' }
  | { kind: 'count'; counts: number[] }
  | { kind: 'confirm'; counts: number[] }
  | { kind: 'more'; rest: string[]; then: Stage };

const MAX_NAME = 32;

const decoys = new Map<string, string>();

/**
 * Verified against when the name is unknown (or the PIN too short to be one), so a wrong name
 * takes as long as a wrong PIN and the console does not tell which names exist: made with the
 * same cost as the first engineer's hash.
 */
function decoyHash(like: string | undefined): string {
  const cost = (like !== undefined ? hashCost(like) : null) ?? COST;
  const key = `${cost.N}/${cost.r}/${cost.p}`;
  let hash = decoys.get(key);
  if (!hash) {
    hash = hashPin('000000', Buffer.alloc(16, 0x5a), cost);
    decoys.set(key, hash);
  }
  return hash;
}

/**
 * The engineers' console, independent of its transport: login with name and PIN, a lock-out
 * after repeated failures, idle logout, and the commands. Every login, refusal, lock-out and
 * command is reported to the service as an `audit` request so the journal keeps who did what.
 * Lines are handled strictly one after the other, whatever the service's speed.
 */
export class ConsoleSession {
  private stage: Stage = { kind: 'name' };
  private who: string | null = null;
  /** The console's own copy of the lock-out; the service's copy (in the journal) wins when it answers. */
  private readonly lockout: Lockout;
  private readonly refusals: RefusalAudit;
  private lastActivity: number;
  private queue: Promise<void> = Promise.resolve();
  private busy = false;
  private readonly now: () => number;
  private readonly terminalId: string;

  constructor(private readonly opts: SessionOptions) {
    this.now = opts.now ?? Date.now;
    this.terminalId = opts.terminalId ?? 'kiosk';
    this.lastActivity = this.now();
    this.lockout = new Lockout(opts.settings.maxFailures, opts.settings.lockoutMs);
    this.refusals = new RefusalAudit(opts.refusalWindowMs);
  }

  /** The engineer logged in, or null. */
  get user(): string | null {
    return this.who;
  }

  /** Greets and asks for a name. */
  start(): void {
    this.say(`${this.terminalId} engineers' console`);
    this.reprompt();
  }

  /** The current prompt again, e.g. after the serial line was reopened. */
  reprompt(): void {
    const out = this.opts.output;
    const s = this.stage;
    switch (s.kind) {
      case 'name':
        return out.prompt(`${this.terminalId} login: `, false);
      case 'pin':
        return out.prompt('PIN: ', true);
      case 'ready':
        return out.prompt(`${this.who}@${this.terminalId}> `, false);
      case 'count':
        return out.prompt(`notes of ${faceValue(COLLECT_NOTES[s.counts.length] ?? 0)}: `, false);
      case 'confirm':
        return out.prompt('confirm this collection? (y/n) ', false);
      case 'more':
        return out.prompt('--more-- (Enter: next page, q: stop) ', false);
    }
  }

  /** A keystroke: the engineer is still there. */
  touch(): void {
    this.lastActivity = this.now();
  }

  /** One finished line. Resolves once it (and every line before it) has been handled. */
  handleLine(line: string): Promise<void> {
    return this.enqueue(async () => {
      this.touch();
      await this.dispatch(line.trim());
      this.reprompt();
    });
  }

  /** Ctrl-C: leaves the login prompt, abandons a collection or the rest of a long output. */
  interrupt(): Promise<void> {
    return this.enqueue(async () => {
      this.touch();
      const s = this.stage;
      if (s.kind === 'name' || s.kind === 'pin') return this.leave();
      if (s.kind === 'count' || s.kind === 'confirm') await this.cancelCollection();
      if (s.kind === 'more') this.stage = s.then;
      this.reprompt();
    });
  }

  /** Ctrl-D on an empty line: leaves the login prompt, or logs out, as a shell does. */
  endOfInput(): Promise<void> {
    return this.enqueue(async () => {
      this.touch();
      const s = this.stage;
      if (s.kind === 'name' || s.kind === 'pin') return this.leave();
      if (s.kind === 'ready') {
        this.say('');
        return this.command('exit');
      }
      this.reprompt();
    });
  }

  /**
   * Leaving the login prompt: the terminal's console ends; on a serial line, where the line stays
   * for the next engineer, a fresh login prompt.
   */
  private leave(): void {
    this.stage = { kind: 'name' };
    if (this.opts.onExit) {
      this.opts.onExit();
      return;
    }
    this.say('');
    this.reprompt();
  }

  /** Logs out a session idle for longer than idleMs; called periodically by the transport. */
  checkIdle(): Promise<void> {
    if (this.busy) return this.queue;
    return this.enqueue(async () => {
      if (this.now() - this.lastActivity < this.opts.settings.idleMs) return;
      if (this.stage.kind === 'pin') {
        this.stage = { kind: 'name' };
        this.say('');
        this.reprompt();
        return;
      }
      if (this.who === null) return;
      const who = this.who;
      this.endSession();
      this.say('');
      this.say(`logged out after ${duration(this.opts.settings.idleMs)} without input`);
      await this.audit(who, 'idle logout', true);
      this.reprompt();
    });
  }

  /** The line went away (cable pulled): nobody stays logged in on a console no one watches. */
  lineLost(): Promise<void> {
    return this.enqueue(async () => {
      if (this.stage.kind === 'pin') this.stage = { kind: 'name' };
      if (this.who === null) return;
      const who = this.who;
      this.endSession();
      await this.audit(who, 'logout: serial line closed', true);
    });
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = async () => {
      this.busy = true;
      try {
        await work();
      } catch (e) {
        // A bug in one command must not take the console down with it.
        this.say(`error: ${(e as Error).message}`);
        this.reprompt();
      } finally {
        this.busy = false;
      }
    };
    this.queue = this.queue.then(run);
    return this.queue;
  }

  private async dispatch(line: string): Promise<void> {
    const s = this.stage;
    switch (s.kind) {
      case 'name':
        return this.nameEntered(line);
      case 'pin':
        return this.pinEntered(s.name, line);
      case 'ready':
        return this.command(line);
      case 'count':
        return this.countEntered(s.counts, line);
      case 'confirm':
        return this.confirmEntered(s.counts, line);
      case 'more':
        this.stage = s.then;
        if (line.toLowerCase() !== 'q') this.page(s.rest);
        return;
    }
  }

  // ------------------------------------------------------------------ login

  private async nameEntered(name: string): Promise<void> {
    if (name === '') return;
    if (name === 'exit' || name === 'logout') return this.leave();
    const left = await this.lockedFor();
    if (left > 0) {
      this.say(`console locked after too many failed logins: try again in ${duration(left)}`);
      const action = this.refusals.refused(this.now(), `login refused: console locked (name ${safeName(name)})`);
      if (action !== null) await this.audit('-', action, false);
      return;
    }
    await this.flushRefusals();
    this.stage = { kind: 'pin', name: name.slice(0, 64) };
  }

  /**
   * How long the console stays locked. While its own copy says locked it does not ask (a flood of
   * lines must not become a flood of requests); otherwise the service's journalled lock-out
   * decides, so a restarted console is as locked as the one before.
   */
  private async lockedFor(): Promise<number> {
    const local = this.lockout.remaining(this.now());
    if (local > 0) return local;
    const answer = await this.lockoutRequest('check');
    return answer ? Math.max(0, answer.lockedUntil - this.now()) : 0;
  }

  /** The service's lock-out (kept in its journal), or null when it cannot be asked. */
  private async lockoutRequest(op: 'check' | 'failed' | 'success'): Promise<{ lockedUntil: number; lockMs: number | null } | null> {
    try {
      const res = await this.opts.request({ cmd: 'console-lockout', op });
      if (!res.ok) return null;
      const lockedUntil = typeof res.lockedUntil === 'number' ? res.lockedUntil : 0;
      const lockMs = typeof res.lockMs === 'number' ? res.lockMs : null;
      const state = this.lockout.state;
      this.lockout.restore({ ...state, lockedUntil: Math.max(state.lockedUntil, lockedUntil) });
      return { lockedUntil, lockMs };
    } catch {
      return null;
    }
  }

  private async pinEntered(name: string, pin: string): Promise<void> {
    this.stage = { kind: 'name' };
    // Not a PIN (those are digits): the way out, as at the name.
    if (pin === 'exit' || pin === 'logout') return this.leave();
    const engineers = this.opts.settings.engineers;
    const engineer = engineers.find((e) => e.name === name);
    // A PIN shorter than the rule is refused like a wrong one, after the same work.
    const usable = isValidPin(pin);
    if (!engineer || !usable) await verifyPin(pin, decoyHash(engineers[0]?.pin));
    if (engineer && usable && (await verifyPin(pin, engineer.pin))) {
      this.lockout.succeeded();
      await this.lockoutRequest('success');
      this.who = engineer.name;
      this.stage = { kind: 'ready' };
      this.say(`welcome, ${engineer.name}. Type 'help' for the commands.`);
      await this.audit(engineer.name, 'login', true);
      return;
    }
    const localLock = this.lockout.failed(this.now());
    const remote = await this.lockoutRequest('failed');
    // The service's answer wins; without one the console's own count decides.
    const lockMs = remote ? remote.lockMs : localLock;
    this.say('login incorrect');
    await this.audit('-', `login refused: ${engineer ? 'wrong PIN' : 'unknown name'} (name ${safeName(name)})`, false);
    if (lockMs !== null) {
      this.say(`too many failed logins: console locked for ${duration(lockMs)}`);
      await this.audit('-', `console locked for ${duration(lockMs)} after ${this.opts.settings.maxFailures} failed logins`, false);
    }
  }

  private async flushRefusals(): Promise<void> {
    const pending = this.refusals.flush();
    if (pending !== null) await this.audit('-', `login refused: console locked; ${pending}`, false);
  }

  private endSession(): void {
    this.who = null;
    this.stage = { kind: 'name' };
  }

  // ------------------------------------------------------------------ commands

  private async command(line: string): Promise<void> {
    if (line === '') return;
    const who = this.who ?? '-';
    const [name = '', ...args] = line.split(/\s+/);
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) {
      this.say(`error: unknown command '${name.slice(0, 40)}' (type help)`);
      await this.audit(who, line, false);
      return;
    }
    switch (cmd.name) {
      case 'help':
        this.page(helpLines());
        await this.audit(who, line, true);
        return;
      case 'logout':
      case 'exit':
        this.endSession();
        this.say('logged out');
        await this.audit(who, cmd.name, true);
        if (cmd.name === 'exit') this.opts.onExit?.();
        return;
      case 'collect':
        if (args.length > 0) {
          this.say('error: usage: collect (the counts are asked one by one)');
          await this.audit(who, line, false);
          return;
        }
        this.say('cash collection: type the number of notes counted for each value (Ctrl-C cancels)');
        this.stage = { kind: 'count', counts: [] };
        return;
    }
    let ok = false;
    // A command's output is gathered and shown a screen at a time.
    const printed: string[] = [];
    try {
      ok = (await cmd.run?.(this.context(who, printed), args)) ?? false;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      printed.push(`error: ${e.message}`);
    }
    this.page(printed);
    await this.audit(who, line, ok);
  }

  /**
   * Lines shown a screen at a time (80×24: the last row is the prompt): past a screen the rest
   * waits behind a `--more--` prompt. Long lines are wrapped at spaces, never mid-word.
   */
  private page(lines: string[]): void {
    const rows = lines.flatMap((l) => wrapLine(l));
    if (rows.length <= PAGE_LINES) {
      for (const r of rows) this.opts.output.line(r);
      return;
    }
    for (const r of rows.slice(0, PAGE_LINES)) this.opts.output.line(r);
    this.stage = { kind: 'more', rest: rows.slice(PAGE_LINES), then: this.stage };
  }

  private context(who: string, printed: string[]): CommandContext {
    const print = (l: string) => printed.push(l);
    return {
      who,
      now: this.now,
      timeZone: this.opts.timeZone ?? DEFAULT_TIME_ZONE,
      print,
      request: (req) => this.ask(req, print),
      call: async (req) => {
        const res = await this.ask(req, print);
        if (!res) return null;
        if (!res.ok) {
          print(`error: ${res.error}`);
          return null;
        }
        return res as Payload;
      },
    };
  }

  /** A request to the service; a service that does not answer is one clear line, never a crash. */
  private async ask(req: ControlRequest, print: (l: string) => void = (l) => this.say(l)): Promise<ControlResponse | null> {
    try {
      return await this.opts.request(req);
    } catch (e) {
      print(`service not reachable: ${(e as Error).message}`);
      return null;
    }
  }

  // ------------------------------------------------------------------ cash collection

  private async countEntered(counts: number[], text: string): Promise<void> {
    if (!/^\d{1,7}$/.test(text) || Number(text) > 1_000_000) {
      this.say(`error: type the number of ${faceValue(COLLECT_NOTES[counts.length] ?? 0)} notes, 0 if none`);
      return;
    }
    const next = [...counts, Number(text)];
    if (next.length < COLLECT_NOTES.length) {
      this.stage = { kind: 'count', counts: next };
      return;
    }
    for (const l of collectionLines(next)) this.say(l);
    this.stage = { kind: 'confirm', counts: next };
  }

  private async confirmEntered(counts: number[], text: string): Promise<void> {
    const answer = text.toLowerCase();
    if (answer === 'n' || answer === 'no') return this.cancelCollection();
    if (answer !== 'y' && answer !== 'yes') {
      this.say("error: answer 'y' to send the counts or 'n' to cancel");
      return;
    }
    this.stage = { kind: 'ready' };
    const who = this.who ?? '-';
    const counted = Object.fromEntries(COLLECT_NOTES.map((value, i) => [String(value), counts[i] ?? 0]));
    const res = await this.ask({ cmd: 'cash-collection', by: who, counted });
    const summary = `collect ${COLLECT_NOTES.map((v, i) => `${v / 100}:${counts[i] ?? 0}`).join(' ')}`;
    if (!res) {
      this.say('the collection was NOT recorded: run collect again once the service answers');
      await this.audit(who, summary, false);
      return;
    }
    const result = collectionResult(res);
    for (const l of result.lines) this.say(l);
    await this.audit(who, `${summary} (${result.agreed ? 'agrees' : 'difference'})`, result.agreed);
  }

  private async cancelCollection(): Promise<void> {
    this.stage = { kind: 'ready' };
    this.say('cash collection cancelled: nothing was recorded');
    await this.audit(this.who ?? '-', 'collect cancelled', false);
  }

  // ------------------------------------------------------------------ output and audit

  private say(text: string): void {
    for (const row of wrapLine(text)) this.opts.output.line(row);
  }

  /** Best effort: a service that cannot journal has already been reported as unreachable. */
  private async audit(who: string, action: string, ok: boolean): Promise<void> {
    try {
      await this.opts.request({ cmd: 'audit', who: who.slice(0, 64), action: action.slice(0, 200), ok });
    } catch {
      // The console stays usable while the service is down; the refusal was shown on screen.
    }
  }
}

/**
 * A typed name as it goes to the journal: short, and only the characters a name may have. A name
 * of digits only is most likely a PIN typed a line too early: it is not recorded at all.
 */
function safeName(name: string): string {
  if (/^[\d\s]+$/.test(name)) return 'of digits only, not recorded';
  const cleaned = name.slice(0, MAX_NAME).replace(/[^a-z0-9_-]/gi, '?');
  return `"${cleaned}"`;
}
