import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size of a process, in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!kb) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(kb[1]) * 1024;
}

/** Open file descriptors of a process: files, sockets, ptys, pipes, timers alike. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Megabyte as in the targets: 10^6 bytes. */
export const MB = 1_000_000;
