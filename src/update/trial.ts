/**
 * The running release's side of an update's health check. A release just switched to is on trial:
 * it is marked good (journalled, `update-state.json` cleared) once the terminal has passed its
 * self-test into service or the degraded state its devices allow and the management link is up,
 * all before the deadline. Missing the deadline makes it exit, so the service manager restarts it
 * and the rollback check, seeing the deadline passed, brings the previous release back. The
 * release that runs after a rollback journals it and raises an alarm the management link delivers.
 */
import type { AlarmSink } from '../alarms/sink.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { ReleaseLayout } from './layout.js';

/** What the check needs of the running kiosk. */
export interface TrialConditions {
  /** The terminal's top state: 'inService', 'degraded', 'outOfService', 'booting', … */
  terminalState(): string;
  /** The management link: undefined when this kiosk has none. */
  linkUp(): boolean | undefined;
}

const POLL_MS = 250;

export class ReleaseTrial {
  private timer: NodeJS.Timeout | undefined;
  private verdict: 'good' | 'failed' | 'none' | 'pending' = 'none';

  constructor(
    private readonly layout: ReleaseLayout,
    private readonly version: string,
    private readonly journal: Journal,
    private readonly alarms: AlarmSink,
    private readonly log: Logger,
    private readonly conditions: TrialConditions,
    /** Ends the process so the service manager restarts it (a graceful stop). */
    private readonly giveUp: (reason: string) => void,
  ) {}

  /** 'pending' while this release is on trial; for the status and the heartbeat. */
  get status(): string {
    return this.verdict;
  }

  start(): void {
    const state = this.layout.state();
    const back = state.rolledBack;
    if (back && back.backTo === this.version) {
      this.journal.append(null, 'update.rolled-back', { from: back.version, to: back.backTo, reason: back.reason, command: back.command });
      this.alarms.raise({ kind: 'update-rolled-back', source: `update:${back.version}`, severity: 'critical', detail: `release ${back.version} was rolled back to ${back.backTo}: ${back.reason}` });
      this.log.error({ from: back.version, to: back.backTo, reason: back.reason }, 'the update was rolled back');
      this.layout.writeState({ ...state, rolledBack: null });
    }
    const trial = this.layout.state().trial;
    if (!trial || trial.version !== this.version) return;
    this.verdict = 'pending';
    this.log.info({ version: this.version, from: trial.from, deadline: trial.deadline, start: trial.starts }, 'release on trial: waiting for service and the management link');
    const check = (): void => {
      const serving = ['inService', 'degraded'].includes(this.conditions.terminalState());
      const link = this.conditions.linkUp();
      if (serving && link !== false) return this.good(trial.from);
      if (Date.now() > Date.parse(trial.deadline)) {
        this.verdict = 'failed';
        const reason = `not ${serving ? '' : 'in service'}${!serving && link === false ? ' and ' : ''}${link === false ? 'linked to the management server' : ''} by the deadline`;
        this.log.error({ version: this.version, reason }, 'release failed its health check: stopping for the rollback');
        return this.giveUp(reason);
      }
      this.timer = setTimeout(check, POLL_MS);
    };
    check();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private good(from: string): void {
    this.journal.append(null, 'update.good', { version: this.version, from });
    this.layout.update((s) => ({ ...s, trial: null, good: this.version }));
    this.verdict = 'good';
    this.log.info({ version: this.version, from }, 'release passed its health check: marked good');
  }
}
