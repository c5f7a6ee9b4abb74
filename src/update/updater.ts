/**
 * The remote command `update` (version, bundle URL, digest), run through the management link's
 * command mechanism, whatever carries it. Download and verification (TUF), unpacking beside the
 * running release, then, only between transactions: out of service with the reason `updating`, wait
 * until no transaction is open (a note in escrow, a payout, a card or wallet request all belong to
 * one), journal the switch, point `current` at the new release and stop, so the service manager
 * starts the new one on trial. Killed at any step, the kiosk comes back on the old release or on
 * the new one, never on half of either: each step is a rename.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { TlsMaterial } from '../tls/material.js';
import { fetchRelease, unpackRelease, UpdateRefused } from './bundle.js';
import { LinkFetcher } from './fetcher.js';
import { versionSchema, type ReleaseLayout } from './layout.js';

export const updateArgs = z
  .object({
    version: versionSchema,
    /** https URL of the bundle; its file name is its TUF target name. */
    url: z.string().url(),
    /** sha256 of the bundle, hex: must be the one the release key signed. */
    digest: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type UpdateArgs = z.infer<typeof updateArgs>;

export type UpdatePhase = 'downloading' | 'unpacking' | 'waiting' | 'switching' | 'switched' | 'failed';

/** What the heartbeat reports of an update under way. */
export interface UpdateProgress {
  version: string;
  phase: UpdatePhase;
  bytes: number;
  total: number | null;
  error?: string;
}

export interface UpdaterDeps {
  update: NonNullable<Config['update']>;
  /** The management server's name on its certificate, for the download's TLS. */
  serverName: string;
  /** Default base URL of the TUF metadata when the configuration gives none. */
  metadataUrl: string;
  dataDir: string;
  /** The A/B layout this process runs from, or null (a checkout: updates refused). */
  layout: ReleaseLayout | null;
  runningVersion: string;
  journal: Journal;
  tls: TlsMaterial;
  terminal: {
    status(): Record<string, unknown>;
    control(req: ControlRequest): Promise<ControlResponse>;
  };
  log: Logger;
  /** Stops the process gracefully after the switch (the service manager starts the new release). */
  restart: () => void;
}

const IDLE_POLL_MS = 200;

/** The command could not run now; it did nothing that needs undoing. */
export class UpdateNotNow extends Error {
  override readonly name = 'UpdateNotNow';
}

export class SoftwareUpdater {
  private current: UpdateProgress | null = null;

  constructor(private readonly d: UpdaterDeps) {}

  progress(): UpdateProgress | null {
    return this.current;
  }

  async run(raw: unknown, commandId: string | null, stopping: AbortSignal): Promise<Record<string, unknown>> {
    const args = updateArgs.safeParse(raw);
    if (!args.success) throw new UpdateRefused(`bad arguments: ${z.prettifyError(args.error)}`);
    const { version, url, digest } = args.data;
    const layout = this.d.layout;
    if (!layout) throw new UpdateRefused('this kiosk does not run from an A/B layout (<root>/releases/<version>); install it with systemd/install.sh');
    if (version === this.d.runningVersion) return { version, already: true };
    const trial = layout.state().trial;
    if (trial && trial.version === this.d.runningVersion) throw new UpdateNotNow(`release ${trial.version} is still on trial`);
    if (this.current && !['failed', 'switched'].includes(this.current.phase)) throw new UpdateNotNow(`an update to ${this.current.version} is under way`);

    this.current = { version, phase: 'downloading', bytes: 0, total: null };
    try {
      const dir = join(this.d.dataDir, 'update');
      const fetcher = new LinkFetcher({
        tls: this.d.tls,
        serverName: this.d.serverName,
        partDir: join(dir, 'parts'),
        bytesPerSec: this.d.update.bytesPerSec,
        timeoutMs: this.d.update.timeoutMs,
        retries: this.d.update.retries,
        onProgress: (bytes, total) => this.current && Object.assign(this.current, { bytes, total }),
        signal: stopping,
      });
      const { file, facts } = await fetchRelease({
        metadataUrl: this.d.update.metadataUrl ?? this.d.metadataUrl,
        bundleUrl: url,
        version,
        digest,
        trustedRoot: this.d.update.trustedRoot,
        metadataDir: join(dir, 'metadata'),
        downloadDir: join(dir, 'downloads'),
        journalSchema: this.d.journal.schemaVersion(),
        fetcher,
      });
      this.current.phase = 'unpacking';
      await unpackRelease(file, facts, layout);
      rmSync(file, { force: true });
      this.d.log.info({ version }, 'release unpacked beside the running one; waiting for the kiosk to be idle');

      this.current.phase = 'waiting';
      const waitedFor = await this.quiesce(stopping);
      this.current.phase = 'switching';
      this.switchTo(layout, version, commandId);
      this.current.phase = 'switched';
      // After this command's result is journalled (the await that called us resumes first).
      setImmediate(() => this.d.restart());
      return { from: this.d.runningVersion, to: version, waitedFor };
    } catch (e) {
      if (this.current) Object.assign(this.current, { phase: 'failed', error: (e as Error).message });
      if (this.current?.phase === 'failed' && !stopping.aborted) await this.backInService();
      throw e;
    }
  }

  /** Out of service with the reason `updating`, then waits until no transaction is open. */
  private async quiesce(stopping: AbortSignal): Promise<string | null> {
    const r = await this.d.terminal.control({ cmd: 'out-of-service', by: 'update', reason: 'updating' });
    if (!r.ok) throw new UpdateNotNow(`cannot take the kiosk out of service: ${r.error}`);
    let waitedFor: string | null = null;
    for (;;) {
      const txn = this.d.terminal.status().transaction as { id?: string } | null | undefined;
      if (!txn?.id) return waitedFor;
      if (waitedFor !== txn.id) this.d.log.info({ transaction: txn.id }, 'update waits for the transaction under way');
      waitedFor = txn.id;
      stopping.throwIfAborted();
      await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
    }
  }

  private switchTo(layout: ReleaseLayout, version: string, commandId: string | null): void {
    const from = this.d.runningVersion;
    this.d.journal.append(null, 'update.switched', { from, to: version, command: commandId });
    const now = Date.now();
    layout.update((s) => ({
      ...s,
      trial: {
        version,
        from,
        switchedAt: new Date(now).toISOString(),
        deadline: new Date(now + this.d.update.healthMs).toISOString(),
        starts: 0,
        maxStarts: this.d.update.maxStarts,
        command: commandId,
      },
    }));
    layout.point('previous', from);
    layout.point('current', version);
    this.d.log.warn({ from, to: version }, 'switched to the new release: restarting into it');
  }

  private async backInService(): Promise<void> {
    const st = this.d.terminal.status().terminal as { reason?: string | null } | undefined;
    if (!st?.reason?.startsWith('updating')) return;
    await this.d.terminal.control({ cmd: 'in-service', by: 'update' }).catch(() => undefined);
  }
}
