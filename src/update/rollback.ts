/**
 * `kiosk update rollback-check`: what systemd runs before every start of the service (ExecStartPre,
 * with --start), when the service gave up after too many restarts (OnFailure, with --failed) and
 * from a timer (no flag: the health deadline). A release on trial that is started too often, failed
 * for good or missed its deadline is replaced by the release it came from: `current` is pointed
 * back and the rollback is written down for that release to journal and report. It never touches a
 * release that passed its health check.
 */
import { ReleaseLayout, type UpdateState } from './layout.js';

export type CheckAction = 'none' | 'counted' | 'cleared' | 'rolled-back';

export interface CheckOutcome {
  action: CheckAction;
  detail: string;
  current: string | null;
}

export interface CheckOptions {
  /** A start of the service is about to happen: count it. */
  start?: boolean;
  /** The service failed for good (the start limit was hit). */
  failed?: boolean;
  now?: Date;
}

export function rollbackCheck(layout: ReleaseLayout, opts: CheckOptions = {}): CheckOutcome {
  const now = opts.now ?? new Date();
  const state = layout.state();
  const trial = state.trial;
  const current = layout.linked('current');
  if (!trial) return { action: 'none', detail: 'no release on trial', current };
  if (current !== trial.version) {
    if (trial.rollingBack !== undefined && current === trial.from) return finish(layout, state, trial.rollingBack, now);
    // Killed between writing the trial and switching the link: the old release never left.
    layout.writeState({ ...state, trial: null });
    return { action: 'cleared', detail: `the switch to ${trial.version} never happened; ${current ?? 'nothing'} stays`, current };
  }
  const reason = trial.rollingBack
    ? trial.rollingBack
    : opts.failed
    ? `${trial.version} failed: the service stopped restarting it`
    : trial.starts >= trial.maxStarts && opts.start
      ? `${trial.version} was started ${trial.starts} times without passing its health check`
      : now.getTime() > Date.parse(trial.deadline)
        ? `${trial.version} did not pass its health check by ${trial.deadline}`
        : null;
  if (reason === null) {
    if (!opts.start) return { action: 'none', detail: `${trial.version} on trial until ${trial.deadline}`, current };
    const next: UpdateState = { ...state, trial: { ...trial, starts: trial.starts + 1 } };
    layout.writeState(next);
    return { action: 'counted', detail: `${trial.version} on trial: start ${trial.starts + 1} of ${trial.maxStarts}`, current };
  }
  // The reason is written first, then the link, then the record: a kill at any point leaves a
  // state from which the next check ends the same rollback.
  layout.writeState({ ...state, trial: { ...trial, rollingBack: reason } });
  layout.point('current', trial.from);
  return finish(layout, layout.state(), reason, now);
}

function finish(layout: ReleaseLayout, state: UpdateState, reason: string, now: Date): CheckOutcome {
  const trial = state.trial!;
  layout.writeState({ ...state, trial: null, rolledBack: { version: trial.version, backTo: trial.from, reason, at: now.toISOString(), command: trial.command } });
  return { action: 'rolled-back', detail: `back to ${trial.from}: ${reason}`, current: trial.from };
}
