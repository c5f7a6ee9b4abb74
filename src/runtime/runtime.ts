import type { Server } from 'node:net';
import { createActor, fromPromise, type Actor } from 'xstate';
import { stateName } from '../../states/state-name.js';
import { terminalMachine, VALIDATOR, type SelfTestResult } from '../../states/terminal.js';
import { startScreen, type Screen } from '../api/index.js';
import type { Config } from '../config/schema.js';
import { serveControl } from '../control/server.js';
import { Journal, loadOrCreateKey, type JournalEvent } from '../journal/index.js';
import type { Logger, LogRing } from '../log.js';
import { AlarmBook, ChainWitness, createManagementLink, journalChainAlarm, type ManagementLink } from '../management/index.js';
import { releaseUpdates, type ReleaseUpdates } from '../update/index.js';
import { createBusinessAdapter, Forwarder, hasMobileLink, OutboxMonitor, watchServerCertificate, type BusinessAdapter } from '../uplink/index.js';
import { CardPayments } from './cards.js';
import { MobilePayments } from './mobile.js';
import { CoinFlow } from './coins.js';
import { ControlHandler } from './control-handler.js';
import { serveConsoleControl } from './console-control.js';
import { createDevices, fittedDevices, type Devices } from './devices.js';
import { watchHealth } from './health.js';
import { NoteFlow } from './notes.js';
import { ChangePayer } from './payout.js';
import { ReceiptService } from './receipts.js';
import { BootRecovery } from './recovery.js';
import { SlipService } from './slips.js';
import { SystemdNotifier } from './sd-notify.js';
import { selfTest, TerminalReport } from './terminal-life.js';
import { Transactions } from './transactions.js';

export interface RuntimeDeps {
  /**
   * Told of each journal event right after its write committed. The simulator's crash seam
   * (KIOSK_CRASH_AFTER) hangs here; the product itself never sets it.
   */
  onJournalCommit?: (event: JournalEvent) => void;
  /** Recent log lines, for the console's `log` command. */
  logRing?: LogRing;
  /** The configuration file, read again by the management link's reload-configuration command. */
  configPath?: string;
}

/**
 * The composition root: builds the devices, the journal, the flows and the machines, and wires
 * devices → hooks → journal → machines, and the uplink. All money decisions stay in the machines
 * and the journal; this class only connects the parts and runs start and stop in order.
 */
export class Runtime {
  readonly journal: Journal;
  readonly devices: Devices;
  /** Where every part reports conditions for the operator (journalled, then sent by the management link). */
  readonly alarms: AlarmBook;
  /** Compares the journal's chain head with what the servers saw (rollback detection). */
  private readonly witness: ChainWitness;
  private management: ManagementLink | undefined;
  private updates: ReleaseUpdates | undefined;
  private readonly notes: NoteFlow;
  private readonly coins: CoinFlow;
  private readonly cards: CardPayments;
  private readonly business: BusinessAdapter;
  private readonly forwarder: Forwarder;
  private readonly outboxMonitor: OutboxMonitor;
  private readonly terminal: Actor<typeof terminalMachine>;
  private readonly recovery: BootRecovery;
  private readonly transactions: Transactions;
  private readonly control: ControlHandler;
  private readonly report: TerminalReport;
  private screen: Screen | undefined;
  private server: Server | undefined;
  private consoleServer: Server | undefined;
  private stopped = false;
  private readonly notifier = new SystemdNotifier();

