/**
 * The money rules of one note, from escrow to the cash box or back, shared by every bill validator
 * driver. The protocol drivers only say what the device reported and how a decision or an
 * acknowledgement goes on their line (the adapter); the order is kept here:
 *
 * 1. A note in escrow is decided by the escrow hook (which journals before it resolves); the device
 *    is told to stack or return only after the hook resolved. A note the device's table does not
 *    know, or a hook that fails, means 'return'.
 * 2. The credit point is acknowledged to the device only after the `credited` hook resolved; if the
 *    hook fails, nothing is acknowledged and the next report of the same credit asks again.
 * 3. A credit reported again after it was recorded (our acknowledgement was lost) is acknowledged
 *    again and never credited twice: `credit()` does nothing for a cycle whose credit is asked or done.
 * 4. A credit whose escrow this driver did not see (the host restarted, the device came back with a
 *    note in the path) is credited with `note: null`: the caller's journal knows what it was.
 */
import { hex } from '../line/request-line.js';
import type { BillValidatorHooks, DriverLog, EscrowDecision, Note } from '../types.js';

export interface NoteCycle {
  /** The device's code of the note (ID-003 escrow code, eSSP channel, CCNET bill type); undefined when not reported. */
  code: number | undefined;
  /** Null when the device's table does not know the code, or the escrow was not seen by this driver. */
  note: Note | null;
  decision: 'asking' | EscrowDecision;
  decisionSending: boolean;
  /** The device acknowledged the stack or return command. */
  decisionAcked: boolean;
  credit: 'none' | 'asking' | 'done';
}

/** What differs by protocol: how the device is told. */
export interface EscrowAdapter<C extends NoteCycle> {
  /** The decision is known and the cycle still current: send it (or wake the loop that sends it). */
  decided(cycle: C): void;
  /** The credit is durable: acknowledge it to the device (if the protocol still waits for that). */
  credited(cycle: C): void;
}

export interface EscrowCycleOptions {
  /** Log prefix, e.g. 'id003'. */
  label: string;
  log: DriverLog;
  hooks(): BillValidatorHooks;
  /** Whether a decision that arrives now may still go to the device. */
  running(): boolean;
  /** The log fields that name a note's code, e.g. `{ channel: 3 }`. */
  codeFields(code: number | undefined): object;
  /** Log line for a code the device's table does not have. */
  unknownNote: string;
}

export function newCycle<X extends object>(
  code: number | undefined,
  note: Note | null,
  decision: NoteCycle['decision'],
  extra: X,
): NoteCycle & X {
  return { code, note, decision, decisionSending: false, decisionAcked: false, credit: 'none', ...extra };
}

export class EscrowCycle<C extends NoteCycle> {
  /** The note in the path now; it outlives a reconnect, not a power-up. */
  current: C | undefined;

  constructor(
    private readonly opts: EscrowCycleOptions,
    private readonly adapter: EscrowAdapter<C>,
  ) {}

  /** A note reached escrow: it becomes the current one and its decision is asked for (rule 1). */
  escrow(cycle: C): void {
    const { label, log } = this.opts;
    this.current = cycle;
    const note = cycle.note;
    if (!note) {
      log('warn', `${label}: ${this.opts.unknownNote}; returning the note`, this.opts.codeFields(cycle.code));
      cycle.decision = 'return';
      this.adapter.decided(cycle);
      return;
    }
    log('info', `${label}: note in escrow`, { value: note.value, currency: note.currency, ...this.opts.codeFields(cycle.code) });
    const hooks = this.opts.hooks();
    Promise.resolve()
      .then(() => hooks.escrow(note))
      .then(
        (decision): EscrowDecision => (decision === 'stack' ? 'stack' : 'return'),
        (err: unknown): EscrowDecision => {
          log('warn', `${label}: escrow hook failed; returning the note`, { error: String(err) });
          return 'return';
        },
      )
      .then((decision) => {
        cycle.decision = decision;
        if (this.current === cycle && this.opts.running()) this.adapter.decided(cycle);
      });
  }

  /** The device reached the credit point for this note: record it, then acknowledge (rules 2 and 3). */
  credit(cycle: C): void {
    if (cycle.credit !== 'none') return;
    cycle.credit = 'asking';
    const { label, log } = this.opts;
    const hooks = this.opts.hooks();
    Promise.resolve()
      .then(() => hooks.credited(cycle.note))
      .then(
        () => {
          cycle.credit = 'done';
          log('info', `${label}: note credited`, { note: cycle.note });
          this.adapter.credited(cycle);
        },
        (err: unknown) => {
          cycle.credit = 'none';
          log('error', `${label}: credit hook failed; not acknowledging, will ask again`, { error: String(err) });
        },
      );
  }

  /**
   * For protocols where stack and return are commands the device acknowledges: sends the decision
   * unless it is on its way or not known yet; a lost acknowledgement is resent at the next escrow report.
   */
  sendDecision(cycle: C, commandOf: (decision: EscrowDecision) => number, send: (cmd: number) => Promise<unknown>): void {
    if (cycle.decisionSending || cycle.decision === 'asking') return;
    cycle.decisionSending = true;
    const cmd = commandOf(cycle.decision);
    send(cmd).then(
      () => {
        cycle.decisionSending = false;
        cycle.decisionAcked = true;
      },
      (err: Error) => {
        cycle.decisionSending = false;
        this.opts.log('warn', `${this.opts.label}: escrow command not acknowledged; will resend while in escrow`, {
          cmd: hex(cmd),
          error: err.message,
        });
      },
    );
  }

  /** The current note is finished with (stacked, returned, or forgotten by a reset); returns it. */
  end(): C | undefined {
    const cycle = this.current;
    this.current = undefined;
    return cycle;
  }
}
