/**
 * The management link to the operator's management side, over short mutual-TLS requests or an MQTT
 * broker (the transport, `management.transport`). Every `management.heartbeatMs` the undelivered
 * alarms, then a heartbeat (state, devices, uptime, version; over HTTPS its answer carries the
 * remote commands waiting for this terminal, over MQTT they arrive on their own), the counters when
 * due (every `management.countersMs`, or at once after a cash collection or a hopper fill), and the
 * acknowledgements of finished commands. Nothing is held only in memory: alarms and command results
 * wait in the journal until the central side has confirmed them.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import type { HeadRef, Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { TlsMaterial } from '../tls/material.js';
import type { AlarmBook } from './alarms.js';
import { CommandRefused, RemoteCommands, type CommandExecutor, type RemoteCommand } from './commands.js';
import { extractArgsSchema, journalExtract } from './extract.js';
import { ManagementError } from './https-client.js';
import { HttpsTransport } from './https-transport.js';
import { MqttTransport } from './mqtt-transport.js';
import { reloadConfiguration, type SectionApplier } from './reload.js';
import { counters, countersMark, heartbeat, packageVersion } from './reports.js';
import { managementTarget, type ManagementTransport, type ServerHeads } from './transport.js';

/** What the link needs of the running kiosk. */
export interface ManagedTerminal {
  /** The runtime's status, as `kiosk ctl status` shows it. */
  status(): Record<string, unknown>;
  /** A request in the local control vocabulary: remote out-of-service and in-service go this way. */
  control(req: ControlRequest): Promise<ControlResponse>;
}

export interface ManagementLinkOptions {
  /** The running configuration; a reload changes its run-time sections in place. */
  config: Config & { management: NonNullable<Config['management']> };
  /** The file the configuration came from, read again by reload-configuration. */
  configPath: string | undefined;
  journal: Journal;
  alarms: AlarmBook;
  terminal: ManagedTerminal;
  /** The sections besides `management` that the running kiosk can take without a restart. */
  appliers: Readonly<Record<string, SectionApplier>>;
  tls: TlsMaterial;
  log: Logger;
  now?: () => Date;
  /** Reports the journal's chain head with each heartbeat and checks what the server saw (issue 15). */
  witness?: HeadWitness;
  /** Default: the one `management.transport` names. */
  transport?: ManagementTransport;
}

/** What the links need for rollback detection (implemented by ChainWitness). */
export interface HeadWitness {
  report(): HeadRef;
  serverSaw(server: string, heads: ServerHeads): void;
}

/** Alarms per request; a long outage's backlog goes out in several. */
const ALARM_BATCH = 50;
/** How often a remote out-of-service looks whether the running transaction has ended. */
const IDLE_POLL_MS = 200;
/** How long a stop waits for a command under way before leaving it to the next start. */
const STOP_COMMANDS_MS = 5000;
const LINK_ALARM = { kind: 'server-certificate', source: 'management-link' } as const;

/** The transport `management.transport` names. */
export function createTransport(config: ManagementLinkOptions['config'], tls: TlsMaterial, log: Logger): ManagementTransport {
  const target = managementTarget(config);
  if (config.management.transport === 'https') return new HttpsTransport(target, tls);
  return new MqttTransport(target, tls, { terminalId: config.terminalId, ...config.management.mqtt }, log);
}