  /** The runtime with the configured devices' drivers, whose models' code is imported here. */
  static async create(config: Config, log: Logger, deps: RuntimeDeps = {}): Promise<Runtime> {
    const key = loadOrCreateKey(config.journal.keyFile);
    return new Runtime(config, log, deps, key, await createDevices(config, log, key));
  }

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly deps: RuntimeDeps,
    key: Buffer,
    devices: Devices,
  ) {
    const journal = (this.journal = Journal.open(config.journal.path, {
      key,
      quietCheckpoint: true,
      ...(deps.onJournalCommit ? { onCommit: (events: readonly JournalEvent[]) => events.forEach((e) => deps.onJournalCommit?.(e)) } : {}),
    }));
    const alarms = (this.alarms = new AlarmBook(journal, log.child({ part: 'alarms' })));
    const witness = (this.witness = new ChainWitness(journal, alarms, log, (reason) => this.terminal.send({ type: 'JOURNAL_ROLLBACK', reason })));
    this.devices = devices;
    const { hoppers, printer } = devices;
    const active = () => this.transactions.active();
    this.notes = new NoteFlow(journal, active, log);
    this.coins = new CoinFlow(journal, devices.coinAcceptor, active, alarms, log.child({ part: 'coins' }));
    const payer = new ChangePayer(journal, hoppers, config.change.reserve, log.child({ part: 'change' }));
    const labels = { operator: config.receipt.operator, terminalId: config.terminalId, width: config.printer?.width ?? 42, timeZone: config.timeZone };
    const receipts = new ReceiptService(journal, printer, labels, log.child({ part: 'receipts' }));
    const slips = new SlipService(journal, printer, { ...labels, serviceNumber: config.receipt.serviceNumber }, log.child({ part: 'slips' }));
    const business = (this.business = createBusinessAdapter(config, log.child({ part: 'business-link' }), witness));
    this.cards = new CardPayments({
      journal,
      reader: devices.cardReader,
      terminal: devices.paymentTerminal,
      business,
      alarms,
      reversalRetryMs: config.paymentTerminal?.reversalRetryMs ?? 30_000,
      log: log.child({ part: 'cards' }),
    });
    this.forwarder = new Forwarder({
      outbox: journal,
      adapter: business,
      batchSize: config.forwarder.batchSize,
      idleMs: config.forwarder.idleMs,
      backoff: { initialMs: config.forwarder.backoffInitialMs, maxMs: config.forwarder.backoffMaxMs },
      log: log.child({ part: 'forwarder' }),
      alarms,
    });
    this.outboxMonitor = new OutboxMonitor({
      outbox: journal,
      journalPath: config.journal.path,
      alarms,
      backlogAgeMs: config.forwarder.alarmBacklogAgeMs,
      reversalAgeMs: config.forwarder.alarmReversalAgeMs,
      diskFreeBytes: config.forwarder.alarmDiskFreeBytes,
      intervalMs: config.forwarder.monitorIntervalMs,
      log: log.child({ part: 'outbox' }),
    });
    const forwardNow = () => this.forwarder.forwardNow();
    const mobile = new MobilePayments({
      journal,
      scanner: devices.scanner,
      link: hasMobileLink(business) ? business : undefined,
      forwardNow,
      waitUp: (ms) => business.waitUp(ms),
      recoveryWaitMs: config.server.timeoutMs,
      log: log.child({ part: 'mobile' }),
    });
    this.recovery = new BootRecovery({
      journal,
      devices,
      alarms,
      cards: this.cards,
      mobile,
      payer,
      slips,
      resume: {
        receipts,
        printer: printer !== undefined,
        policy: config.change.owed,
        withinMs: config.recovery.resumePayoutWithinMs,
        show: (id) => this.screen?.show(id),
      },
      bootWaitMs: config.validator.bootWaitMs,
      forwardNow,
      log,
    });
    this.terminal = createActor(
      terminalMachine.provide({
        actors: {
          recover: fromPromise<unknown, void>(() => {
            // A journal below the head a server confirmed is not recovered into service.
            const rolledBack = witness.failure();
            return rolledBack === null ? this.recovery.recover() : Promise.reject(new Error(rolledBack));
          }),
          selfTest: fromPromise<SelfTestResult, void>(() => selfTest(devices, business, config.server.timeoutMs)),
        },
      }),
    );
    this.report = new TerminalReport(this.terminal, journal, this.notifier, log);
    this.transactions = new Transactions({
      config,
      journal,
      devices,
      terminal: this.terminal,
      business,
      notes: this.notes,
      coins: this.coins,
      payer,
      receipts,
      slips,
      cards: this.cards,
      mobile,
      forwardNow,
      changed: () => this.screen?.changed(),
      ended: () => this.recovery.transactionEnded(),
      log,
    });
    this.control = new ControlHandler({
      config,
      journal,
      devices,
      receipts,
      slips,
      terminal: this.terminal,
      transactions: this.transactions,
      forwardNow,
      witness,
      log,
      logRing: deps.logRing,
    });
  }

  async start(): Promise<void> {
    this.wireDevices();
    this.business.on('up', () => this.linkChanged(true));
    // Closing the link is the last step of a stop, after the terminal machine has stopped.
    this.business.on('down', (d) => {
      if (!this.stopped) this.linkChanged(false, `${d.reason}: ${d.detail}`);
    });
    watchServerCertificate(this.business, this.alarms);
    this.business.start();
    this.terminal.subscribe((snap) => {
      this.report.changed(stateName(snap.value), snap.context.reason ?? null);
      if (snap.matches('outOfService')) this.transactions.leftService();
    });
    this.server = await serveControl(this.config.control.socket, (req) => this.control.handle(req));
    this.consoleServer = await serveConsoleControl(this.config, this.control, this.log);
    if (this.config.api) {
      const { config, terminal, transactions, journal, log } = this;
      // Without its screen the kiosk still forwards payments and answers the console.
      this.screen = await startScreen(this.config.api.port, { config, terminal, transactions, journal, log }).catch((e: Error) => {
        log.error({ err: e.message, port: this.config.api?.port }, 'screen not served');
        return undefined;
      });
    }
    journalChainAlarm(this.journal, this.alarms);
    const updates = (this.updates = releaseUpdates({
      config: this.config,
      journal: this.journal,
      alarms: this.alarms,
      log: this.log,
      terminal: { status: () => this.status(), control: (req) => this.control.handle(req) },
      linkUp: () => (this.config.management ? (this.management?.linkUp ?? false) : undefined),
      // The same graceful stop as systemd's; the service manager then starts the release `current` names.
      restart: () => process.kill(process.pid, 'SIGTERM'),
    }));
    this.management = createManagementLink({
      executors: updates.executors,
      config: this.config,
      configPath: this.deps.configPath,
      journal: this.journal,
      alarms: this.alarms,
      terminal: { status: () => this.status(), control: (req) => this.control.handle(req) },
      log: this.log,
      witness: this.witness,
    });
    this.terminal.start();
    this.forwarder.start();
    this.cards.start();
    this.management?.start();
    this.updates.start();
    this.outboxMonitor.start();
    this.notifier.startWatchdog(() => !this.stopped);
  }

  status(): Record<string, unknown> {
    const status = this.control.status();
    return this.updates ? { ...status, update: this.updates.progress() } : status;
  }

  /**
   * A graceful stop (SIGTERM from systemd) with a customer possibly mid-payment: no new money is
   * taken, effects under way are let finish, and whatever is still open is parked for recovery at
   * the next start (see Transactions.park). Every wait is bounded (systemd's TimeoutStopSec is the
   * backstop), and a kill at any point is no worse than the crashes recovery is built for.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.notifier.stop();
    this.updates?.stop();
    await this.transactions.park();
    this.transactions.stop();
    this.terminal.stop();
    this.recovery.stop();
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
    for (const server of [this.consoleServer, this.server]) await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    this.journal.close();
  }

  private wireDevices(): void {
    const v = this.devices.validator;
    v.setHooks({
      escrow: (note) => this.notes.onEscrow(note),
      credited: (note) => this.notes.onCredited(note),
    });
    watchHealth({
      devices: this.devices,
      journal: this.journal,
      alarms: this.alarms,
      log: this.log,
      changed: (device, s) => {
        this.terminal.send({ type: 'DEVICE', device, health: s.health });
        if (device !== VALIDATOR) return;
        this.transactions.validatorHealth(s);
        if (s.health === 'ok') this.recovery.validatorOk(this.transactions.active() === null);
      },
    });
    v.on('power-up', ({ bill }) => {
      this.recovery.validatorPowerUp(bill);
      this.journal.append(null, 'device.power-up', { device: 'validator', bill });
      this.log.warn({ bill }, 'validator reports a power-up');
      this.notes.onPowerUp(bill);
    });
    v.on('rejected', (r) => {
      this.journal.append(this.transactions.active()?.id ?? null, 'note.rejected', { reason: r.reason, code: r.code });
      this.log.info({ reason: r.reason }, 'validator rejected a note');
    });
    v.on('returned', (note) => {
      this.recovery.noteHandedBack();
      this.log.info({ value: note?.value ?? null }, 'note handed back');
    });
  }

  private linkChanged(up: boolean, error?: string): void {
    this.terminal.send({ type: 'LINK', up });
    if (up) this.log.info('link to the central server is up');
    else this.log.warn({ error }, 'link to the central server is down');
  }
}
