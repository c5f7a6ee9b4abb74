/**
 * The management link over MQTT 5 (`management.transport: "mqtt"`, docs/management-mqtt.md): one
 * persistent session per kiosk on the broker (client id = terminal id, clean start off, a session
 * expiry of days), mutual TLS with the kiosk's certificate, QoS 1 everywhere, a retained `state`
 * with the last will `offline`. Reports (heartbeat, counters) count as taken at the broker's PUBACK;
 * what must not be lost (alarms, command acknowledgements, journal extracts) only when the central
 * side's `receipt` names its id, within the time-out. The link keeps those in the journal until
 * then and sends them again, so the broker's own bounded queue is never relied on.
 */
import type { ConnectionOptions } from 'node:tls';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { z } from 'zod';
import type { AlarmMessage, HeadRef } from '../journal/index.js';
import type { Logger } from '../log.js';
import { clientTlsOptions, type TlsMaterial } from '../tls/material.js';
import { remoteCommandSchema, type CommandAck } from './commands.js';
import { classify, ManagementError } from './https-client.js';
import { parseTopic, topic } from './mqtt-topics.js';
import type { Counters, Heartbeat } from './reports.js';
import type { HeartbeatReply, JournalExtractUpload, ManagementTarget, ManagementTransport, TransportEvents } from './transport.js';

export interface MqttSession {
  terminalId: string;
  sessionExpiryS: number;
  keepaliveS: number;
  reconnectMs: number;
}

const headRef = z.object({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) });
const receiptSchema = z.object({
  alarms: z.array(z.string()).optional(),
  cmdAcks: z.array(z.string()).optional(),
  extracts: z.array(z.string()).optional(),
  heads: z.object({ chainHead: headRef.optional(), chainHeadBefore: headRef.optional() }).optional(),
});
type ReceiptKind = 'alarms' | 'cmdAcks' | 'extracts';

/** One exchange waiting for the central side's receipt of some ids. */
interface Waiter {
  kind: ReceiptKind;
  want: Set<string>;
  got: Set<string>;
  done: () => void;
}

/** The retained state after a clean stop; the will says the same after an unclean one. */
export const OFFLINE_STATE = { online: false, state: 'offline' } as const;

export class MqttTransport implements ManagementTransport {
  private client: MqttClient | undefined;
  private events: TransportEvents | undefined;
  private readonly waiters = new Set<Waiter>();
  /** The last state published as retained on this connection; a new connection publishes it again. */
  private publishedState: string | undefined;
  private lastState: { state: string; version: string } | undefined;
  private lastError: ManagementError | undefined;
  private loading: Promise<void> | undefined;
  private mqtt: (typeof import('mqtt'))['default'] | undefined;
  private closed = false;

  constructor(
    private target: ManagementTarget,
    private readonly tls: TlsMaterial,
    private readonly session: MqttSession,
    private readonly log: Pick<Logger, 'info' | 'warn'>,
  ) {}

  get where(): string {
    return `mqtts://${this.target.host}:${this.target.port}`;
  }

