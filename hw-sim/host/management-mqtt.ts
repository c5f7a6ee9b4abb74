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
import { generate as generatePacket } from 'mqtt-packet';
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
  /** Messages stored in one commit: at most `max` (default 500), committed `waitMs` after the first arrived (default 5). */
  batch?: { max?: number; waitMs?: number };
  /** How long the broker keeps this consumer's session while it is away (default 1 day). */
  sessionExpiryS?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

export interface RunningConsumer extends RunningManagement {
  readonly clientId: string;
  /** Messages stored by this instance, by leaf; `duplicates`: alarms and acknowledgements seen before. */
  readonly counts: { received: Record<string, number>; duplicates: number };
  /** Messages received and not stored yet (their PUBACKs held back until their batch commits). */
  waiting(): number;
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
  const batchMax = opts.batch?.max ?? 500;
  const batchWaitMs = opts.batch?.waitMs ?? 5;

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

  /** What a stored message sends back once its batch is committed. */
  type Reply = { receipt?: Record<string, unknown>; cmds?: ReturnType<ManagementStore['commandsToSend']> };

  /** Stores one message (inside the current batch); returns what goes back to the kiosk once committed. */
  function handle(terminalId: string, leaf: string, body: unknown): Reply {
    switch (leaf) {
      case 'state':
        store.state(terminalId, anyObject.parse(body));
        return {};
      case 'heartbeat': {
        const hb = anyObject.parse(body);
        store.heartbeat(terminalId, hb);
        const cmds = store.commandsToSend(terminalId, resendMs);
        const head = headSchema.safeParse(hb.chainHead);
        if (!head.success) return { cmds };
        const v = store.chainHead(terminalId, head.data);
        return { cmds, receipt: { heads: { chainHead: v.highest, ...(v.before ? { chainHeadBefore: v.before } : {}) } } };
      }
      case 'counters':
        store.counters(terminalId, anyObject.parse(body));
        return {};
      case 'alarm': {
        const { alarms } = alarmsBody.parse(body);
        const { ids, duplicates } = store.storeAlarms(terminalId, alarms);
        counts.duplicates += duplicates;
        return { receipt: { alarms: ids } };
      }
      case 'cmd-ack': {
        const ack = ackBody.parse(body);
        if (store.acknowledge(terminalId, ack.id, ack) === 'duplicate') counts.duplicates++;
        return { receipt: { cmdAcks: [ack.id] } };
      }
      case 'journal': {
        const extract = extractBody.parse(body);
        store.extract(terminalId, extract.commandId, extract);
        return { receipt: { extracts: [extract.commandId] } };
      }
      default:
        return {};
    }
  }

  // Messages are stored in batches, one commit each (a commit per message held both instances
  // to ~400 msg/s together), and each PUBACK goes back only after its batch is committed: a crash
  // before that leaves the whole batch with the broker (in this instance's session), which sends
  // it again; what it sends twice is recognised by id.
  //
  // mqtt.js reads the next packet only after the current one's PUBACK is written (customHandleAcks
  // and handleMessage both hold its pipeline), so holding a PUBACK there would store one message
  // at a time again. Instead handleMessage answers with an error, which mqtt.js takes as "no
  // PUBACK" and moves on, and the PUBACK is written here after the commit, on the connection the
  // message came in on (a later connection gets the message again from the session instead).
  type Pending = { packet: IPublishPacket; stream: MqttClient['stream'] };
  let pending: Pending[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  const HELD = new Error('PUBACK after the batch commits');

  const puback = (p: Pending): void => {
    if (dead || client.stream !== p.stream || p.stream.destroyed || p.packet.messageId === undefined) return;
    p.stream.write(generatePacket({ cmd: 'puback', messageId: p.packet.messageId, reasonCode: 0 }, { protocolVersion: 5 }));
  };

  function flush(): void {
    flushTimer = undefined;
    if (dead || pending.length === 0) return;
    const batch = pending;
    pending = [];
    const replies: { terminalId: string; reply: Reply }[] = [];
    try {
      store.batch(() => {
        for (const { packet } of batch) {
          const where = parseTopic(packet.topic);
          if (!where) continue;
          try {
            const reply = store.alone(() => handle(where.terminalId, where.leaf, JSON.parse(packet.payload.toString('utf8'))));
            counts.received[where.leaf] = (counts.received[where.leaf] ?? 0) + 1;
            replies.push({ terminalId: where.terminalId, reply });
          } catch (e) {
            // A malformed message is dropped (and acknowledged): sending it again would not mend it.
            // Its own writes are undone; the rest of the batch stands.
            if (/SQLITE_BUSY|database is locked/.test((e as Error).message)) throw e;
            log?.warn({ topic: packet.topic, err: (e as Error).message }, 'management consumer: message refused');
          }
        }
      });
    } catch (e) {
      // Not stored (the other instance held the file too long): nothing is acknowledged; try again.
      log?.warn({ clientId, messages: batch.length, err: (e as Error).message }, 'management consumer: batch not stored, retrying');
      pending = batch.concat(pending);
      flushTimer ??= setTimeout(flush, 50);
      return;
    }
    for (const p of batch) puback(p);
    for (const { terminalId, reply } of replies) {
      if (reply.receipt) publish(terminalId, 'receipt', reply.receipt);
      for (const c of reply.cmds ?? []) publish(terminalId, 'cmd', c);
    }
  }

  client.handleMessage = (packet: IPublishPacket, done) => {
    if (dead) return;
    if (packet.qos === 0) {
      // Nothing to acknowledge; stored with the next batch all the same.
      pending.push({ packet, stream: client.stream });
      done();
    } else {
      pending.push({ packet, stream: client.stream });
      done(HELD);
    }
    if (pending.length >= batchMax) {
      clearTimeout(flushTimer);
      flush();
    } else flushTimer ??= setTimeout(flush, batchWaitMs);
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
    waiting: () => pending.length,
    port: Number(new URL(opts.url).port),
    url: opts.url,
    // Update bundles are files served over HTTPS by the management server, not messages.
    updates: undefined,
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
        // What has arrived is stored and acknowledged before leaving, so the broker need not send it again.
        clearTimeout(flushTimer);
        flush();
        dead = true;
        await client.endAsync().catch(() => undefined);
        store.close();
      })();
      return closing;
    },
    async kill() {
      dead = true;
      clearTimeout(flushTimer);
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
