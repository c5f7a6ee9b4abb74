/**
 * A light simulated kiosk: only its management link on MQTT, spoken as a fielded kiosk speaks it
 * (docs/management-mqtt.md): its own certificate, a persistent session, a retained state with a
 * last will, heartbeats, counters, random alarms with ids, and commands run once per id and
 * acknowledged. Alarms and acknowledgements are kept until a receipt from the central side names
 * them and sent again with the next heartbeat until then, as the real kiosk does from its journal.
 * Thousands of these share one process; no devices, no journal: what each has sent and run is kept
 * in memory for the fleet's loss and duplicate checks.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  ackPayload,
  alarmPayload,
  ALARMS_PER_MESSAGE,
  countersPayload,
  fleetTopics,
  heartbeatPayload,
  newAlarm,
  parseCommand,
  parseReceipt,
  SESSION_EXPIRY_S,
  statePayload,
  type FleetAlarm,
  type FleetTopics,
} from './wire.js';

export interface SimKioskOptions {
  terminalId: string;
  url: string;
  ca: string;
  cert: string;
  key: string;
  heartbeatMs: number;
  /** Mean time between alarms (exponential), or 0 for none. */
  alarmMeanMs: number;
  /** Counters every this many heartbeats. */
  countersEvery: number;
  /** Something not receipted this long after it went out goes again with the next heartbeat. */
  resendMs: number;
  /** Every message published (towards the central side). */
  onSent: () => void;
  /** Every command delivery (from the central side). */
  onCommand: (commandId: string) => void;
}

/** Reconnect after a broker restart at 1–3 s, spread so the whole fleet does not knock at once. */
const reconnectMs = (): number => 1000 + Math.floor(Math.random() * 2000);

export class SimKiosk {
  readonly terminalId: string;
  /** Ids of the alarms this kiosk raised. */
  readonly alarmIds: string[] = [];
  heartbeatsSent = 0;
  countersSent = 0;
  /** Command id → how many times it was run (must stay 1 each). */
  readonly commandsRun = new Map<string, number>();
  /** Deliveries of a command already run: acknowledged again, not run. */
  redeliveries = 0;
  /** Alarms and acknowledgements sent again for want of a receipt. */
  resends = 0;
  private readonly pendingAlarms = new Map<string, { alarm: FleetAlarm; sentAt: number }>();
  private readonly pendingAcks = new Map<string, number>();
  private client: MqttClient | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private alarm: NodeJS.Timeout | undefined;
  private readonly secureContext: SecureContext;
  private readonly topics: FleetTopics;
  private readonly bornAt = Date.now();
  private beats = 0;
  private alarmMeanMs: number;

