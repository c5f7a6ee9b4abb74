import { z } from 'zod';
import type { CommandRow, ManagementStore } from '../journal/index.js';
import type { Logger } from '../log.js';

/** A command as the management server hands it out in its answer to a heartbeat. */
export const remoteCommandSchema = z.object({
  id: z.string().min(1).max(128),
  type: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()).default({}),
  /** Who queued it on the management side. */
  by: z.string().min(1).max(128),
});
export type RemoteCommand = z.infer<typeof remoteCommandSchema>;

/**
 * Runs one command; a thrown CommandRefused (or any error) makes the result a failure. `stopping`
 * is aborted when the kiosk stops: a command still waiting then is left to run again after the
 * restart.
 */
export type CommandExecutor = (cmd: RemoteCommand, stopping: AbortSignal) => Promise<Record<string, unknown>>;

/** The command was understood but is not carried out, for the reason given. */
export class CommandRefused extends Error {
  override readonly name = 'CommandRefused';
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface CommandAck {
  id: string;
  ok: boolean;
  result: Record<string, unknown>;
}

/**
 * Runs each remote command once. Its id is recorded with the command before it runs, and its
 * result after, each with a journal event (who, what, result), so a command the server sends
 * again, because the acknowledgement was lost, is acknowledged again from the record instead of
 * being run twice. A command still marked running at start-up was cut short by a restart: it is
 * run again when the server sends it (every command here may safely be repeated).
 */
export class RemoteCommands {
  private readonly running = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly journal: { readonly management: ManagementStore },
    private readonly executors: Readonly<Record<string, CommandExecutor>>,
    private readonly log: Logger,
    /** A command finished: its acknowledgement can go out. */
    private readonly onFinished: () => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The commands in a heartbeat answer: new ones start, finished ones are acknowledged again. */
  receive(commands: readonly RemoteCommand[]): void {
    for (const c of commands) {
      if (this.running.has(c.id)) continue;
      const row = this.row(c.id);
      if (row && row.status !== 'running') {
        // The server asks again, so our acknowledgement never reached it.
        if (row.acked_at !== null) this.journal.management.reopenCommandAck(c.id);
        this.onFinished();
        continue;
      }
      const run = this.run(c, row !== undefined)
        .catch((e: Error) => this.log.error({ command: c.id, err: e.message }, `remote command ${c.type} could not be recorded`))
        .finally(() => this.running.delete(c.id));
      this.running.set(c.id, run);
    }
  }

  /** Finished commands whose acknowledgement the server has not taken yet. */
  unacknowledged(): CommandAck[] {
    const rows = this.journal.management.unacknowledgedCommands(50);
    return rows.map((r) => ({ id: r.id, ok: r.status === 'done', result: JSON.parse(r.result ?? '{}') as Record<string, unknown> }));
  }

  acknowledged(id: string): void {
    const at = this.now().toISOString();
    this.journal.management.commandAcknowledged(id, at);
  }

  /** Interrupts the commands still waiting and lets them end, for at most `ms`. */
  async stop(ms: number): Promise<void> {
    this.stopping.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.running.values()]), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  private row(id: string): CommandRow | undefined {
    return this.journal.management.command(id);
  }

  private async run(c: RemoteCommand, resumed: boolean): Promise<void> {
    const at = this.now().toISOString();
    this.journal.management.commandStarted(c, at, resumed);
    this.log.info({ command: c.id, type: c.type, by: c.by, resumed }, `remote command ${c.type} from ${c.by}`);

    let ok = false;
    let result: Record<string, unknown>;
    const executor = this.executors[c.type];
    try {
      if (!executor) throw new CommandRefused(`unknown command type '${c.type}' (known: ${Object.keys(this.executors).join(', ')})`);
      result = await executor(c, this.stopping.signal);
      ok = true;
    } catch (e) {
      result = { error: (e as Error).message, ...(e instanceof CommandRefused ? e.details : {}) };
    }
    if (this.stopping.signal.aborted) {
      this.log.warn({ command: c.id, type: c.type }, `remote command ${c.type} interrupted by the stop; it runs again when the server resends it`);
      return;
    }
    const finishedAt = this.now().toISOString();
    this.journal.management.commandFinished(c, ok, result, finishedAt);
    const line = `remote command ${c.type} ${ok ? 'done' : `refused: ${String(result.error)}`}`;
    if (ok) this.log.info({ command: c.id, type: c.type }, line);
    else this.log.warn({ command: c.id, type: c.type }, line);
    this.onFinished();
  }
}
