import type { JournalEvent } from './journal/index.js';

/**
 * The crash tests' seam (KIOSK_CRASH_AFTER): `type` or `type#n`. The observer it builds SIGKILLs
 * the process right after the commit of the n-th event of that type (default the 1st) written by
 * this process, so the kill always finds that event on disk. Only a simulator entry point should
 * arm it; it lives apart from cli.ts so that it can move there whole.
 */
export function crashAfterObserver(spec: string, kill: () => void = () => process.kill(process.pid, 'SIGKILL')): (event: JournalEvent) => void {
  const m = /^([^#\s]+)(?:#([1-9]\d*))?$/.exec(spec);
  if (!m) throw new Error(`journal: crashAfter "${spec}" is not "type" or "type#n" (n >= 1)`);
  const type = m[1] as string;
  const nth = m[2] === undefined ? 1 : Number(m[2]);
  let seen = 0;
  return (event) => {
    if (event.type !== type) return;
    seen += 1;
    if (seen === nth) kill();
  };
}
