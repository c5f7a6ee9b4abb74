/**
 * The seam between the management link and its pipe. The link decides what goes out and when, and
 * what the journal records; a transport carries one exchange at a time and says what the central
 * side has taken. Each method resolves only once the other side has answered (the server's HTTP
 * answer, or the broker's PUBACK and, for what must not be lost, the central side's receipt) and
 * rejects with a ManagementError otherwise, so the link's rules (mark delivered only what was
 * confirmed, send again otherwise) are the same on both transports.
 */
import type { Config } from '../config/schema.js';
import type { HeadRef } from '../journal/index.js';
import type { AlarmMessage } from '../journal/index.js';
import type { CommandAck, RemoteCommand } from './commands.js';
import type { Counters, Heartbeat } from './reports.js';

export interface ManagementTarget {
  host: string;
  port: number;
  /** The name the server's (or broker's) certificate must carry. */
  serverName: string;
  timeoutMs: number;
}

/** The chain heads a server answers with (absent: a server that keeps none). */
export interface ServerHeads {
  chainHead?: HeadRef | undefined;
  chainHeadBefore?: HeadRef | undefined;
}

export interface HeartbeatReply extends ServerHeads {
  /** Commands that came with the answer (HTTPS); on MQTT they arrive on their own. */
  commands: RemoteCommand[];
}

export interface JournalExtractUpload {
  commandId: string;
  args: unknown;
  events: unknown[];
  truncated: boolean;
}

/** What a transport hands to the link outside any exchange (MQTT pushes these). */
export interface TransportEvents {
  commands(list: RemoteCommand[]): void;
  heads(heads: ServerHeads): void;
  /** A connection the transport keeps open was (re)established. */
  connected(): void;
}

export interface ManagementTransport {
  /** Where it talks to, for the logs. */
  readonly where: string;
  /** Starts whatever the transport keeps open (the MQTT session); HTTPS keeps nothing. */
  open(events: TransportEvents): void;
  /** Ends it cleanly (MQTT: the retained state says the kiosk stopped, then DISCONNECT). */
  close(): Promise<void>;
  /** Address, name or time-out changed by a configuration reload. */
  retarget(target: ManagementTarget): void;
  heartbeat(hb: Heartbeat & { chainHead?: HeadRef }): Promise<HeartbeatReply>;
  counters(c: Counters): Promise<void>;
  /** The ids of the alarm messages the central side now holds (all, some or none of the batch). */
  alarms(batch: readonly AlarmMessage[]): Promise<string[]>;
  commandAck(ack: CommandAck): Promise<void>;
  journalExtract(upload: JournalExtractUpload): Promise<void>;
}

/** Where the management server (or broker) is: its own host or the business server's, and the certificate name. */
export function managementTarget(config: Config & { management: NonNullable<Config['management']> }): ManagementTarget {
  const m = config.management;
  const host = m.host ?? config.server.host;
  return { host, port: m.port, serverName: m.serverName ?? host, timeoutMs: m.timeoutMs };
}
