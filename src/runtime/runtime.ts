import type { Server } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate';
import { randomBytes } from 'node:crypto';
import type { BillAtPowerUp, DeviceStatus } from '../../drivers/types.js';
import {
  isAcceptingCash,
  transactionMachine,
  type AcceptCashInput,
  type AcceptCashUpdate,
  type CloseInput,
  type PayChangeInput,
  type PayChangeOutput,
  type LookupInput,
  type LookupResult,
  type SettleInput,
  type TransactionEvent,
} from '../../states/transaction.js';
import { capabilities, CARD_READER, COIN_ACCEPTOR, HOPPER_PREFIX, PAYMENT_TERMINAL, PRINTER, terminalMachine, type SelfTestResult } from '../../states/terminal.js';
import type { Config } from '../config/schema.js';
import { serveControl } from '../control/server.js';
import type { ControlResponse } from '../control/protocol.js';
import { Journal, loadOrCreateKey } from '../journal/index.js';
import type { Logger, LogRing } from '../log.js';
import { AlarmBook, createManagementLink, deviceAlarms, journalChainAlarm, type ManagementLink } from '../management/index.js';
import { recoverOpenTransactions } from '../recovery/recover.js';
import { createBusinessAdapter, Forwarder, OutboxMonitor, watchServerCertificate, type BusinessAdapter } from '../uplink/index.js';
import { startScreen, type Screen } from '../api/index.js';
import { ControlHandler } from './control-handler.js';
import type { ActiveTxn, TransactionDesk } from '../desk/desk.js';
import { createDevices, fittedDevices, openWithin, type Devices } from './devices.js';
import { NoteFlow } from './notes.js';
import { CoinFlow } from './coins.js';
import { SystemdNotifier } from './sd-notify.js';
import { ChangePayer } from './payout.js';
import { ReceiptService } from './receipts.js';
import { CardPayments } from './cards.js';
import { stateName } from '../../states/state-name.js';

type Service = 'pay' | 'topup' | 'lookup';

export interface RuntimeDeps {
  /** Fault-injection seam for the crash tests: see Journal's crashAfter. */
  crashAfter?: string;
  /** Recent log lines, for the console's `log` command. */
  logRing?: LogRing;
  /** The configuration file, read again by the management link's reload-configuration command. */
  configPath?: string;
}

/** How long a stop lets a settlement, payout or receipt under way finish (within TimeoutStopSec=90). */
const STOP_EFFECTS_MS = 60_000;

/**
 * Wires the pieces together: devices → hooks → journal → machines, and the uplink. All money
 * decisions stay in the machines and the journal; this class only routes events and effects.
 */
