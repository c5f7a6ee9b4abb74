import type { RunKioskOptions } from '../src/run-kiosk.js';

/** Where the simulator kills the runtime: right after the commit of the nth event of a type. */
export interface CrashPoint {
  type: string;
  nth: number;
}

/** `type` or `type#n` (n >= 1; default 1), as scenarios, the campaign and KIOSK_CRASH_AFTER write it. */
export function parseCrashAfter(spec: string): CrashPoint {
  const m = /^([^#\s]+)(?:#([1-9]\d*))?$/.exec(spec);
  if (!m) throw new Error(`crash after "${spec}" is not "type" or "type#n" (n >= 1)`);
  return { type: m[1] as string, nth: m[2] === undefined ? 1 : Number(m[2]) };
}

/**
 * The journal commit observer that SIGKILLs this process after the crash point's event committed,
 * so that recovery always finds that event on disk and nothing written after it.
 */
export function crashAfter(spec: string, kill: () => void = () => process.kill(process.pid, 'SIGKILL')): NonNullable<RunKioskOptions['onJournalCommit']> {
  const point = parseCrashAfter(spec);
  let seen = 0;
  return (event) => {
    if (event.type !== point.type) return;
    seen += 1;
    if (seen === point.nth) kill();
  };
}
