/**
 * The reference management service as an MQTT consumer (docs/management-mqtt.md). It subscribes to
 * every kiosk's topics through a shared subscription (`$share/<group>/kiosk/+/<leaf>`), so several
 * instances split the fleet's messages; all of them store into the same database (the host's SQLite
 * file, the `mgmt_*` tables the HTTPS server uses). A message is stored before its PUBACK goes back
 * to the broker, and what the kiosk must not lose (alarms, command acknowledgements, journal
 * extracts) is answered with a `receipt` naming its ids once stored; the kiosk sends it again until
 * then, and a resend is recognised by id. Commands are published to the terminal's `cmd` topic at
 * QoS 1, and published again when that terminal's heartbeat arrives while one is still
 * unacknowledged and older than `resendMs`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { z } from 'zod';
import { KIOSK_TO_CENTRAL, parseTopic, topic } from '../../src/management/mqtt-topics.js';
import { headSchema } from './chain-heads.js';
import { ManagementStore, type ManagementRecords } from './management-store.js';
import type { ManagementMode, RunningManagement } from './management.js';

export const DEFAULT_GROUP = 'kiosk-central';

export interface ManagementConsumerOptions {
  /** The broker, e.g. mqtts://127.0.0.1:8883. */
  url: string;
  /** The name on the broker's certificate (default localhost). */
  serverName?: string;
  /** The host's SQLite file, shared by every instance. */
  dbPath: string;
  /** PEM: the CA that signs the broker's certificate, and this consumer's certificate and key (its identity on the broker). */
  tls: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
  /** Makes the client id `<group>-<instance>`: each instance keeps its own persistent session. */
  instance: string;
  /** The shared subscription's group name. */
  group?: string;
  /** A command still unacknowledged is published again at a heartbeat once this much older (default 30 s). */
  resendMs?: number;
  /** How long the broker keeps this consumer's session while it is away (default 1 day). */
  sessionExpiryS?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

export interface RunningConsumer extends RunningManagement {
  readonly clientId: string;
  /** Messages stored by this instance, by leaf; `duplicates`: alarms and acknowledgements seen before. */
  readonly counts: { received: Record<string, number>; duplicates: number };
  /** A crash: the connection is cut without DISCONNECT and nothing more is stored; the session stays on the broker. */
  kill(): Promise<void>;
}

const text = (max: number) => z.string().min(1).max(max);
const alarmsBody = z.object({
  alarms: z
    .array(
      z.object({
        id: text(128),
        action: z.enum(['raise', 'clear']),
        kind: text(64),
        source: text(128),
        severity: z.enum(['warning', 'critical']),
        detail: z.string().max(1000),
        at: text(64),
      }),
    )
    .max(1000),
});
const ackBody = z.object({ id: text(128), ok: z.boolean(), result: z.record(z.string(), z.unknown()).default({}) });
const extractBody = z.object({ commandId: text(128), events: z.array(z.unknown()) }).passthrough();
const anyObject = z.record(z.string(), z.unknown());
const queueBody = z
  .object({ terminalId: text(64), type: text(64), args: z.record(z.string(), z.unknown()).optional(), by: text(128).optional() })
  .strict();

