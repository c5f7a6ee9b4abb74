import type { Actor } from 'xstate';
import { capabilities, type terminalMachine } from '../../states/terminal.js';
import type { Config } from '../config/schema.js';
import { maskSecrets } from '../config/secrets.js';
import type { Peer } from '../control/peer.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { mayRequest, roleOf } from '../control/roles.js';
import { ConsoleLockoutBook } from './console-lockout.js';
import type { Journal } from '../journal/index.js';
import type { ChainWitness } from '../management/chain-witness.js';
import type { Logger, LogRing } from '../log.js';
import { fittedDevices, type Devices } from './devices.js';
import type { TransactionDesk } from '../desk/desk.js';
import type { ReceiptService } from './receipts.js';
import type { SlipService } from './slips.js';
import { stateName } from '../../states/state-name.js';
import { formatTime } from '../../drivers/time.js';

export interface ControlDeps {
  config: Config;
  journal: Journal;
  devices: Devices;
  receipts: ReceiptService;
  slips: SlipService;
  terminal: Actor<typeof terminalMachine>;
  transactions: TransactionDesk;
  forwardNow: () => void;
  /** Rollback detection: an engineer's acceptance goes through it. */
  witness: Pick<ChainWitness, 'accept'>;
  log: Logger;
  logRing: LogRing | undefined;
}

/** Answers the local control protocol (launcher, scenario runner, engineers' console). */
export class ControlHandler {
  private readonly lockout: ConsoleLockoutBook;

  constructor(private readonly d: ControlDeps) {
    this.lockout = new ConsoleLockoutBook(d.journal, d.config.console);
  }

  status(): Record<string, unknown> {
    const { journal, devices, terminal, transactions } = this.d;
    const t = terminal.getSnapshot();
    const a = transactions.active();
    const snap = a?.actor.getSnapshot();
    const last = transactions.lastId();
    return {
      terminal: {
        state: stateName(t.value),
        reason: t.context.operatorOut ? `${t.context.operatorOut.reason} (by ${t.context.operatorOut.by})` : (t.context.reason ?? null),
        ...capabilities(t.context),
      },
      devices: Object.fromEntries(fittedDevices(devices).map(([name, d]) => [name, d.status()])),
      validator: { ...devices.validator.status(), accepting: transactions.accepting() },
      transaction: a && snap ? { ...snap.context, state: stateName(snap.value) } : null,
      lastTransaction: last ? journal.transaction(last) : null,
      outbox: journal.outboxStats(),
      cashbox: journal.cashbox(),
      coinbox: journal.coinbox(),
    };
  }

  /**
   * One request. `peer` is who the kernel says sent it, on the console's socket; without it the
   * request came through the service's own socket (or from the service itself).
   */
  async handle(req: ControlRequest, peer?: Peer): Promise<ControlResponse> {
    if (peer && !mayRequest(roleOf(peer, process.getuid?.() ?? -1), req.cmd)) {
      // Logged, not journalled: a refused sender must not be able to grow the journal.
      this.d.log.warn({ cmd: req.cmd, uid: peer.uid, user: peer.user, pid: peer.pid }, 'control request refused to this user');
      return { ok: false, error: `'${req.cmd}' is not allowed for user ${peer.user} (uid ${peer.uid})` };
    }
    return this.answer(req, peer);
  }