export class Runtime {
  readonly journal: Journal;
  readonly devices: Devices;
  /** Where every part reports conditions for the operator (journalled, then sent by the management link). */
  readonly alarms: AlarmBook;
  private management: ManagementLink | undefined;
  private readonly notes: NoteFlow;
  private readonly coins: CoinFlow;
  private readonly payer: ChangePayer;
  private readonly receipts: ReceiptService;
  private readonly cards: CardPayments;
  private readonly business: BusinessAdapter;
  private readonly forwarder: Forwarder;
  private readonly outboxMonitor: OutboxMonitor;
  private readonly terminal: Actor<typeof terminalMachine>;
  private readonly control: ControlHandler;
  private readonly desk: TransactionDesk;
  private screen: Screen | undefined;
  private active: ActiveTxn | null = null;
  private lastTxnId: string | null = null;
  private powerUpBill: BillAtPowerUp = 'none';
  /** The validator handed a note back while recovery still had a transaction to decide. */
  private noteHandedBack = false;
  private recoveryRan = false;
  private deferredRecovery = false;
  private validatorReady = false;
  private server: Server | undefined;
  private lastTerminalState = '';
  private stopped = false;
  private readonly notifier = new SystemdNotifier();
  private readySent = false;
  /** The validator has been told to accept notes for the running transaction. */
  private accepting = false;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly deps: RuntimeDeps = {},
  ) {
    const key = loadOrCreateKey(config.journal.keyFile);
    this.journal = Journal.open(config.journal.path, {
      key,
      ...(deps.crashAfter ? { crashAfter: deps.crashAfter } : {}),
    });
    this.alarms = new AlarmBook(this.journal, log.child({ part: 'alarms' }));
    this.devices = createDevices(config, log, key);
    const { hoppers, printer } = this.devices;
    this.notes = new NoteFlow(this.journal, config.limits, () => this.active, log);
    this.coins = new CoinFlow(this.journal, this.devices.coinAcceptor, () => this.active, this.alarms, log.child({ part: 'coins' }));
    this.payer = new ChangePayer(this.journal, hoppers, config.change.reserve, log.child({ part: 'change' }));
    this.receipts = new ReceiptService(this.journal, printer, { operator: config.receipt.operator, terminalId: config.terminalId, width: config.printer?.width ?? 42 }, log.child({ part: 'receipts' }));
    this.business = createBusinessAdapter(config, log.child({ part: 'business-link' }));
    this.cards = new CardPayments({
      journal: this.journal,
      reader: this.devices.cardReader,
      terminal: this.devices.paymentTerminal,
      business: this.business,
      alarms: this.alarms,
      reversalRetryMs: config.paymentTerminal?.reversalRetryMs ?? 30_000,
      log: log.child({ part: 'cards' }),
    });
    this.forwarder = new Forwarder({
      outbox: this.journal,
      adapter: this.business,
      batchSize: config.forwarder.batchSize,
      idleMs: config.forwarder.idleMs,
      backoff: { initialMs: config.forwarder.backoffInitialMs, maxMs: config.forwarder.backoffMaxMs },
      log: log.child({ part: 'forwarder' }),
    });
    this.outboxMonitor = new OutboxMonitor({
      outbox: this.journal,
      journalPath: config.journal.path,
      alarms: this.alarms,
      backlogAgeMs: config.forwarder.alarmBacklogAgeMs,
      reversalAgeMs: config.forwarder.alarmReversalAgeMs,
      diskFreeBytes: config.forwarder.alarmDiskFreeBytes,
      intervalMs: config.forwarder.monitorIntervalMs,
      log: log.child({ part: 'outbox' }),
    });
    this.terminal = createActor(
      terminalMachine.provide({
        actors: {
          recover: fromPromise<unknown, void>(() => this.recover()),
          selfTest: fromPromise<SelfTestResult, void>(() => this.selfTest()),
        },
      }),
    );
    this.desk = {
      active: () => this.active,
      lastId: () => this.lastTxnId,
      accepting: () => this.accepting,
      start: (service) => this.startTransaction(service),
      customer: (event) => this.customer(event),
    };
    this.control = new ControlHandler({
      config,
      journal: this.journal,
      devices: this.devices,
      receipts: this.receipts,
      terminal: this.terminal,
      transactions: this.desk,
      forwardNow: () => this.forwarder.forwardNow(),
      log,
      logRing: deps.logRing,
    });
  }

  async start(): Promise<void> {
    this.wireValidator();
    this.wireOtherDevices();
    this.business.on('up', () => this.linkChanged(true));
    // Closing the link is the last step of a stop, after the terminal machine has stopped.
    this.business.on('down', (d) => {
      if (!this.stopped) this.linkChanged(false, `${d.reason}: ${d.detail}`);
    });
    watchServerCertificate(this.business, this.alarms);
    this.business.start();
    this.terminal.subscribe((snap) => this.terminalChanged(stateName(snap.value), snap.context.reason ?? null));
    this.server = await serveControl(this.config.control.socket, (req) => this.control.handle(req));
    if (this.config.api) {
      const { config, terminal, desk: transactions, journal, log } = this;
      // Without its screen the kiosk still forwards payments and answers the console.
      this.screen = await startScreen(this.config.api.port, { config, terminal, transactions, journal, log }).catch((e: Error) => {
        log.error({ err: e.message, port: this.config.api?.port }, 'screen not served');
        return undefined;
      });
    }
    journalChainAlarm(this.journal, this.alarms);
    this.management = createManagementLink({
      config: this.config,
      configPath: this.deps.configPath,
      journal: this.journal,
      alarms: this.alarms,
      terminal: { status: () => this.status(), control: (req) => this.control.handle(req) },
      log: this.log,
    });
    this.terminal.start();
    this.forwarder.start();
    this.cards.start();
    this.management?.start();
    this.outboxMonitor.start();
    this.notifier.startWatchdog(() => !this.stopped);
  }

  status(): Record<string, unknown> {
    return this.control.status();
  }

  /**
   * A graceful stop (SIGTERM from systemd) with a customer possibly mid-payment. No new money is
   * taken; a note already sent to the stacker is waited for so it is credited now rather than at
   * the next start; settling, a payout or a receipt already under way is let finish. Whatever is
   * still open after that is parked: the journal holds it and recovery closes it at the next
   * start. Every wait is bounded (systemd's TimeoutStopSec is the backstop), and a kill at any
   * point is no worse than the crashes recovery is built for.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.notifier.stop();
    const a = this.active;
    if (a) {
      this.log.info({ txn: a.id }, 'stopping with a transaction running: no more cash is taken');
      await this.devices.validator.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the validator'));
      await this.devices.coinAcceptor?.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the coin acceptor'));
      await this.notes.settled(a.id);
      // Where the customer still had a say (number, look-up, review, cash) the transaction is
      // parked; once its effects have started (settling, change, receipt) they run to the end.
      const waiting = ['number', 'lookup', 'lookupFailed', 'review', 'cash'] as const;
      const busy = (snap: ReturnType<typeof a.actor.getSnapshot>) => snap.status === 'active' && !waiting.some((w) => snap.matches(w));
      if (busy(a.actor.getSnapshot())) {
        this.log.info({ txn: a.id }, 'stopping: letting the running settlement, payout or receipt finish');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            sub.unsubscribe();
            resolve();
          }, STOP_EFFECTS_MS);
          const sub = a.actor.subscribe((snap) => {
            if (busy(snap)) return;
            clearTimeout(timer);
            sub.unsubscribe();
            resolve();
          });
        });
      }
      const txn = this.journal.transaction(a.id);
      if (txn?.status === 'open') this.log.warn({ txn: a.id, cashIn: txn.cashIn }, 'transaction parked: recovery closes it at the next start');
    }
    this.active?.actor.stop();
    this.terminal.stop();
    // Inhibited once more after the machine has stopped: an enable it sent earlier (e.g. after the
    // last credit) may still have been queued behind the first disable.
    await this.devices.validator.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the validator'));
    await this.devices.coinAcceptor?.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the coin acceptor'));
    await this.cards.stop();
    await this.forwarder.stop();
    await this.outboxMonitor.stop();
    await this.business.stop();
    await this.management?.stop();
    for (const [, d] of fittedDevices(this.devices)) await d.close();
    await this.screen?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.journal.close();
  }

  // ------------------------------------------------------------------ devices

  private wireValidator(): void {
    const v = this.devices.validator;
    v.setHooks({
      escrow: (note) => this.notes.onEscrow(note),
      credited: (note) => this.notes.onCredited(note),
    });
    v.on('status', (s) => this.validatorStatus(s));
    v.on('power-up', ({ bill }) => {
      this.powerUpBill = bill;
      this.journal.append(null, 'device.power-up', { device: 'validator', bill });
      this.log.warn({ bill }, 'validator reports a power-up');
      this.notes.onPowerUp(bill);
    });
    v.on('rejected', (r) => {
      this.journal.append(this.active?.id ?? null, 'note.rejected', { reason: r.reason, code: r.code });
      this.log.info({ reason: r.reason }, 'validator rejected a note');
    });
    v.on('returned', (note) => {
      if (!this.recoveryRan || this.deferredRecovery) this.noteHandedBack = true;
      this.log.info({ value: note?.value ?? null }, 'note handed back');
    });
  }

  private wireOtherDevices(): void {
    const watch = (name: string) => (s: DeviceStatus) => this.deviceStatus(name, s);
    this.devices.coinAcceptor?.on('status', watch(COIN_ACCEPTOR));
    for (const [name, h] of this.devices.hoppers) h.on('status', watch(`${HOPPER_PREFIX}${name}`));
    this.devices.printer?.on('status', watch(PRINTER));
    this.devices.cardReader?.on('status', watch(CARD_READER));
    this.devices.paymentTerminal?.on('status', watch(PAYMENT_TERMINAL));
  }

  private deviceStatus(name: string, s: DeviceStatus): void {
    this.journal.append(null, 'device.status', { device: name, health: s.health, code: s.code, detail: s.detail });
    const level = s.health === 'ok' ? 'info' : s.health === 'degraded' ? 'warn' : 'error';
    this.log[level]({ device: name, health: s.health, code: s.code }, `${name} ${s.health}: ${s.detail}`);
    deviceAlarms(this.alarms, name, s);
    this.terminal.send({ type: 'DEVICE', device: name, health: s.health });
  }

  private validatorStatus(s: DeviceStatus): void {
    this.journal.append(null, 'device.status', { device: 'validator', health: s.health, code: s.code, detail: s.detail });
    const level = s.health === 'ok' ? 'info' : s.health === 'degraded' ? 'warn' : 'error';
    this.log[level]({ device: 'validator', health: s.health, code: s.code }, `validator ${s.health}: ${s.detail}`);
    deviceAlarms(this.alarms, 'validator', s);
    this.terminal.send({ type: 'DEVICE', device: 'validator', health: s.health });
    const a = this.active;
    if ((s.health === 'fault' || s.health === 'offline') && a && isAcceptingCash(a.actor.getSnapshot())) {
      a.actor.send({ type: 'CASH_UNAVAILABLE', reason: s.code });
    }
    if (s.health === 'ok' && this.deferredRecovery && !this.active) {
      this.validatorReady = true;
      this.runRecovery();
    }
  }

  // ------------------------------------------------------------------ terminal life

  private async recover(): Promise<void> {
    const { validator } = this.devices;
    const wait = this.config.validator.bootWaitMs;
    const others = fittedDevices(this.devices).filter(([, d]) => d !== validator);
    const [validatorReady] = await Promise.all([
      openWithin(validator, wait, (e) => this.log.error({ err: e.message }, 'validator did not start; it keeps retrying by itself')),
      ...others.map(([name, d]) =>
        openWithin(d, wait, (e) => this.log.error({ device: name, err: e.message }, `${name} did not start; it keeps retrying by itself`)),
      ),
    ]);
    this.validatorReady = validatorReady;
    this.runRecovery();
    const payouts = await this.payer.recoverPending();
    for (const p of payouts) this.journal.append(null, 'recovery.payout', { ...p });
  }

  private runRecovery(): void {
    const decisions = recoverOpenTransactions(this.journal, {
      validatorReady: this.validatorReady,
      noteInStacker: this.powerUpBill === 'stacker',
      noteHandedBack: this.noteHandedBack || this.powerUpBill === 'acceptor',
    });
    this.recoveryRan = true;
    this.deferredRecovery = decisions.some((d) => d.action === 'deferred');
    for (const d of decisions) {
      this.journal.append(d.txnId, 'recovery.decision', { ...d });
      this.log.warn(d, `recovered transaction ${d.txnId}: ${d.action}`);
      if ((d.action === 'settled' || d.action === 'cancelled') && d.unresolved) {
        this.alarms.raise({
          kind: 'note-unresolved',
          source: 'validator',
          severity: 'critical',
          detail: `transaction ${d.txnId}: a ${d.unresolved} fen note was in the validator at the restart and it reports neither stacking nor returning it; check the validator and count the cash box`,
        });
      }
      if (d.action === 'card-reversed') this.cards.followUp(d.txnId, d.requestId, d.reversal);
      // The customer who would have taken this receipt is gone: keep it for a reprint.
      if (d.action === 'settled' && this.devices.printer) this.journal.receiptFailed(d.txnId, 'not printed: the kiosk restarted');
    }
    if (decisions.length > 0) this.forwarder.forwardNow();
  }

  private async selfTest(): Promise<SelfTestResult> {
    await this.firstLinkOutcome();
    return { devices: Object.fromEntries(fittedDevices(this.devices).map(([name, d]) => [name, d.status().health])), linkUp: this.business.up };
  }

  /** Waits until the first connection to the business server came up or failed, within the time-out. */
  private firstLinkOutcome(): Promise<void> {
    if (this.business.up || this.business.down) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.business.off('up', done);
        this.business.off('down', done);
        resolve();
      };
      const timer = setTimeout(done, this.config.server.timeoutMs);
      this.business.once('up', done);
      this.business.once('down', done);
    });
  }

  private linkChanged(up: boolean, error?: string): void {
    this.terminal.send({ type: 'LINK', up });
    if (up) this.log.info('link to the central server is up');
    else this.log.warn({ error }, 'link to the central server is down');
  }

  private terminalChanged(state: string, reason: string | null): void {
    if (state === this.lastTerminalState) return;
    this.lastTerminalState = state;
    const top = state.split('.')[0] ?? state;
    const caps = capabilities(this.terminal.getSnapshot().context);
    const words: Record<string, string> = {
      inService: 'in service',
      degraded: 'degraded',
      outOfService: 'out of service',
    };
    const label = words[top] ?? state;
    this.journal.append(null, 'terminal.state', { state, reason, services: caps.services });
    this.log.info({ state, reason, services: caps.services }, `terminal ${label}`);
    if (top in words && !this.readySent) {
      this.readySent = true;
      this.notifier.ready(`terminal ${label}`);
    } else {
      this.notifier.status(`terminal ${label}`);
    }
  }

  // ------------------------------------------------------------------ transactions

  private startTransaction(service: Service): string {
    if (this.stopped) throw new Error('the kiosk is stopping');
    if (this.active) throw new Error(`a transaction is already running (${this.active.id})`);
    const snap = this.terminal.getSnapshot();
    const caps = capabilities(snap.context);
    const offlineTopup = service === 'topup' && caps.cash && !caps.online;
    if (!caps.services.includes(service)) {
      throw new Error(`service '${service}' is not available now (terminal ${stateName(snap.value)}; available: ${caps.services.join(', ') || 'none'})`);
    }
    const id = uuidv7();
    this.journal.startTransaction(id, service);
    const actor = createActor(this.transactionMachineFor(id), {
      input: {
        id,
        service,
        limits: this.config.limits,
        timeouts: this.config.timeouts,
        offline: offlineTopup,
        denominations: this.devices.validator.denominations().map((n) => n.value),
        coins: caps.coins && this.devices.coinAcceptor ? this.devices.coinAcceptor.coins().map((c) => c.value) : [],
        change: caps.change ? this.payer.supply() : [],
        receipt: caps.receipt,
        card: caps.card,
      },
    });
    const a: ActiveTxn = { id, actor, cancelWhenResolved: false };
    this.active = a;
    let lastState = '';
    actor.subscribe({
      next: (s) => {
        const state = stateName(s.value);
        if (state !== lastState) {
          lastState = state;
          const c = s.context;
          this.log.info({ txn: id, state, amountDue: c.amountDue, credited: c.credited, error: c.error }, `transaction ${state}`);
        }
        if (s.status === 'done') this.transactionEnded(a);
        this.screen?.changed();
      },
      error: (e) => {
        this.log.error({ txn: id, err: (e as Error).message }, 'transaction machine failed; recovery will close it');
        this.transactionEnded(a);
        this.screen?.changed();
      },
    });
    actor.start();
    this.log.info({ txn: id, service, offline: offlineTopup }, 'transaction started');
    return id;
  }

  private transactionMachineFor(id: string) {
    return transactionMachine.provide({
      actors: {
        lookup: fromPromise<LookupResult, LookupInput>(async ({ input }) => {
          try {
            const r = await this.business.lookup(input.phone);
            this.journal.recordLookup(id, { phone: input.phone, amountDue: r.amountDue, ...(r.holder ? { holder: r.holder } : {}) });
            return r.holder ? { amountDue: r.amountDue, holder: r.holder } : { amountDue: r.amountDue };
          } catch (e) {
            this.journal.append(id, 'txn.lookup-failed', { error: (e as Error).message });
            throw e;
          }
        }),
        acceptCash: fromCallback<AcceptCashUpdate, AcceptCashInput>(({ input, receive, sendBack }) => {
          // A validator already down when the customer chose cash sends no change of status that
          // would end the wait: without this the customer would stand there until the cash time-out.
          const now = this.devices.validator.status();
          if (now.health === 'fault' || now.health === 'offline') {
            sendBack({ type: 'CASH_UNAVAILABLE', reason: now.code });
            return () => undefined;
          }
          let open = true;
          const coins = this.devices.coinAcceptor;
          const enable = (notes: number[], coinValues: number[]) => {
            this.devices.validator.enable(notes).then(
              () => (this.accepting = open),
              (e: Error) => this.log.error({ err: e.message }, 'could not enable the validator'),
            );
            if (coins && coinValues.length > 0) {
              coins.enable(coinValues).catch((e: Error) => this.log.error({ err: e.message }, 'could not enable the coin acceptor'));
            } else if (coins) {
              coins.disable().catch(() => undefined);
            }
          };
          enable(input.accept, input.coins);
          receive((update) => enable(update.accept, update.coins));
          return () => {
            open = false;
            this.accepting = false;
            this.devices.validator.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the validator'));
            coins?.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the coin acceptor'));
          };
        }),
        settle: fromPromise<unknown, SettleInput>(({ input }) => this.closeTransaction(input.id, input.endReason, input.changeDue)),
        payChange: fromPromise<PayChangeOutput, PayChangeInput>(({ input }) => this.payer.pay(input.id, input.amount)),
        authoriseCard: this.cards.actor(),
        printReceipt: fromPromise<unknown, { id: string }>(({ input }) => this.receipts.print(input.id)),
        cancel: fromPromise<unknown, CloseInput>(({ input }) => this.closeTransaction(input.id, input.endReason)),
        finish: fromPromise<unknown, CloseInput>(({ input }) => this.closeTransaction(input.id, input.endReason)),
      },
    });
  }

  /**
   * Settles or cancels from what the journal holds, after any note in escrow has been resolved
   * and the coin acceptor's buffer read once more: a note that gets stacked or a coin that was
   * dropped before the decision to close is still credited, never lost.
   */
  private async closeTransaction(id: string, endReason: string, changeDue = 0): Promise<void> {
    await this.coins.closing(id);
    await this.notes.resolved(id);
    // A card request whose answer never reached the machine (stop, machine error) is reversed.
    this.cards.abandonOpen(id, 'abandoned');
    const txn = this.journal.transaction(id);
    if (!txn || txn.status !== 'open') return;
    if (txn.cashIn > 0 || txn.cardIn > 0 || endReason === 'looked-up') {
      // The machine computed the change from what it saw credited; the journal is the truth, and a
      // late note only ever adds to the credit, never to the change.
      const due = Math.min(changeDue, txn.cashIn);
      this.journal.settle(id, due > 0 ? { endReason, changeDue: due, claimCode: claimCode() } : { endReason });
      this.forwarder.forwardNow();
    } else {
      this.journal.cancel(id, endReason);
    }
  }

  private transactionEnded(a: ActiveTxn): void {
    if (this.active !== a) return;
    this.active = null;
    this.lastTxnId = a.id;
    const txn = this.journal.transaction(a.id);
    const printed = this.journal.events(a.id).some((e) => e.type.startsWith('receipt.'));
    if (this.devices.printer && txn?.status === 'completed' && txn.cashIn + txn.cardIn > 0 && !printed) {
      // The printer was not usable when the customer paid: the screen showed the receipt, and this
      // puts it in the reprint queue for the console.
      this.journal.receiptFailed(a.id, 'printer not available at the time of payment');
    }
    this.log.info(
      { txn: a.id, status: txn?.status, endReason: txn?.endReason, credited: txn?.credited, cashIn: txn?.cashIn },
      `transaction ${txn?.status ?? 'ended'}: credited ${txn?.credited ?? 0} fen`,
    );
    if (this.deferredRecovery && this.validatorReady) this.runRecovery();
  }

  private customer(event: TransactionEvent): ControlResponse {
    const a = this.active;
    if (!a) return { ok: false, error: 'no transaction is running' };
    if (event.type === 'CANCEL' && isAcceptingCash(a.actor.getSnapshot()) && this.journal.pendingEscrow(a.id)) {
      a.cancelWhenResolved = true;
      this.notes.once('note-resolved', () => a.actor.send({ type: 'CANCEL' }));
      return { ok: true, deferred: 'a note is in escrow; cancelling once it is stacked or returned' };
    }
    if (event.type === 'TOPUP_OFFLINE') {
      const phone = a.actor.getSnapshot().context.phone;
      if (phone) this.journal.recordLookup(a.id, { phone, amountDue: null, offline: true });
    }
    a.actor.send(event);
    const after = a.actor.getSnapshot();
    if (event.type === 'NUMBER' && after.context.offline && after.matches('cash') && after.context.phone) {
      // An offline top-up goes straight from the number to the cash: no look-up journals the phone,
      // and without it the payment could never be posted.
      this.journal.recordLookup(a.id, { phone: after.context.phone, amountDue: null, offline: true });
    }
    return { ok: true };
  }
}

/** A code the customer shows to be paid change the kiosk owed: 8 characters, no 0/O/1/I. */
function claimCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(8);
  let code = '';
  for (const b of bytes) code += alphabet[b % alphabet.length];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}
