import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate';
import { randomBytes } from 'node:crypto';
import type {
  AnyDevice,
  BillAtPowerUp,
  BillValidator,
  CoinAcceptor,
  CoinHopper,
  DeviceStatus,
  EscrowDecision,
  Note,
  Printer,
} from '../../drivers/types.js';
import { createBillValidator, createCoinAcceptor, createHopper, createPrinter } from '../../drivers/registry.js';
import {
  escrowDecision,
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
import { capabilities, COIN_ACCEPTOR, HOPPER_PREFIX, PRINTER, terminalMachine, type SelfTestResult } from '../../states/terminal.js';
import type { Config } from '../config/schema.js';
import { serveControl } from '../control/server.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { Journal, loadOrCreateKey } from '../journal/index.js';
import { driverLog, type Logger, type LogRing } from '../log.js';
import { recoverOpenTransactions } from '../recovery/recover.js';
import { BusinessClient, Forwarder, UplinkError } from '../uplink/index.js';
import { probeLink } from './link-probe.js';
import { SystemdNotifier } from './sd-notify.js';
import { ChangePayer } from './payout.js';
import { ReceiptService } from './receipts.js';

type Service = 'pay' | 'topup' | 'lookup';

interface ActiveTxn {
  id: string;
  actor: Actor<typeof transactionMachine>;
  /** The customer asked to cancel while a note was in escrow: act once the note is resolved. */
  cancelWhenResolved: boolean;
}

export interface RuntimeDeps {
  /** Fault-injection seam for the crash tests: see Journal's crashAfter. */
  crashAfter?: string;
  /** Recent log lines, for the console's `log` command. */
  logRing?: LogRing;
}

/** How long settling waits for a note in escrow to end up stacked or returned. */
const NOTE_RESOLVE_MS = 5000;

/** How long a stop lets a settlement, payout or receipt under way finish (within TimeoutStopSec=90). */
const STOP_EFFECTS_MS = 60_000;

/**
 * Wires the pieces together: devices → hooks → journal → machines, and the uplink. All money
 * decisions stay in the machines and the journal; this class only routes events and effects.
 */
export class Runtime extends EventEmitter<{ 'note-resolved': [string] }> {
  readonly journal: Journal;
  readonly validator: BillValidator;
  readonly coinAcceptor: CoinAcceptor | undefined;
  readonly hoppers = new Map<string, CoinHopper>();
  readonly printer: Printer | undefined;
  private readonly payer: ChangePayer;
  private readonly receipts: ReceiptService;
  private readonly client: BusinessClient;
  private readonly forwarder: Forwarder;
  private readonly terminal: Actor<typeof terminalMachine>;
  private active: ActiveTxn | null = null;
  private lastTxnId: string | null = null;
  private powerUpBill: BillAtPowerUp = 'none';
  private deferredRecovery = false;
  private validatorReady = false;
  private control: Server | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
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
    super();
    this.journal = Journal.open(config.journal.path, {
      key: loadOrCreateKey(config.journal.keyFile),
      ...(deps.crashAfter ? { crashAfter: deps.crashAfter } : {}),
    });
    this.validator = createBillValidator(config.validator.model, {
      port: config.validator.port,
      pollIntervalMs: config.validator.pollIntervalMs,
      log: driverLog(log.child({ device: 'validator' })),
    });
    const c = config;
    if (c.coinAcceptor) {
      this.coinAcceptor = createCoinAcceptor(c.coinAcceptor.model, {
        port: c.coinAcceptor.port,
        address: c.coinAcceptor.address,
        log: driverLog(log.child({ device: COIN_ACCEPTOR })),
      });
    }
    for (const h of c.hoppers) {
      this.hoppers.set(
        h.name,
        createHopper(h.model, {
          port: h.port,
          address: h.address,
          coinValue: h.coinValue,
          name: h.name,
          securityMode: h.securityMode,
          log: driverLog(log.child({ device: `${HOPPER_PREFIX}${h.name}` })),
        }),
      );
    }
    if (c.printer) {
      const p = c.printer;
      this.printer = createPrinter(p.model, {
        transport: p.transport,
        baudRate: p.baudRate,
        width: p.width,
        ...(p.port ? { port: p.port } : {}),
        ...(p.vendorId !== undefined ? { vendorId: p.vendorId } : {}),
        ...(p.productId !== undefined ? { productId: p.productId } : {}),
        log: driverLog(log.child({ device: PRINTER })),
      });
    }
    this.payer = new ChangePayer(this.journal, this.hoppers, c.change.reserve, log.child({ part: 'change' }));
    this.receipts = new ReceiptService(this.journal, this.printer, { operator: c.receipt.operator, terminalId: c.terminalId, width: c.printer?.width ?? 42 }, log.child({ part: 'receipts' }));
    this.client = new BusinessClient({ baseUrl: config.server.baseUrl, timeoutMs: config.server.timeoutMs });
    this.forwarder = new Forwarder({
      outbox: this.journal,
      client: this.client,
      batchSize: config.forwarder.batchSize,
      idleMs: config.forwarder.idleMs,
      backoff: { initialMs: config.forwarder.backoffInitialMs, maxMs: config.forwarder.backoffMaxMs },
      log: log.child({ part: 'forwarder' }),
    });
    this.terminal = createActor(
      terminalMachine.provide({
        actors: {
          recover: fromPromise<unknown, void>(() => this.recover()),
          selfTest: fromPromise<SelfTestResult, void>(() => this.selfTest()),
        },
      }),
    );
  }

  /** Every fitted device with its name in the terminal machine. */
  private devices(): [string, AnyDevice][] {
    const list: [string, AnyDevice][] = [['validator', this.validator]];
    if (this.coinAcceptor) list.push([COIN_ACCEPTOR, this.coinAcceptor]);
    for (const [name, h] of this.hoppers) list.push([`${HOPPER_PREFIX}${name}`, h]);
    if (this.printer) list.push([PRINTER, this.printer]);
    return list;
  }

  async start(): Promise<void> {
    this.wireValidator();
    this.wireOtherDevices();
    this.forwarder.on('link', (l: { up: boolean; error?: string }) => this.linkChanged(l.up, l.error));
    this.terminal.subscribe((snap) => this.terminalChanged(stateName(snap.value), snap.context.reason ?? null));
    this.control = await serveControl(this.config.control.socket, (req) => this.handle(req));
    this.terminal.start();
    this.forwarder.start();
    this.scheduleProbe(0);
    this.notifier.startWatchdog(() => !this.stopped);
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
    clearTimeout(this.probeTimer);
    this.notifier.stop();
    const a = this.active;
    if (a) {
      this.log.info({ txn: a.id }, 'stopping with a transaction running: no more cash is taken');
      await this.validator.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the validator'));
      await this.coinAcceptor?.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the coin acceptor'));
      if (this.journal.pendingEscrow(a.id)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            this.off('note-resolved', onResolved);
            resolve();
          };
          const onResolved = (txnId: string) => {
            if (txnId === a.id && !this.journal.pendingEscrow(a.id)) done();
          };
          const timer = setTimeout(done, NOTE_RESOLVE_MS);
          this.on('note-resolved', onResolved);
        });
      }
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
    await this.validator.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the validator'));
    await this.coinAcceptor?.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the coin acceptor'));
    await this.forwarder.stop();
    for (const [, d] of this.devices()) await d.close();
    await new Promise<void>((resolve) => (this.control ? this.control.close(() => resolve()) : resolve()));
    this.journal.close();
  }

  // ------------------------------------------------------------------ devices

  private wireValidator(): void {
    const v = this.validator;
    v.setHooks({
      escrow: (note) => this.onEscrow(note),
      credited: (note) => this.onCredited(note),
    });
    v.on('status', (s) => this.validatorStatus(s));
    v.on('power-up', ({ bill }) => {
      this.powerUpBill = bill;
      this.journal.append(null, 'device.power-up', { device: 'validator', bill });
      this.log.warn({ bill }, 'validator reports a power-up');
    });
    v.on('rejected', (r) => {
      this.journal.append(this.active?.id ?? null, 'note.rejected', { reason: r.reason, code: r.code });
      this.log.info({ reason: r.reason }, 'validator rejected a note');
    });
    v.on('returned', (note) => this.log.info({ value: note?.value ?? null }, 'note handed back'));
  }

  private wireOtherDevices(): void {
    const watch = (name: string) => (s: DeviceStatus) => this.deviceStatus(name, s);
    this.coinAcceptor?.on('status', watch(COIN_ACCEPTOR));
    for (const [name, h] of this.hoppers) h.on('status', watch(`${HOPPER_PREFIX}${name}`));
    this.printer?.on('status', watch(PRINTER));
    const coins = this.coinAcceptor;
    if (coins) {
      coins.on('coin', (coin) => {
        const a = this.active;
        if (a && isAcceptingCash(a.actor.getSnapshot())) {
          this.journal.coinAccepted(a.id, coin);
          this.log.info({ txn: a.id, value: coin.value }, 'coin accepted and credited');
          a.actor.send({ type: 'COIN_CREDITED', value: coin.value });
        } else {
          this.journal.append(null, 'alarm.unattributed-coin', { value: coin.value, currency: coin.currency });
          this.log.error({ value: coin.value }, 'a coin arrived with no transaction taking cash; recorded for the cash count');
        }
      });
      coins.on('events-lost', ({ count }) => {
        this.journal.append(this.active?.id ?? null, 'alarm.coin-events-lost', { count });
        this.log.error({ count }, 'the coin acceptor lost events between polls: coins may be missing from the credit');
      });
    }
  }

  private deviceStatus(name: string, s: DeviceStatus): void {
    this.journal.append(null, 'device.status', { device: name, health: s.health, code: s.code, detail: s.detail });
    const level = s.health === 'ok' ? 'info' : s.health === 'degraded' ? 'warn' : 'error';
    this.log[level]({ device: name, health: s.health, code: s.code }, `${name} ${s.health}: ${s.detail}`);
    this.terminal.send({ type: 'DEVICE', device: name, health: s.health });
  }

  private onEscrow(note: Note): EscrowDecision {
    const a = this.active;
    const snap = a?.actor.getSnapshot();
    if (!a || !snap || !isAcceptingCash(snap) || a.cancelWhenResolved) {
      this.returnStrayNote(note);
      return 'return';
    }
    const decision = escrowDecision(snap.context, note.value, this.config.limits, true);
    this.journal.noteEscrowed(a.id, note);
    if (decision === 'return') {
      this.journal.noteReturned(a.id, note, 'over-limit');
      this.emit('note-resolved', a.id);
    }
    a.actor.send({ type: 'ACTIVITY' });
    this.log.info({ txn: a.id, value: note.value, decision }, `escrow decision: ${decision}`);
    return decision;
  }

  /** A note arrived when no transaction takes cash (e.g. held in escrow across a restart). */
  private returnStrayNote(note: Note): void {
    for (const txn of this.journal.openTransactions()) {
      const pending = this.journal.pendingEscrow(txn.id);
      if (pending && pending.value === note.value) {
        this.journal.noteReturned(txn.id, pending, 'no transaction taking cash');
        this.emit('note-resolved', txn.id);
        return;
      }
    }
    this.journal.append(null, 'note.stray-returned', { value: note.value, currency: note.currency, why: 'no transaction taking cash' });
  }

  private onCredited(note: Note | null): void {
    const a = this.active;
    if (note && a) {
      const pending = this.journal.pendingEscrow(a.id);
      if (pending) {
        this.creditNote(a.id, pending, 'vend-valid');
        return;
      }
    }
    // The driver did not see this note's escrow (host restart), or we have no record of it: the
    // journal decides. A VEND VALID repeats until acknowledged, so after a restart it is either
    // the note we journalled in escrow (not yet credited) or the one we credited before the crash
    // whose ACK was lost.
    const last = this.journal.lastNoteEvent();
    const open = last ? this.journal.transaction(last.txnId)?.status === 'open' : false;
    if (last?.type === 'note.escrowed' && open) {
      this.creditNote(last.txnId, last.note, 'vend-valid-after-restart');
      return;
    }
    if (last?.type === 'note.stacked') {
      this.journal.append(last.txnId, 'note.ack-resent', { value: last.note.value });
      this.log.warn({ txn: last.txnId }, 'VEND VALID repeated for a note already credited: acknowledging only');
      return;
    }
    this.journal.append(null, 'alarm.unattributed-note', { value: note?.value ?? null });
    this.log.error({ value: note?.value ?? null }, 'a note was stacked that no transaction expected; recorded for the cash count');
  }

  private creditNote(txnId: string, note: Note, via: string): void {
    this.journal.noteStacked(txnId, note, via);
    this.log.info({ txn: txnId, value: note.value, via }, 'note stacked and credited');
    const a = this.active;
    if (a && a.id === txnId) {
      a.actor.send({ type: 'NOTE_CREDITED', value: note.value });
    }
    this.emit('note-resolved', txnId);
  }

  private validatorStatus(s: DeviceStatus): void {
    this.journal.append(null, 'device.status', { device: 'validator', health: s.health, code: s.code, detail: s.detail });
    const level = s.health === 'ok' ? 'info' : s.health === 'degraded' ? 'warn' : 'error';
    this.log[level]({ device: 'validator', health: s.health, code: s.code }, `validator ${s.health}: ${s.detail}`);
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
    const others = this.devices().filter(([, d]) => d !== this.validator);
    const [validatorReady] = await Promise.all([
      this.openValidator(),
      ...others.map(([name, d]) => this.openWithin(name, d)),
    ]);
    this.validatorReady = validatorReady;
    this.runRecovery();
    const payouts = await this.payer.recoverPending();
    for (const p of payouts) this.journal.append(null, 'recovery.payout', { ...p });
  }

  private async openWithin(name: string, device: AnyDevice): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const opened = device.open().then(
      () => true,
      (e: Error) => {
        this.log.error({ device: name, err: e.message }, `${name} did not start; it keeps retrying by itself`);
        return false;
      },
    );
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.config.validator.bootWaitMs)));
    const ready = await Promise.race([opened, timedOut]);
    clearTimeout(timer);
    return ready;
  }

  private runRecovery(): void {
    const decisions = recoverOpenTransactions(this.journal, {
      validatorReady: this.validatorReady,
      noteInStacker: this.powerUpBill === 'stacker',
    });
    this.deferredRecovery = decisions.some((d) => d.action === 'deferred');
    for (const d of decisions) {
      this.journal.append(d.txnId, 'recovery.decision', { ...d });
      this.log.warn(d, `recovered transaction ${d.txnId}: ${d.action}`);
      // The customer who would have taken this receipt is gone: keep it for a reprint.
      if (d.action === 'settled' && this.printer) this.journal.receiptFailed(d.txnId, 'not printed: the kiosk restarted');
    }
    if (decisions.length > 0) this.forwarder.forwardNow();
  }

  private async openValidator(): Promise<boolean> {
    const wait = this.config.validator.bootWaitMs;
    let timer: NodeJS.Timeout | undefined;
    const opened = this.validator.open().then(
      () => true,
      (e: Error) => {
        this.log.error({ err: e.message }, 'validator did not start; it keeps retrying by itself');
        return false;
      },
    );
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), wait)));
    const ready = await Promise.race([opened, timedOut]);
    clearTimeout(timer);
    return ready;
  }

  private async selfTest(): Promise<SelfTestResult> {
    const link = await probeLink(this.config.server.baseUrl, this.config.server.timeoutMs);
    return { devices: Object.fromEntries(this.devices().map(([name, d]) => [name, d.status().health])), linkUp: link.up };
  }

  private linkChanged(up: boolean, error?: string): void {
    this.terminal.send({ type: 'LINK', up });
    if (up) this.log.info('link to the central server is up');
    else this.log.warn({ error }, 'link to the central server is down');
  }

  private scheduleProbe(delay: number): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(async () => {
      const link = await probeLink(this.config.server.baseUrl, this.config.server.timeoutMs);
      const was = this.terminal.getSnapshot().context.linkUp;
      if (was !== link.up) this.linkChanged(link.up, link.error);
      this.scheduleProbe(this.config.server.probeIntervalMs);
    }, delay);
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
        denominations: this.validator.denominations().map((n) => n.value),
        coins: caps.coins && this.coinAcceptor ? this.coinAcceptor.coins().map((c) => c.value) : [],
        change: caps.change ? this.payer.supply() : [],
        receipt: caps.receipt,
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
      },
      error: (e) => {
        this.log.error({ txn: id, err: (e as Error).message }, 'transaction machine failed; recovery will close it');
        this.transactionEnded(a);
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
            const r = await this.client.lookup(input.phone);
            this.journal.recordLookup(id, { phone: input.phone, amountDue: r.amountDue, ...(r.holder ? { holder: r.holder } : {}) });
            return r.holder ? { amountDue: r.amountDue, holder: r.holder } : { amountDue: r.amountDue };
          } catch (e) {
            if (e instanceof UplinkError && e.kind !== 'unknown-account') this.linkChanged(false, e.message);
            this.journal.append(id, 'txn.lookup-failed', { error: (e as Error).message });
            throw e;
          }
        }),
        acceptCash: fromCallback<AcceptCashUpdate, AcceptCashInput>(({ input, receive }) => {
          let open = true;
          const coins = this.coinAcceptor;
          const enable = (notes: number[], coinValues: number[]) => {
            this.validator.enable(notes).then(
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
            this.validator.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the validator'));
            coins?.disable().catch((e: Error) => this.log.error({ err: e.message }, 'could not disable the coin acceptor'));
          };
        }),
        settle: fromPromise<unknown, SettleInput>(({ input }) => this.closeTransaction(input.id, input.endReason, input.changeDue)),
        payChange: fromPromise<PayChangeOutput, PayChangeInput>(({ input }) => this.payer.pay(input.id, input.amount)),
        printReceipt: fromPromise<unknown, { id: string }>(({ input }) => this.receipts.print(input.id)),
        cancel: fromPromise<unknown, CloseInput>(({ input }) => this.closeTransaction(input.id, input.endReason)),
        finish: fromPromise<unknown, CloseInput>(({ input }) => this.closeTransaction(input.id, input.endReason)),
      },
    });
  }

  /**
   * Settles or cancels from what the journal holds, after any note in escrow has been resolved:
   * a note that gets stacked after the decision to cancel is still credited, never lost.
   */
  private async closeTransaction(id: string, endReason: string, changeDue = 0): Promise<void> {
    await this.noteResolved(id);
    const txn = this.journal.transaction(id);
    if (!txn || txn.status !== 'open') return;
    if (txn.cashIn > 0 || endReason === 'looked-up') {
      // The machine computed the change from what it saw credited; the journal is the truth, and a
      // late note only ever adds to the credit, never to the change.
      const due = Math.min(changeDue, txn.cashIn);
      this.journal.settle(id, due > 0 ? { endReason, changeDue: due, claimCode: claimCode() } : { endReason });
      this.forwarder.forwardNow();
    } else {
      this.journal.cancel(id, endReason);
    }
  }

  private async noteResolved(id: string): Promise<void> {
    if (this.journal.pendingEscrow(id)) {
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          this.off('note-resolved', onResolved);
          resolve();
        };
        const onResolved = (txnId: string) => {
          if (txnId === id && !this.journal.pendingEscrow(id)) finish();
        };
        const timer = setTimeout(finish, NOTE_RESOLVE_MS);
        this.on('note-resolved', onResolved);
      });
    }
    const still = this.journal.pendingEscrow(id);
    if (still) {
      this.journal.append(id, 'note.unresolved', { value: still.value, why: 'the validator did not stack or return it' });
      this.log.error({ txn: id, value: still.value }, 'a note in escrow was neither stacked nor returned; recorded for the cash count');
    }
  }

  private transactionEnded(a: ActiveTxn): void {
    if (this.active !== a) return;
    this.active = null;
    this.lastTxnId = a.id;
    const txn = this.journal.transaction(a.id);
    const printed = this.journal.events(a.id).some((e) => e.type.startsWith('receipt.'));
    if (this.printer && txn?.status === 'completed' && txn.cashIn > 0 && !printed) {
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
      this.once('note-resolved', () => a.actor.send({ type: 'CANCEL' }));
      return { ok: true, deferred: 'a note is in escrow; cancelling once it is stacked or returned' };
    }
    if (event.type === 'TOPUP_OFFLINE') {
      const phone = a.actor.getSnapshot().context.phone;
      if (phone) this.journal.recordLookup(a.id, { phone, amountDue: null, offline: true });
    }
    a.actor.send(event);
    return { ok: true };
  }

  // ------------------------------------------------------------------ control

  /** A device test while the service runs; it never takes or pays money. */
  private async deviceTest(name: string): Promise<ControlResponse> {
    if (this.active) return { ok: false, error: 'a transaction is running: test the devices when the kiosk is idle' };
    const device = this.devices().find(([n]) => n === name)?.[1];
    if (!device) return { ok: false, error: `no device '${name}' (fitted: ${this.devices().map(([n]) => n).join(', ')})` };
    const result: Record<string, unknown> = { device: name, identity: device.identity(), status: device.status() };
    if (device.kind === 'coin-hopper') {
      result.flags = await device.selfTest();
      result.counters = await device.readStatus();
    } else if (device.kind === 'printer') {
      await device.print({
        lines: [
          { text: '测试页 TEST PAGE', align: 'center', emphasis: true, large: true },
          { text: `${this.config.terminalId} ${new Date().toISOString()}`, align: 'center' },
        ],
        qr: this.config.terminalId,
      });
      result.printed = true;
    } else if (device.kind === 'bill-validator') {
      await device.enable([]);
      await device.disable();
      result.statusCycle = 'enable/disable answered';
    }
    this.journal.append(null, 'device.test', { device: name, ok: true });
    return { ok: true, ...result };
  }

  status(): Record<string, unknown> {
    const t = this.terminal.getSnapshot();
    const a = this.active;
    const snap = a?.actor.getSnapshot();
    return {
      terminal: {
        state: stateName(t.value),
        reason: t.context.operatorOut ? `${t.context.operatorOut.reason} (by ${t.context.operatorOut.by})` : (t.context.reason ?? null),
        ...capabilities(t.context),
      },
      devices: Object.fromEntries(this.devices().map(([name, d]) => [name, d.status()])),
      validator: { ...this.validator.status(), accepting: this.accepting },
      transaction: a && snap ? { ...snap.context, state: stateName(snap.value) } : null,
      lastTransaction: this.lastTxnId ? this.journal.transaction(this.lastTxnId) : null,
      outbox: this.journal.outboxStats(),
      cashbox: this.journal.cashbox(),
      coinbox: this.journal.coinbox(),
    };
  }

  private async handle(req: ControlRequest): Promise<ControlResponse> {
    switch (req.cmd) {
      case 'status':
        return { ok: true, ...this.status() };
      case 'start':
        return { ok: true, id: this.startTransaction(req.service) };
      case 'number':
        return this.customer({ type: 'NUMBER', phone: req.phone });
      case 'confirm':
        return this.customer({ type: 'CONFIRM' });
      case 'done':
        return this.customer({ type: 'DONE' });
      case 'topup-offline':
        return this.customer({ type: 'TOPUP_OFFLINE' });
      case 'cancel':
        return this.customer({ type: 'CANCEL' });
      case 'transactions':
        return { ok: true, transactions: this.journal.listTransactions({ limit: req.limit ?? 20 }) };
      case 'transaction': {
        const txn = this.journal.transaction(req.id);
        if (!txn) return { ok: false, error: `no transaction ${req.id}` };
        return { ok: true, transaction: txn, events: this.journal.events(req.id) };
      }
      case 'verify': {
        const problems = this.journal.verify();
        return { ok: true, problems };
      }
      case 'forward-now':
        this.forwarder.forwardNow();
        return { ok: true };
      case 'hoppers':
        return {
          ok: true,
          hoppers: this.journal.hopperLevels().map((h) => ({ ...h, status: this.hoppers.get(h.name)?.status() ?? null })),
        };
      case 'hopper-level': {
        const hopper = this.hoppers.get(req.name);
        if (!hopper) return { ok: false, error: `no hopper named '${req.name}' (configured: ${[...this.hoppers.keys()].join(', ') || 'none'})` };
        this.journal.setHopperLevel(req.name, hopper.coinValue, req.level, 'control');
        return { ok: true };
      }
      case 'hopper-refill': {
        if (!this.hoppers.has(req.name)) return { ok: false, error: `no hopper named '${req.name}'` };
        return { ok: true, level: this.journal.hopperRefilled(req.name, req.add, req.by) };
      }
      case 'cash-collection': {
        const counted = Object.fromEntries(Object.entries(req.counted).map(([v, n]) => [Number(v), n]));
        const result = this.journal.cashCollected(req.by, counted);
        if (!result.ok) this.log.error({ ...result, by: req.by }, 'cash collection: the counted notes differ from the journal');
        else this.log.info({ by: req.by }, 'cash collection: counts agree with the journal');
        return { ok: true, agrees: result.ok, expected: result.expected, counted: result.counted, difference: result.difference };
      }
      case 'reprint': {
        const id = req.id ?? this.journal.receiptsToReprint()[0];
        if (!id) return { ok: false, error: 'the reprint queue is empty' };
        await this.receipts.print(id, { reprint: true });
        return { ok: true, id };
      }
      case 'reprint-queue':
        return { ok: true, queue: this.journal.receiptsToReprint() };
      case 'out-of-service':
        this.journal.append(null, 'operator.out-of-service', { by: req.by, reason: req.reason });
        this.terminal.send({ type: 'OUT_OF_SERVICE', by: req.by, reason: req.reason });
        return { ok: true, note: this.active ? 'the running transaction finishes first; no new one starts' : 'out of service' };
      case 'in-service':
        this.journal.append(null, 'operator.in-service', { by: req.by });
        this.terminal.send({ type: 'IN_SERVICE', by: req.by });
        return { ok: true };
      case 'device-test':
        return this.deviceTest(req.device);
      case 'config':
        return { ok: true, config: maskedConfig(this.config) };
      case 'log-tail':
        return { ok: true, lines: this.deps.logRing?.tail(req.lines ?? 50) ?? [] };
      case 'audit':
        this.journal.append(null, 'console.audit', { who: req.who, action: req.action, ok: req.ok });
        return { ok: true };
    }
  }
}

/** 'cash.idle' for { cash: 'idle' }: one readable name for a (possibly nested) state value. */
function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [key, child] = Object.entries(value)[0] ?? [];
    if (key !== undefined) return child === undefined || (typeof child === 'object' && child && Object.keys(child).length === 0) ? key : `${key}.${stateName(child)}`;
  }
  return String(value);
}

/** A code the customer shows to be paid change the kiosk owed: 8 characters, no 0/O/1/I. */
function claimCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(8);
  let code = '';
  for (const b of bytes) code += alphabet[b % alphabet.length];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** The configuration as the console shows it: no PIN hashes, no passwords in URLs. */
function maskedConfig(config: Config): unknown {
  const url = new URL(config.server.baseUrl);
  if (url.password) url.password = '***';
  return {
    ...config,
    server: { ...config.server, baseUrl: url.toString() },
    console: { ...config.console, engineers: config.console.engineers.map((e) => ({ name: e.name, pin: '***' })) },
  };
}
