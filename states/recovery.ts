/**
 * When the journal's open transactions are decided after a restart. Pure: the decision itself
 * (recoverOpenTransactions and what follows it) is the injected `decide` actor, which answers
 * DECIDED or DECISION_FAILED at once.
 *
 * Recovery runs once the devices have been opened at boot. A transaction whose note was in escrow
 * while the validator had not answered is deferred: it is decided again when the validator reports
 * ok with no customer at the kiosk, or when the running transaction ends. Until a decision is no
 * longer deferred, the validator's power-up and a note seen leaving through the slot are facts for
 * that decision.
 */
import { assign, fromCallback, setup } from 'xstate';
import type { BillAtPowerUp } from '../drivers/types.js';

/** What the decision may take from the validator (see recoverOpenTransactions). */
export interface RecoveryFacts {
  validatorReady: boolean;
  noteInStacker: boolean;
  noteHandedBack: boolean;
}

export type RecoveryEvent =
  /** The boot's opening of the devices ended; the validator answered in time or not. */
  | { type: 'DEVICES_OPENED'; validatorReady: boolean }
  | { type: 'VALIDATOR_POWER_UP'; bill: BillAtPowerUp }
  /** The validator gave a note back through the slot. */
  | { type: 'NOTE_HANDED_BACK' }
  /** The validator reports ok; `idle`: no transaction is running. */
  | { type: 'VALIDATOR_OK'; idle: boolean }
  | { type: 'TRANSACTION_ENDED' }
  /** From the decide actor: some transaction is still waiting for the validator. */
  | { type: 'DECIDED'; deferred: boolean }
  | { type: 'DECISION_FAILED' };

export interface RecoveryContext {
  validatorReady: boolean;
  powerUpBill: BillAtPowerUp;
  noteHandedBack: boolean;
  /** The last decision left a transaction waiting: a failed retry of it keeps waiting. */
  wasDeferred: boolean;
}

export function recoveryFacts(c: RecoveryContext): RecoveryFacts {
  return {
    validatorReady: c.validatorReady,
    noteInStacker: c.powerUpBill === 'stacker',
    noteHandedBack: c.noteHandedBack || c.powerUpBill === 'acceptor',
  };
}

export const recoveryMachine = setup({
  types: {
    context: {} as RecoveryContext,
    events: {} as RecoveryEvent,
  },
  actors: {
    decide: fromCallback<RecoveryEvent, RecoveryFacts>(() => {
      throw new Error('decide actor not provided');
    }),
  },
  actions: {
    noteHandedBack: assign({ noteHandedBack: true }),
  },
}).createMachine({
  id: 'recovery',
  initial: 'booting',
  context: { validatorReady: false, powerUpBill: 'none', noteHandedBack: false, wasDeferred: false },
  on: {
    // A recovery retried after a failure opens the devices again and decides again.
    DEVICES_OPENED: { target: '.deciding', actions: assign({ validatorReady: ({ event }) => event.validatorReady }) },
    VALIDATOR_POWER_UP: { actions: assign({ powerUpBill: ({ event }) => event.bill }) },
  },
  states: {
    booting: {
      on: { NOTE_HANDED_BACK: { actions: 'noteHandedBack' } },
    },
    deciding: {
      invoke: { src: 'decide', input: ({ context }) => recoveryFacts(context) },
      on: {
        DECIDED: [
          { guard: ({ event }) => event.deferred, target: 'deferred', actions: assign({ wasDeferred: true }) },
          { target: 'clear', actions: assign({ wasDeferred: false }) },
        ],
        // The decider threw (the journal refused a write): nothing counts as decided.
        DECISION_FAILED: [{ guard: ({ context }) => context.wasDeferred, target: 'deferred' }, { target: 'booting' }],
      },
    },
    deferred: {
      on: {
        NOTE_HANDED_BACK: { actions: 'noteHandedBack' },
        VALIDATOR_OK: { guard: ({ event }) => event.idle, target: 'deciding', actions: assign({ validatorReady: true }) },
        TRANSACTION_ENDED: { guard: ({ context }) => context.validatorReady, target: 'deciding' },
      },
    },
    // Nothing waits for the validator any more.
    clear: {},
  },
});
