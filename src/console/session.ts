import type { Config } from '../config/schema.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { COLLECT_NOTES, COMMANDS, UsageError, collectionLines, collectionResult, helpLines, type CommandContext, type Payload } from './commands.js';
import { duration, faceValue } from './format.js';
import { hashPin, verifyPin } from './pin.js';

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
  /** Milliseconds; injected by tests for lock-outs and idle logouts. */
  now?: () => number;
  /** Called after `exit` (the stdin/stdout console ends there; a serial one goes back to login). */
  onExit?: () => void;
}

type Stage =
  | { kind: 'name' }
  | { kind: 'pin'; name: string }
  | { kind: 'ready' }
  | { kind: 'count'; counts: number[] }
  | { kind: 'confirm'; counts: number[] };

const MAX_NAME = 32;

let decoy: string | undefined;

/**
 * Verified against when the name is unknown, so a wrong name takes as long as a wrong PIN and
 * the console does not tell which names exist.
 */
function decoyHash(): string {
  decoy ??= hashPin('0000', Buffer.alloc(16, 0x5a));
  return decoy;
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
  private failures = 0;
  private lockedUntil = 0;
  private lastActivity: number;
  private queue: Promise<void> = Promise.resolve();
  private busy = false;
  private readonly now: () => number;
  private readonly terminalId: string;

  constructor(private readonly opts: SessionOptions) {
    this.now = opts.now ?? Date.now;
    this.terminalId = opts.terminalId ?? 'kiosk';
    this.lastActivity = this.now();
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

  /** Ctrl-C: abandons a login or a collection in progress. */
  interrupt(): Promise<void> {
    return this.enqueue(async () => {
      this.touch();
      const s = this.stage;
      if (s.kind === 'pin') this.stage = { kind: 'name' };
      if (s.kind === 'count' || s.kind === 'confirm') await this.cancelCollection();
      this.reprompt();
    });
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
    }
  }

  // ------------------------------------------------------------------ login

  private async nameEntered(name: string): Promise<void> {
    if (name === '') return;
    const left = this.lockedUntil - this.now();
    if (left > 0) {
      this.say(`console locked after ${this.opts.settings.maxFailures} failed logins: try again in ${duration(left)}`);
      await this.audit('-', `login refused: console locked (name ${safeName(name)})`, false);
      return;
    }
    if (this.lockedUntil !== 0) {
      this.lockedUntil = 0;
      this.failures = 0;
    }
    this.stage = { kind: 'pin', name: name.slice(0, 64) };
  }

  private async pinEntered(name: string, pin: string): Promise<void> {
    this.stage = { kind: 'name' };
    const engineer = this.opts.settings.engineers.find((e) => e.name === name);
    if (!engineer) verifyPin(pin, decoyHash());
    if (engineer && verifyPin(pin, engineer.pin)) {
      this.failures = 0;
      this.who = engineer.name;
      this.stage = { kind: 'ready' };
      this.say(`welcome, ${engineer.name}. Type 'help' for the commands.`);
      await this.audit(engineer.name, 'login', true);
      return;
    }
    this.failures++;
    this.say('login incorrect');
    await this.audit('-', `login refused: ${engineer ? 'wrong PIN' : 'unknown name'} (name ${safeName(name)})`, false);
    if (this.failures >= this.opts.settings.maxFailures) {
      this.lockedUntil = this.now() + this.opts.settings.lockoutMs;
      this.say(`too many failed logins: console locked for ${duration(this.opts.settings.lockoutMs)}`);
      await this.audit('-', `console locked for ${duration(this.opts.settings.lockoutMs)} after ${this.failures} failed logins`, false);
    }
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
        for (const l of helpLines()) this.say(l);
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
    try {
      ok = (await cmd.run?.(this.context(who), args)) ?? false;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      this.say(`error: ${e.message}`);
    }
    await this.audit(who, line, ok);
  }

  private context(who: string): CommandContext {
    return {
      who,
      now: this.now,
      print: (l) => this.say(l),
      request: (req) => this.ask(req),
      call: async (req) => {
        const res = await this.ask(req);
        if (!res) return null;
        if (!res.ok) {
          this.say(`error: ${res.error}`);
          return null;
        }
        return res as Payload;
      },
    };
  }

  /** A request to the service; a service that does not answer is one clear line, never a crash. */
  private async ask(req: ControlRequest): Promise<ControlResponse | null> {
    try {
      return await this.opts.request(req);
    } catch (e) {
      this.say(`service not reachable: ${(e as Error).message}`);
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
    this.opts.output.line(text);
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

/** A typed name as it goes to the journal: short, and only the characters a name may have. */
function safeName(name: string): string {
  const cleaned = name.slice(0, MAX_NAME).replace(/[^a-z0-9_-]/gi, '?');
  return `"${cleaned}"`;
}