export class ManagementLink {
  private readonly config: ManagementLinkOptions['config'];
  private readonly journal: Journal;
  private readonly alarms: AlarmBook;
  private readonly terminal: ManagedTerminal;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly transport: ManagementTransport;
  private readonly commands: RemoteCommands;
  private readonly startedAt: number;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private up: boolean | undefined;
  private lastError = '';
  private countersSentAt = Number.NEGATIVE_INFINITY;
  private countersSentMark = -1;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: ManagementLinkOptions) {
    this.config = opts.config;
    this.journal = opts.journal;
    this.alarms = opts.alarms;
    this.terminal = opts.terminal;
    this.log = opts.log;
    this.now = opts.now ?? (() => new Date());
    this.startedAt = this.now().getTime();
    this.transport = opts.transport ?? createTransport(this.config, opts.tls, this.log);
    const executors: Record<string, CommandExecutor> = {
      'out-of-service': (c, stopping) => this.outOfService(c, stopping),
      'in-service': (c) => this.inService(c),
      'reload-configuration': () => this.reload(),
      'upload-journal': (c) => this.uploadJournal(c),
    };
    this.commands = new RemoteCommands(this.journal, executors, this.log, () => this.kick(), this.now);
  }

  /** True after a request succeeded, false after one failed, undefined before the first. */
  get linkUp(): boolean | undefined {
    return this.up;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.alarms.onQueued(() => this.kick());
    this.log.info({ server: this.transport.where }, 'management link starting');
    this.transport.open({
      commands: (list) => {
        if (this.stopped) return;
        this.commands.receive(list);
      },
      heads: (heads) => this.opts.witness?.serverSaw('management', heads),
      // Back on the broker: what waited during the outage goes now, not at the next heartbeat.
      connected: () => this.tickSoon(),
    });
    this.schedule(0);
  }

  /** Ends the loop after the request in flight; commands still waiting are left to the next start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.unsubscribe?.();
    await this.ticking;
    await this.commands.stop(STOP_COMMANDS_MS);
    await this.transport.close();
  }

  /** Something is waiting to go out: send it now rather than at the next heartbeat, if the link is up. */
  kick(): void {
    if (this.up === false) return;
    this.tickSoon();
  }

  /** The next tick now (or right after the one under way), whatever the link's state. */
  private tickSoon(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        const soon = this.again && this.up === true;
        this.again = false;
        if (!this.stopped) this.schedule(soon ? 0 : this.config.management.heartbeatMs);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      // Alarms first: they are what the operator most needs to hear after an outage.
      await this.deliverAlarms();
      const at = this.now();
      const hb = heartbeat(this.terminal.status(), {
        terminalId: this.config.terminalId,
        version: packageVersion(),
        uptimeS: Math.round((at.getTime() - this.startedAt) / 1000),
        activeAlarms: this.alarms.active().length,
        at,
      });
      const witness = this.opts.witness;
      const answer = await this.exchange(() => this.transport.heartbeat(witness ? { ...hb, chainHead: witness.report() } : hb));
      if (answer.chainHead || answer.chainHeadBefore) witness?.serverSaw('management', answer);
      await this.sendCountersIfDue();
      if (!this.stopped) this.commands.receive(answer.commands);
      await this.sendAcknowledgements();
    } catch (e) {
      this.markDown(e as Error);
    }
  }

  private async deliverAlarms(): Promise<void> {
    for (;;) {
      const batch = this.alarms.undelivered(ALARM_BATCH);
      if (batch.length === 0) return;
      const acked = await this.exchange(() => this.transport.alarms(batch));
      this.alarms.delivered(acked);
      // A server that takes only part of a batch gets the rest at the next tick, not in a tight loop.
      if (!batch.every((m) => acked.includes(m.id))) return;
    }
  }

  private async sendCountersIfDue(): Promise<void> {
    const mark = countersMark(this.journal);
    const now = this.now();
    if (mark === this.countersSentMark && now.getTime() - this.countersSentAt < this.config.management.countersMs) return;
    await this.exchange(() => this.transport.counters(counters(this.journal, now)));
    this.countersSentAt = now.getTime();
    this.countersSentMark = mark;
  }

  private async sendAcknowledgements(): Promise<void> {
    for (const ack of this.commands.unacknowledged()) {
      await this.exchange(() => this.transport.commandAck(ack));
      this.commands.acknowledged(ack.id);
    }
  }

  /** Any answer from the other side means the link is up. */
  private async exchange<T>(run: () => Promise<T>): Promise<T> {
    const r = await run();
    this.markUp();
    return r;
  }

  private markUp(): void {
    if (this.up !== true) this.log.info({ server: this.transport.where }, 'management link up');
    this.up = true;
    this.lastError = '';
    this.alarms.clear(LINK_ALARM.kind, LINK_ALARM.source);
  }

  private markDown(e: Error): void {
    const kind = e instanceof ManagementError ? e.kind : 'internal';
    // Logged once per outage and once per change of cause, not at every heartbeat.
    if (this.up !== false || this.lastError !== kind) this.log.warn({ server: this.transport.where, kind, err: e.message }, 'management link down');
    this.up = false;
    this.lastError = kind;
    if (kind === 'certificate') this.alarms.raise({ ...LINK_ALARM, severity: 'critical', detail: e.message });
  }

  // ------------------------------------------------------------------ remote commands

  private async outOfService(c: RemoteCommand, stopping: AbortSignal): Promise<Record<string, unknown>> {
    const args = parseArgs(z.object({ reason: z.string().min(1).max(200).default('remote command') }).strict(), c.args);
    const running = this.runningTransaction();
    const r = await this.terminal.control({ cmd: 'out-of-service', by: `management:${c.by}`, reason: args.reason });
    if (!r.ok) throw new CommandRefused(r.error);
    // The control path lets the running transaction finish; the acknowledgement says so only once it has.
    while (running !== null && this.runningTransaction() === running) {
      if (stopping.aborted) throw new Error('the kiosk is stopping');
      await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
    }
    return { state: this.state(), waitedFor: running };
  }

  private async inService(c: RemoteCommand): Promise<Record<string, unknown>> {
    parseArgs(z.object({}).strict(), c.args);
    const r = await this.terminal.control({ cmd: 'in-service', by: `management:${c.by}` });
    if (!r.ok) throw new CommandRefused(r.error);
    return { state: this.state() };
  }

  private async reload(): Promise<Record<string, unknown>> {
    const path = this.opts.configPath;
    if (!path) throw new CommandRefused('this process was not started from a configuration file');
    const outcome = reloadConfiguration(path, this.config, { ...this.opts.appliers, management: (next) => this.reconfigure(next) });
    if (!outcome.ok) throw new CommandRefused('the configuration file is refused; nothing changed', { problems: outcome.problems });
    this.log.info({ applied: outcome.applied, needsRestart: outcome.needsRestart }, 'configuration reloaded');
    return { applied: outcome.applied, needsRestart: outcome.needsRestart };
  }

  /**
   * Intervals, time-out and address apply from the next request (MQTT: a new connection); adding or
   * removing the link, or changing its transport or MQTT session, needs a restart.
   */
  private reconfigure(next: Config): boolean {
    const now = this.config.management;
    if (!next.management || next.management.transport !== now.transport || !isDeepStrictEqual(next.management.mqtt, now.mqtt)) return false;
    Object.assign(this.config.management, next.management);
    for (const key of ['host', 'serverName'] as const) if (next.management[key] === undefined) delete this.config.management[key];
    this.transport.retarget(managementTarget(this.config));
    return true;
  }

  private async uploadJournal(c: RemoteCommand): Promise<Record<string, unknown>> {
    const args = parseArgs(extractArgsSchema, c.args);
    const extract = journalExtract(this.journal, args);
    await this.exchange(() => this.transport.journalExtract({ commandId: c.id, args, ...extract }));
    const first = extract.events[0];
    const last = extract.events.at(-1);
    return { events: extract.events.length, firstSeq: first?.seq ?? null, lastSeq: last?.seq ?? null, truncated: extract.truncated };
  }

  private runningTransaction(): string | null {
    const txn = this.terminal.status().transaction as { id?: string } | null | undefined;
    return txn?.id ?? null;
  }

  private state(): string {
    return (this.terminal.status().terminal as { state: string }).state;
  }
}

function parseArgs<T>(schema: z.ZodType<T>, args: unknown): T {
  const r = schema.safeParse(args);
  if (!r.success) throw new CommandRefused(`bad arguments: ${z.prettifyError(r.error)}`);
  return r.data;
}
