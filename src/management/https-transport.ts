/**
 * The management link over short HTTPS requests (`management.transport: "https"`): each exchange is
 * one POST, and the answer is the confirmation. Commands come in the answer to each heartbeat.
 */
import { z } from 'zod';
import type { AlarmMessage } from '../journal/index.js';
import type { TlsMaterial } from '../tls/material.js';
import { remoteCommandSchema, type CommandAck } from './commands.js';
import { ManagementClient } from './https-client.js';
import type { Counters } from './reports.js';
import type { HeartbeatReply, JournalExtractUpload, ManagementTarget, ManagementTransport } from './transport.js';

const headRef = z.object({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) });
/** A server before issue 15 sends no chain heads; one that keeps them sends the highest it knew before and after this heartbeat. */
const heartbeatAnswer = z.object({ commands: z.array(remoteCommandSchema).default([]), chainHead: headRef.optional(), chainHeadBefore: headRef.optional() });
const alarmsAnswer = z.object({ acked: z.array(z.string()) });
const okAnswer = z.object({}).passthrough();

export class HttpsTransport implements ManagementTransport {
  private readonly client: ManagementClient;

  constructor(target: ManagementTarget, tls: TlsMaterial) {
    this.client = new ManagementClient(target, tls);
  }

  get where(): string {
    return this.client.where;
  }

  open(): void {}

  async close(): Promise<void> {}

  retarget(target: ManagementTarget): void {
    this.client.retarget(target);
  }

  heartbeat(hb: object): Promise<HeartbeatReply> {
    return this.client.post('/v1/heartbeat', hb, heartbeatAnswer);
  }

  async counters(c: Counters): Promise<void> {
    await this.client.post('/v1/counters', c, okAnswer);
  }

  async alarms(batch: readonly AlarmMessage[]): Promise<string[]> {
    return (await this.client.post('/v1/alarms', { alarms: batch }, alarmsAnswer)).acked;
  }

  async commandAck(ack: CommandAck): Promise<void> {
    await this.client.post(`/v1/commands/${encodeURIComponent(ack.id)}/ack`, { ok: ack.ok, result: ack.result }, okAnswer);
  }

  async journalExtract(upload: JournalExtractUpload): Promise<void> {
    await this.client.post('/v1/journal-extracts', upload, okAnswer);
  }
}