  constructor(private readonly opts: SimKioskOptions) {
    this.terminalId = opts.terminalId;
    this.alarmMeanMs = opts.alarmMeanMs;
    this.topics = fleetTopics(opts.terminalId);
    this.secureContext = createSecureContext({ ca: opts.ca, cert: opts.cert, key: opts.key });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Alarms and acknowledgements still waiting for their receipt. */
  get unreceipted(): number {
    return this.pendingAlarms.size + this.pendingAcks.size;
  }

  /** Connects; resolves on the first CONNACK. Heartbeats start at a random phase of the period. */
  start(): Promise<void> {
    // mqtt.js hands its options to tls.connect, which takes a ready secure context: the PEM texts
    // are parsed once per kiosk, not again at every reconnect of 2,000 kiosks.
    const options: IClientOptions & { secureContext: SecureContext } = {
      clientId: this.terminalId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
      keepalive: 30,
      reconnectPeriod: reconnectMs(),
      connectTimeout: 60_000,
      secureContext: this.secureContext,
      rejectUnauthorized: true,
      will: { topic: this.topics.state, payload: Buffer.from(statePayload(false)), qos: 1, retain: true },
    };
    const client = mqtt.connect(this.opts.url, options);
    this.client = client;
    client.on('connect', () => {
      // Put back the normal period after a drop that stretched it (see dropFor).
      client.options.reconnectPeriod = reconnectMs();
      this.publish(this.topics.state, statePayload(true), true);
    });
    client.on('message', (topic, payload) => (topic === this.topics.cmd ? this.onCommand(payload) : this.onReceipt(payload)));
    // Refused while the broker restarts, a reset socket: mqtt.js reconnects by itself.
    client.on('error', () => undefined);
    client.subscribe([this.topics.cmd, this.topics.receipt], { qos: 1 });
    this.heartbeat = setTimeout(() => {
      this.beat();
      this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    }, Math.random() * this.opts.heartbeatMs);
    this.scheduleAlarm();
    return new Promise((resolve) => client.once('connect', () => resolve()));
  }

  /** The network is lost for `ms`: the socket is cut without DISCONNECT (the broker publishes the will); the kiosk goes on and queues. */
  dropFor(ms: number): void {
    const client = this.client;
    if (!client) return;
    client.options.reconnectPeriod = ms;
    client.stream.destroy();
  }

  /** Raises no more alarms (the end of a run: what is pending still goes out with the heartbeats). */
  stopAlarms(): void {
    clearTimeout(this.alarm);
    this.alarm = undefined;
    this.alarmMeanMs = 0;
  }

  /** Stops raising alarms and beating (resends then only by flush()). */
  quiet(): void {
    this.stopAlarms();
    clearTimeout(this.heartbeat);
    clearInterval(this.heartbeat);
  }

  /** Sends again what waits for a receipt for longer than the resend interval. */
  flush(): void {
    const due = Date.now() - this.opts.resendMs;
    const alarms = [...this.pendingAlarms.values()].filter((p) => p.sentAt <= due);
    for (let i = 0; i < alarms.length; i += ALARMS_PER_MESSAGE) {
      const batch = alarms.slice(i, i + ALARMS_PER_MESSAGE);
      for (const p of batch) p.sentAt = Date.now();
      this.resends += batch.length;
      this.publish(this.topics.alarm, alarmPayload(batch.map((p) => p.alarm)), false);
    }
    for (const [id, sentAt] of this.pendingAcks) {
      if (sentAt > due) continue;
      this.pendingAcks.set(id, Date.now());
      this.resends += 1;
      this.publish(this.topics.cmdAck, ackPayload(id), false);
    }
  }

  async stop(): Promise<void> {
    this.quiet();
    await this.client?.endAsync(true);
  }

  private beat(): void {
    this.beats += 1;
    this.flush();
    this.heartbeatsSent += 1;
    this.publish(this.topics.heartbeat, heartbeatPayload(this.terminalId, Math.round((Date.now() - this.bornAt) / 1000)), false);
    if (this.beats % this.opts.countersEvery === 0) {
      this.countersSent += 1;
      this.publish(this.topics.counters, countersPayload(), false);
    }
  }

  private scheduleAlarm(): void {
    if (this.alarmMeanMs <= 0) return;
    const wait = -Math.log(1 - Math.random()) * this.alarmMeanMs;
    this.alarm = setTimeout(() => {
      const alarm = newAlarm(`${this.terminalId}-alarm-${this.alarmIds.length + 1}`);
      this.alarmIds.push(alarm.id);
      this.pendingAlarms.set(alarm.id, { alarm, sentAt: Date.now() });
      this.publish(this.topics.alarm, alarmPayload([alarm]), false);
      this.scheduleAlarm();
    }, wait);
  }

  private onCommand(payload: Buffer): void {
    const command = parseCommand(payload);
    if (!command) return;
    this.opts.onCommand(command.id);
    const runs = this.commandsRun.get(command.id) ?? 0;
    if (runs === 0) this.commandsRun.set(command.id, 1);
    else this.redeliveries += 1;
    // Acknowledged again on a redelivery: the first acknowledgement may be what was lost.
    this.pendingAcks.set(command.id, Date.now());
    this.publish(this.topics.cmdAck, ackPayload(command.id), false);
  }

  private onReceipt(payload: Buffer): void {
    const receipt = parseReceipt(payload);
    for (const id of receipt.alarms) this.pendingAlarms.delete(id);
    for (const id of receipt.cmdAcks) this.pendingAcks.delete(id);
  }

  private publish(topic: string, payload: string, retain: boolean): void {
    this.opts.onSent();
    // QoS 1: while the link is down mqtt.js keeps the message in its outgoing store and sends it on reconnect.
    this.client?.publish(topic, payload, { qos: 1, retain });
  }
}
