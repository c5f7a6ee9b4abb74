/**
 * Software updates as the runtime sees them: the `update` remote command, the running release's
 * health check (trial) and what the heartbeat reports. See docs/updates.md.
 */
import type { AlarmSink } from '../alarms/sink.js';
import type { Config } from '../config/schema.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import { CommandRefused, type CommandExecutor } from '../management/commands.js';
import { packageVersion } from '../management/reports.js';
import { loadTlsMaterial } from '../tls/material.js';
import { UpdateRefused } from './bundle.js';
import { ReleaseLayout, runningRelease } from './layout.js';
import { ReleaseTrial } from './trial.js';
import { SoftwareUpdater, UpdateNotNow, type UpdateProgress } from './updater.js';

export { ReleaseLayout, runningRelease } from './layout.js';
export { rollbackCheck } from './rollback.js';

export interface ReleaseUpdatesDeps {
  config: Config;
  journal: Journal;
  alarms: AlarmSink;
  log: Logger;
  terminal: { status(): Record<string, unknown>; control(req: ControlRequest): Promise<ControlResponse> };
  /** The management link's state: undefined without a link. */
  linkUp(): boolean | undefined;
  /** A graceful stop of this process. */
  restart(): void;
}

export interface ReleaseUpdates {
  executors: Record<string, CommandExecutor>;
  start(): void;
  stop(): void;
  /** For the status and the heartbeat. */
  progress(): { running: string; trial: string; download: UpdateProgress | null };
}

export function releaseUpdates(d: ReleaseUpdatesDeps): ReleaseUpdates {
  const here = runningRelease();
  const layout = here ? new ReleaseLayout(here.root) : null;
  const version = here?.version ?? packageVersion();
  const log = d.log.child({ part: 'update' });
  const trial = layout
    ? new ReleaseTrial(layout, version, d.journal, d.alarms, log, { terminalState: () => topState(d.terminal.status()), linkUp: d.linkUp }, () => d.restart())
    : null;
  const update = d.config.update;
  const management = d.config.management;
  const updater =
    update && management
      ? new SoftwareUpdater({
          update,
          serverName: management.serverName ?? management.host ?? d.config.server.host,
          metadataUrl: `https://${management.host ?? d.config.server.host}:${management.port}/v1/updates/metadata/`,
          dataDir: d.config.dataDir,
          layout,
          runningVersion: version,
          journal: d.journal,
          tls: loadTlsMaterial(d.config.tls),
          terminal: d.terminal,
          log,
          restart: d.restart,
        })
      : null;
  const executors: Record<string, CommandExecutor> = {
    update: async (c, stopping) => {
      if (!updater) throw new CommandRefused('this kiosk has no `update` section in its configuration');
      try {
        return await updater.run(c.args, c.id, stopping);
      } catch (e) {
        if (e instanceof UpdateRefused || e instanceof UpdateNotNow) throw new CommandRefused(e.message);
        throw e;
      }
    },
  };
  return {
    executors,
    start: () => trial?.start(),
    stop: () => trial?.stop(),
    progress: () => ({ running: version, trial: trial?.status ?? 'none', download: updater?.progress() ?? null }),
  };
}

function topState(status: Record<string, unknown>): string {
  const t = status.terminal as { state?: string } | undefined;
  return (t?.state ?? '').split('.')[0] ?? '';
}