export async function startManagementConsumer(opts: ManagementConsumerOptions): Promise<RunningConsumer> {
  const group = opts.group ?? DEFAULT_GROUP;
  const clientId = `${group}-${opts.instance}`;
  const resendMs = opts.resendMs ?? 30_000;
  const store = new ManagementStore(opts.dbPath);
  const log = opts.log;
  const counts = { received: {} as Record<string, number>, duplicates: 0 };
  let dead = false;

  const client: MqttClient = mqtt.connect(opts.url, {
    protocolVersion: 5,
    clientId,
    clean: false,
    keepalive: 30,
    reconnectPeriod: 500,
    connectTimeout: 10_000,
    properties: { sessionExpiryInterval: opts.sessionExpiryS ?? 86_400 },
    ca: opts.tls.ca,
    cert: opts.tls.cert,
    key: opts.tls.key,
    servername: opts.serverName ?? 'localhost',
    rejectUnauthorized: true,
    resubscribe: false,
  });

  const publish = (terminalId: string, leaf: 'cmd' | 'receipt', body: unknown): void => {
    client.publish(topic(terminalId, leaf), JSON.stringify(body), { qos: 1 }, (err) => {
      if (err) log?.warn({ terminalId, leaf, err: err.message }, 'management consumer: publish failed');
    });
  };

  /** Stores one message; returns the receipt for the kiosk, if it gets one. */
  function handle(terminalId: string, leaf: string, body: unknown): Record<string, unknown> | undefined {
    switch (leaf) {
      case 'state':
        store.state(terminalId, anyObject.parse(body));
        return undefined;
      case 'heartbeat': {
        const hb = anyObject.parse(body);
        store.heartbeat(terminalId, hb);
        for (const c of store.commandsToSend(terminalId, resendMs)) publish(terminalId, 'cmd', c);
        const head = headSchema.safeParse(hb.chainHead);
        if (!head.success) return undefined;
        const v = store.chainHead(terminalId, head.data);
        return { heads: { chainHead: v.highest, ...(v.before ? { chainHeadBefore: v.before } : {}) } };
      }
      case 'counters':
        store.counters(terminalId, anyObject.parse(body));
        return undefined;
      case 'alarm': {
        const { alarms } = alarmsBody.parse(body);
        const { ids, duplicates } = store.storeAlarms(terminalId, alarms);
        counts.duplicates += duplicates;
        return { alarms: ids };
      }
      case 'cmd-ack': {
        const ack = ackBody.parse(body);
        if (store.acknowledge(terminalId, ack.id, ack) === 'duplicate') counts.duplicates++;
        return { cmdAcks: [ack.id] };
      }
      case 'journal': {
        const extract = extractBody.parse(body);
        store.extract(terminalId, extract.commandId, extract);
        return { extracts: [extract.commandId] };
      }
      default:
        return undefined;
    }
  }

  // The PUBACK goes back only after this has stored the message, so a crash before that leaves it
  // with the broker (in this instance's session) rather than lost.
  client.handleMessage = (packet: IPublishPacket, done) => {
    if (dead) return;
    const where = parseTopic(packet.topic);
    try {
      if (where) {
        const receipt = handle(where.terminalId, where.leaf, JSON.parse(packet.payload.toString('utf8')));
        counts.received[where.leaf] = (counts.received[where.leaf] ?? 0) + 1;
        if (receipt) publish(where.terminalId, 'receipt', receipt);
      }
    } catch (e) {
      // A malformed message is dropped (and acknowledged): sending it again would not mend it.
      log?.warn({ topic: packet.topic, err: (e as Error).message }, 'management consumer: message refused');
    }
    done();
  };

  // Made again at every connection, session or not: Mosquitto 2.0 does not restore shared
  // subscriptions from its persistence file after a restart (the plain ones it does).
  const subscribe = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const filters = KIOSK_TO_CENTRAL.map((leaf) => `$share/${group}/kiosk/+/${leaf}`);
      client.subscribe(filters, { qos: 1 }, (err, granted) => {
        const refused = granted?.filter((g) => g.qos > 2) ?? [];
        if (err || refused.length > 0) reject(err ?? new Error(`the broker refused ${refused.map((g) => g.topic).join(', ')}`));
        else resolve();
      });
    });
  let connections = 0;
  client.on('connect', () => {
    // The first connection's subscription is waited for below; a reconnection's (after the broker
    // lost the session, or restarted without the shared ones) is made here.
    if (connections++ > 0) subscribe().catch((e: Error) => log?.warn({ clientId, err: e.message }, 'management consumer: subscriptions refused'));
  });
  client.on('error', (e) => log?.warn({ clientId, err: e.message }, 'management consumer: broker connection failed'));
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error) => {
      client.end(true);
      store.close();
      reject(e);
    };
    client.once('error', failed);
    client.once('connect', () => {
      client.off('error', failed);
      subscribe().then(resolve, reject);
    });
  });
  log?.info({ clientId, url: opts.url }, 'management consumer connected');

  function queueCommand(c: z.infer<typeof queueBody>): ReturnType<ManagementStore['queueCommand']> {
    const record = store.queueCommand(c);
    for (const cmd of store.commandsToSend(c.terminalId, 0, [record.id])) publish(c.terminalId, 'cmd', cmd);
    return store.command(record.id)!;
  }

  let closing: Promise<void> | undefined;
  const running: RunningConsumer = {
    clientId,
    counts,
    port: Number(new URL(opts.url).port),
    url: opts.url,
    setMode(mode: ManagementMode) {
      if (mode !== 'ok') throw new Error(`fault mode '${mode}' is served by the HTTPS management server only; on MQTT stop or kill a consumer, or the broker`);
    },
    queueCommand,
    records: (): ManagementRecords => store.records(),
    resetChainHeads: (terminalId) => store.resetChainHeads(terminalId),
    async admin(req: IncomingMessage, res: ServerResponse, path: string) {
      const r = `${req.method} ${path}`;
      try {
        if (r === 'GET /_management') sendJson(res, 200, store.records());
        else if (r === 'POST /_commands') sendJson(res, 200, queueCommand(queueBody.parse(await readJson(req))));
        else return false;
      } catch (err) {
        sendJson(res, 400, { error: 'invalid-body', message: (err as Error).message });
      }
      return true;
    },
    close() {
      closing ??= (async () => {
        dead = true;
        await client.endAsync().catch(() => undefined);
        store.close();
      })();
      return closing;
    },
    async kill() {
      dead = true;
      client.options.reconnectPeriod = 0;
      client.stream.destroy();
      await client.endAsync(true).catch(() => undefined);
      store.close();
      closing = Promise.resolve();
    },
  };
  return running;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}
