/**
 * Looks for card data in a live process's memory, as a core dump would hold it: every readable
 * mapping of /proc/<pid>/maps is read through /proc/<pid>/mem and searched for each needle. The
 * process is stopped (SIGSTOP) while it is read, so that what is found is one consistent picture.
 * Needs the right to trace the process (root, or the same user with ptrace_scope 0).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export interface MemoryNeedle {
  /** What it is, for the report: 'visa pan ascii'. */
  label: string;
  bytes: Buffer;
}

export interface MemoryFinding {
  label: string;
  address: string;
  /** The mapping it was found in: its path, [heap], [anon] … */
  region: string;
}

export interface MemoryScan {
  findings: MemoryFinding[];
  /** Bytes read, and mappings that could not be read (device memory, guard pages). */
  bytesRead: number;
  unreadable: number;
}

interface Region {
  start: bigint;
  end: bigint;
  name: string;
}

const CHUNK = 8 * 1024 * 1024;

function readableRegions(pid: number): Region[] {
  const out: Region[] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (!m || m[3]![0] !== 'r') continue;
    const name = m[4] || '[anon]';
    // The kernel's own pages, the same in every process.
    if (name === '[vvar]' || name === '[vsyscall]') continue;
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), name });
  }
  return out;
}

/** Every place each needle occurs in the readable memory of `pid`. */
export function scanProcessMemory(pid: number, needles: readonly MemoryNeedle[]): MemoryScan {
  const overlap = Math.max(0, ...needles.map((n) => n.bytes.length - 1));
  const findings: MemoryFinding[] = [];
  let bytesRead = 0;
  let unreadable = 0;
  process.kill(pid, 'SIGSTOP');
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const buffer = Buffer.alloc(CHUNK + overlap);
  try {
    for (const region of readableRegions(pid)) {
      let kept = 0;
      for (let at = region.start; at < region.end; ) {
        const want = Number(region.end - at < BigInt(CHUNK) ? region.end - at : BigInt(CHUNK));
        let got: number;
        try {
          got = readSync(fd, buffer, kept, want, at);
        } catch {
          unreadable++;
          break;
        }
        if (got <= 0) break;
        bytesRead += got;
        const view = buffer.subarray(0, kept + got);
        const base = at - BigInt(kept);
        for (const n of needles) {
          for (let i = view.indexOf(n.bytes); i >= 0; i = view.indexOf(n.bytes, i + 1)) {
            // A match wholly inside the kept overlap was reported with the previous chunk.
            if (i + n.bytes.length <= kept) continue;
            findings.push({ label: n.label, address: `0x${(base + BigInt(i)).toString(16)}`, region: region.name });
          }
        }
        kept = Math.min(overlap, view.length);
        view.copy(buffer, 0, view.length - kept);
        at += BigInt(got);
      }
    }
  } finally {
    closeSync(fd);
    buffer.fill(0);
    process.kill(pid, 'SIGCONT');
  }
  return { findings, bytesRead, unreadable };
}

/** A text as a process would hold it: one byte a character (V8's one-byte strings, Buffers) and UTF-16LE (two-byte strings). */
export function memoryNeedles(label: string, text: string): MemoryNeedle[] {
  return [
    { label: `${label} ascii`, bytes: Buffer.from(text, 'latin1') },
    { label: `${label} utf16le`, bytes: Buffer.from(text, 'utf16le') },
  ];
}