  private async answer(req: ControlRequest, peer: Peer | undefined): Promise<ControlResponse> {
    const { journal, terminal, transactions, log } = this.d;
    const hoppers = this.d.devices.hoppers;
    switch (req.cmd) {
      case 'status':
        return { ok: true, ...this.status() };
      case 'start':
        return { ok: true, id: transactions.start(req.service) };
      case 'number':
        return transactions.customer({ type: 'NUMBER', phone: req.phone });
      case 'confirm':
        return transactions.customer({ type: 'CONFIRM' });
      case 'card':
        return transactions.customer({ type: 'CARD' });
      case 'mobile':
        return transactions.customer({ type: 'MOBILE', mode: req.mode });
      case 'done':
        return transactions.customer({ type: 'DONE' });
      case 'topup-offline':
        return transactions.customer({ type: 'TOPUP_OFFLINE' });
      case 'cancel':
        return transactions.customer({ type: 'CANCEL' });
      case 'transactions':
        return { ok: true, transactions: journal.listTransactions({ limit: req.limit ?? 20 }) };
      case 'transaction': {
        const txn = journal.transaction(req.id);
        if (!txn) return { ok: false, error: `no transaction ${req.id}` };
        return { ok: true, transaction: txn, events: journal.events(req.id) };
      }
      case 'verify': {
        const problems = journal.verify();
        return { ok: true, problems };
      }
      case 'forward-now':
        this.d.forwardNow();
        return { ok: true };
      case 'hoppers':
        return {
          ok: true,
          hoppers: journal.hopperLevels().map((h) => ({ ...h, status: hoppers.get(h.name)?.status() ?? null })),
        };
      case 'hopper-level': {
        const hopper = hoppers.get(req.name);
        if (!hopper) return { ok: false, error: `no hopper named '${req.name}' (configured: ${[...hoppers.keys()].join(', ') || 'none'})` };
        journal.setHopperLevel(req.name, hopper.coinValue, req.level, 'control');
        return { ok: true };
      }
      case 'hopper-refill': {
        if (!hoppers.has(req.name)) return { ok: false, error: `no hopper named '${req.name}'` };
        return { ok: true, level: journal.hopperRefilled(req.name, req.add, req.by) };
      }
      case 'cash-collection': {
        const counted = Object.fromEntries(Object.entries(req.counted).map(([v, n]) => [Number(v), n]));
        const result = journal.cashCollected(req.by, counted);
        if (!result.ok) log.error({ ...result, by: req.by }, 'cash collection: the counted notes differ from the journal');
        else log.info({ by: req.by }, 'cash collection: counts agree with the journal');
        for (const c of result.confirmed) log.warn({ claim: c.id, txn: c.txnId, value: c.denomination, by: req.by }, 'cash collection: the count found the note of an open claim; the claim is confirmed');
        if (result.confirmed.length > 0) this.d.forwardNow();
        return {
          ok: true,
          agrees: result.ok,
          expected: result.expected,
          counted: result.counted,
          difference: result.difference,
          confirmed: result.confirmed.map((c) => ({ claim: c.id, txnId: c.txnId, claimCode: c.claimCode, value: c.denomination })),
        };
      }
      case 'reprint': {
        // A fault slip waiting for the printer goes first: it is what tells a customer what is owed.
        const slips = journal.slipsToReprint();
        const id = req.id ?? slips[0] ?? journal.receiptsToReprint()[0];
        if (!id) return { ok: false, error: 'the reprint queue is empty' };
        if (slips.includes(id)) {
          await this.d.slips.print(id, { reprint: true });
          return { ok: true, id, printed: 'slip' };
        }
        await this.d.receipts.print(id, { reprint: true });
        return { ok: true, id, printed: 'receipt' };
      }
      case 'reprint-queue':
        return { ok: true, queue: journal.receiptsToReprint(), slips: journal.slipsToReprint() };
      case 'out-of-service':
        journal.append(null, 'operator.out-of-service', { by: req.by, reason: req.reason });
        terminal.send({ type: 'OUT_OF_SERVICE', by: req.by, reason: req.reason });
        return { ok: true, note: transactions.active() ? 'a running transaction that holds money finishes first (one that holds none is cancelled); no new one starts' : 'out of service' };
      case 'in-service':
        journal.append(null, 'operator.in-service', { by: req.by });
        terminal.send({ type: 'IN_SERVICE', by: req.by });
        return { ok: true };
      case 'journal-rollback-accept': {
        const accepted = this.d.witness.accept(req.by, peer);
        log.warn({ by: req.by, peer, accepted }, 'journal rollback accepted by an engineer: the journal in use stands');
        // Out of service for the rollback: a new recovery run checks the journal again.
        if (stateName(terminal.getSnapshot().value) === 'outOfService.bootFailed') terminal.send({ type: 'RETRY' });
        return { ok: true, accepted };
      }
      case 'device-test':
        return this.deviceTest(req.device, req.print ?? true);
      case 'config':
        return { ok: true, config: maskSecrets(this.d.config) };
      case 'log-tail':
        return { ok: true, lines: this.d.logRing?.tail(req.lines ?? 50) ?? [] };
      case 'audit':
        journal.append(null, 'console.audit', { who: req.who, action: req.action, ok: req.ok, ...(peer ? { peer } : {}) });
        return { ok: true };
      case 'console-lockout':
        return this.lockout.handle(req.op);
    }
  }

  /** A device test while the service runs; it never takes or pays money. */
  private async deviceTest(name: string, print: boolean): Promise<ControlResponse> {
    if (this.d.transactions.active()) return { ok: false, error: 'a transaction is running: test the devices when the kiosk is idle' };
    const fitted = fittedDevices(this.d.devices);
    const device = fitted.find(([n]) => n === name)?.[1];
    if (!device) return { ok: false, error: `no device '${name}' (fitted: ${fitted.map(([n]) => n).join(', ')})` };
    const result: Record<string, unknown> = { device: name, identity: device.identity(), status: device.status() };
    if (device.kind === 'coin-hopper') {
      result.flags = await device.selfTest();
      result.counters = await device.readStatus();
    } else if (device.kind === 'printer' && print) {
      await device.print({
        lines: [
          { text: '测试页 TEST PAGE', align: 'center', emphasis: true, large: true },
          { text: `${this.d.config.terminalId} ${formatTime(new Date(), this.d.config.timeZone)}`, align: 'center' },
        ],
        qr: this.d.config.terminalId,
      });
      result.printed = true;
    } else if (device.kind === 'bill-validator') {
      await device.enable([]);
      await device.disable();
      result.statusCycle = 'enable/disable answered';
    } else if (device.kind === 'code-scanner') {
      // Left disabled whatever happens: the kiosk takes no code outside a payment.
      try {
        await device.enable();
      } finally {
        await device.disable();
      }
      result.statusCycle = 'reading turned on and off';
    }
    // The health after the test: a hopper's self-test may have turned a flag into a fault.
    const after = device.status();
    result.status = after;
    this.d.journal.append(null, 'device.test', { device: name, ok: after.health === 'ok' });
    return { ok: true, ...result };
  }
}
