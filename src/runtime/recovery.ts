import { createActor, fromCallback, type Actor } from 'xstate';
import type { BillAtPowerUp } from '../../drivers/types.js';
import { recoveryMachine, type RecoveryEvent, type RecoveryFacts } from '../../states/recovery.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { AlarmSink } from '../alarms/sink.js';
import { recoverOpenTransactions } from '../recovery/recover.js';
import type { CardPayments } from './cards.js';
import type { MobilePayments } from './mobile.js';
import { fittedDevices, openWithin, type Devices } from './devices.js';
import type { ChangePayer } from './payout.js';
import { finishInterrupted, type ResumeDeps } from './resume.js';
import type { SlipService } from './slips.js';

export interface BootRecoveryDeps {
  journal: Journal;
  devices: Devices;
  alarms: AlarmSink;
  cards: CardPayments;
  mobile: MobilePayments;
  payer: ChangePayer;
  slips: SlipService;
  /** Finishing what a crash interrupted for the customer: change, receipt, slip (see resume.ts). */
  resume: Omit<ResumeDeps, 'journal' | 'payer' | 'slips' | 'forwardNow' | 'log'>;
  /** How long the boot waits for each device to open. */
  bootWaitMs: number;
  forwardNow: () => void;
  log: Logger;
}

/**
 * Closes what a crash left open: opens the devices, then decides the journal's open transactions
 * whenever the recovery machine says so (at boot, and again for a deferred one), and pays change
 * a crash interrupted.
 */
export class BootRecovery {
  private readonly actor: Actor<typeof recoveryMachine>;
  private failure: unknown = null;

  constructor(private readonly d: BootRecoveryDeps) {
    this.actor = createActor(
      recoveryMachine.provide({
        actors: {
          decide: fromCallback<RecoveryEvent, RecoveryFacts>(({ input, sendBack }) => {
            try {
              sendBack({ type: 'DECIDED', deferred: this.decide(input) });
            } catch (e) {
              this.failure = e;
              sendBack({ type: 'DECISION_FAILED' });
            }
          }),
        },
      }),
    );
    this.actor.start();
  }

  /** The terminal machine's `recover` step. */
  async recover(): Promise<void> {
    const { validator } = this.d.devices;
    const wait = this.d.bootWaitMs;
    const others = fittedDevices(this.d.devices).filter(([, d]) => d !== validator);
    const [validatorReady] = await Promise.all([
      openWithin(validator, wait, (e) => this.d.log.error({ err: e.message }, 'validator did not start; it keeps retrying by itself')),
      ...others.map(([name, d]) =>
        openWithin(d, wait, (e) => this.d.log.error({ device: name, err: e.message }, `${name} did not start; it keeps retrying by itself`)),
      ),
    ]);
    // What a wallet gateway says about a request a crash cut off comes before any decision.
    await this.d.mobile.recoverUnresolved();
    this.send({ type: 'DEVICES_OPENED', validatorReady });
    const payouts = await this.d.payer.recoverPending();
    for (const p of payouts) this.d.journal.append(null, 'recovery.payout', { ...p });
    const { journal, payer, slips, forwardNow, log } = this.d;
    await finishInterrupted({ ...this.d.resume, journal, payer, slips, forwardNow, log });
  }

  validatorPowerUp(bill: BillAtPowerUp): void {
    this.send({ type: 'VALIDATOR_POWER_UP', bill });
  }

  noteHandedBack(): void {
    this.send({ type: 'NOTE_HANDED_BACK' });
  }

  validatorOk(idle: boolean): void {
    this.send({ type: 'VALIDATOR_OK', idle });
  }

  transactionEnded(): void {
    this.send({ type: 'TRANSACTION_ENDED' });
  }

  stop(): void {
    this.actor.stop();
  }

  /** A decision that failed throws to whoever caused it, as a direct call would. */
  private send(event: RecoveryEvent): void {
    this.actor.send(event);
    const failure = this.failure;
    this.failure = null;
    if (failure !== null) throw failure;
  }

  /** Decides every open transaction from the journal and these facts; true if one still waits for the validator. */
  private decide(facts: RecoveryFacts): boolean {
    const { journal, alarms, log } = this.d;
    const decisions = recoverOpenTransactions(journal, facts);
    for (const d of decisions) {
      journal.append(d.txnId, 'recovery.decision', { ...d });
      log.warn(d, `recovered transaction ${d.txnId}: ${d.action}`);
      if ((d.action === 'settled' || d.action === 'cancelled') && d.unresolved) {
        alarms.raise({
          kind: 'note-unresolved',
          source: 'validator',
          severity: 'critical',
          detail: `transaction ${d.txnId}: a ${d.unresolved} fen note was in the validator at the restart and it reports neither stacking nor returning it; check the validator and count the cash box`,
        });
      }
      if (d.action === 'card-reversed') this.d.cards.followUp(d.txnId, d.requestId, d.reversal);
      // The customer who would have taken this receipt is gone: keep it for a reprint.
      if (d.action === 'settled' && this.d.devices.printer) journal.receiptFailed(d.txnId, 'not printed: the kiosk restarted');
      if (d.action !== 'deferred') {
        const id = d.txnId;
        void this.d.slips.issue(id).then((slip) => slip !== 'none' && this.d.resume.show(id));
      }
    }
    if (decisions.length > 0) this.d.forwardNow();
    return decisions.some((d) => d.action === 'deferred');
  }
}