  open(events: TransportEvents): void {
    if (this.client || this.loading) return;
    this.events = events;
    this.closed = false;
    // mqtt.js is imported when the link opens: a kiosk on the HTTPS link does not hold it (~12 MB RSS).
    this.loading = import('mqtt').then(({ default: mqtt }) => {
      this.mqtt = mqtt;
      if (!this.closed) this.connect();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loading;
    this.loading = undefined;
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    for (const w of this.waiters) w.done();
    if (client.connected) {
      // A clean DISCONNECT sends no will, so the retained state is set to offline here.
      await this.publish('state', { ...OFFLINE_STATE, at: new Date().toISOString() }, client).catch(() => undefined);
    }
    await client.endAsync().catch(() => undefined);
  }

  /** A new address takes effect with a new connection. */
  retarget(target: ManagementTarget): void {
    const moved = target.host !== this.target.host || target.port !== this.target.port || target.serverName !== this.target.serverName;
    this.target = target;
    if (!moved || !this.client || !this.events) return;
    const old = this.client;
    this.client = undefined;
    old.end(true);
    this.connect();
  }

  async heartbeat(hb: Heartbeat & { chainHead?: HeadRef }): Promise<HeartbeatReply> {
    this.lastState = { state: hb.state, version: hb.version };
    const client = await this.connected();
    if (this.publishedState !== hb.state) await this.publishState(client);
    await this.publish('heartbeat', hb);
    return { commands: [] };
  }

  async counters(c: Counters): Promise<void> {
    await this.publish('counters', c);
  }

  alarms(batch: readonly AlarmMessage[]): Promise<string[]> {
    return this.confirmed('alarms', batch.map((a) => a.id), 'alarm', { alarms: batch });
  }

  async commandAck(ack: CommandAck): Promise<void> {
    await this.confirmed('cmdAcks', [ack.id], 'cmd-ack', ack, true);
  }

  async journalExtract(upload: JournalExtractUpload): Promise<void> {
    await this.confirmed('extracts', [upload.commandId], 'journal', upload, true);
  }

  private connect(): void {
    const s = this.session;
    const t = this.target;
    // The same TLS settings as the HTTPS link (the broker's CA pinned, TLS 1.2+, AEAD suites only);
    // mqtt.js hands its options to tls.connect, though its type names only some of them.
    const { minVersion, ciphers } = clientTlsOptions(this.tls, t.serverName);
    const options: IClientOptions & Pick<ConnectionOptions, 'minVersion' | 'ciphers'> = {
      ca: this.tls.ca,
      cert: this.tls.cert,
      key: this.tls.key,
      servername: t.serverName,
      rejectUnauthorized: true,
      minVersion,
      ciphers,
      protocolVersion: 5,
      clientId: s.terminalId,
      clean: false,
      keepalive: s.keepaliveS,
      reconnectPeriod: s.reconnectMs,
      connectTimeout: t.timeoutMs,
      properties: { sessionExpiryInterval: s.sessionExpiryS },
      will: { topic: topic(s.terminalId, 'state'), payload: JSON.stringify(OFFLINE_STATE), qos: 1, retain: true },
      resubscribe: false,
    };
    const client = this.mqtt!.connect(`mqtts://${t.host}:${t.port}`, options);
    this.client = client;
    client.on('connect', (connack) => {
      this.lastError = undefined;
      this.publishedState = undefined;
      this.log.info({ broker: this.where, sessionPresent: connack.sessionPresent }, 'broker connected');
      // Made at every connection even with a session present: cheap, and a broker that lost its
      // persistence file (or restored it partly) still delivers the commands.
      client.subscribe([topic(s.terminalId, 'cmd'), topic(s.terminalId, 'receipt')], { qos: 1 }, (err, granted) => {
        const refused = granted?.filter((g) => g.qos > 2) ?? [];
        if (err || refused.length > 0) this.log.warn({ err: err?.message, refused }, 'broker refused the subscriptions');
      });
      if (this.lastState) void this.publishState(client).catch(() => undefined);
      this.events?.connected();
    });
    client.on('error', (e) => {
      this.lastError = classify(e);
    });
    // The PUBACK goes to the broker only after this returns: a command is journalled by then.
    client.handleMessage = (packet: IPublishPacket, done) => {
      try {
        this.onMessage(packet);
      } catch (e) {
        this.log.warn({ topic: packet.topic, err: (e as Error).message }, 'management message not understood');
      }
      done();
    };
  }

  private onMessage(packet: IPublishPacket): void {
    const where = parseTopic(packet.topic);
    if (!where || where.terminalId !== this.session.terminalId) return;
    const body: unknown = JSON.parse(packet.payload.toString('utf8'));
    if (where.leaf === 'cmd') {
      this.events?.commands([remoteCommandSchema.parse(body)]);
      return;
    }
    if (where.leaf !== 'receipt') return;
    const r = receiptSchema.parse(body);
    if (r.heads) this.events?.heads(r.heads);
    for (const w of this.waiters) {
      for (const id of r[w.kind] ?? []) if (w.want.has(id)) w.got.add(id);
      if (w.got.size === w.want.size) w.done();
    }
  }

  /** The client once connected; a connection under way (start-up, a reconnect) is waited for within the time-out. */
  private async connected(): Promise<MqttClient> {
    await this.loading;
    const client = this.client;
    if (client?.connected) return client;
    if (client && !client.disconnecting) {
      let timer: NodeJS.Timeout | undefined;
      let onConnect: (() => void) | undefined;
      const up = await new Promise<boolean>((resolve) => {
        onConnect = () => resolve(true);
        client.once('connect', onConnect);
        timer = setTimeout(() => resolve(false), this.target.timeoutMs);
      });
      clearTimeout(timer);
      client.off('connect', onConnect!);
      if (up && this.client === client) return client;
    }
    throw this.lastError ?? new ManagementError('network', `not connected to the broker ${this.where}`);
  }

  private async publishState(client: MqttClient): Promise<void> {
    const s = this.lastState;
    if (!s) return;
    await this.publish('state', { online: true, state: s.state, version: s.version, at: new Date().toISOString() }, client);
    this.publishedState = s.state;
  }

  /** Publishes at QoS 1 (`state` retained) and waits for the broker's PUBACK, within the time-out. */
  private async publish(leaf: 'state' | 'heartbeat' | 'counters' | 'alarm' | 'cmd-ack' | 'journal', body: unknown, on?: MqttClient): Promise<void> {
    const client = on ?? (await this.connected());
    const timeoutMs = this.target.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ManagementError('timeout', `${leaf}: no PUBACK within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([client.publishAsync(topic(this.session.terminalId, leaf), JSON.stringify(body), { qos: 1, retain: leaf === 'state' }), late]);
    } catch (e) {
      if (e instanceof ManagementError) throw e;
      const code = (e as { code?: number }).code;
      // 0x87: the broker's ACL lets a kiosk publish only under the name on its certificate.
      const hint = code === 0x87 ? `; the broker allows this kiosk only under kiosk/<its certificate's common name>/, so terminalId '${this.session.terminalId}' must be that name` : '';
      throw new ManagementError(code !== undefined ? 'refused' : 'network', `${leaf}: ${(e as Error).message}${code !== undefined ? ` (reason ${code})` : ''}${hint}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Publishes and waits for the central side's receipt of `ids`. Returns the ids received within the
   * time-out; none at all is a time-out (`all`: anything short of every id is).
   */
  private async confirmed(kind: ReceiptKind, ids: string[], leaf: 'alarm' | 'cmd-ack' | 'journal', body: unknown, all = false): Promise<string[]> {
    let finish!: () => void;
    const settled = new Promise<void>((resolve) => (finish = resolve));
    const waiter: Waiter = { kind, want: new Set(ids), got: new Set(), done: () => finish() };
    this.waiters.add(waiter);
    // One time-out for the whole exchange, PUBACK and receipt together, as for an HTTPS request.
    const timer = setTimeout(finish, this.target.timeoutMs);
    try {
      await this.publish(leaf, body);
      await settled;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(waiter);
    }
    const got = ids.filter((id) => waiter.got.has(id));
    if (got.length === 0 || (all && got.length < ids.length)) {
      throw new ManagementError('timeout', `${leaf}: no receipt from the central side within ${this.target.timeoutMs} ms`);
    }
    return got;
  }
}
