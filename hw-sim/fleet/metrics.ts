/**
 * What the fleet run measures while it goes: messages the kiosks publish (in, towards the central
 * side) and command deliveries they get (out), per second; kiosks connected; process memory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The q-quantile (0…1) by the nearest-rank method: a value that was actually observed. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** VmRSS in bytes (the resident set, as the soak and bench figures use) of a process, this one by default; null once it is gone. */
export function rssOf(pid: number | 'self' = 'self'): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The pid of the process whose command line holds `word` (the broker, found by its configuration file). */
export function pidWith(word: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(word)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

let gc: (() => void) | undefined;

/** A full collection, without asking for node --expose-gc on the command line. */
function collect(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/** RSS after full collections, so garbage is not counted as kiosks. */
export async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((r) => setTimeout(r, 100));
  }
  return rssOf() ?? process.memoryUsage().rss;
}

export interface RateSample {
  /** Seconds since the run's steady phase began. */
  t: number;
  inPerS: number;
  outPerS: number;
  connected: number;
}

export class Meter {
  in = 0;
  out = 0;
  readonly samples: RateSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastIn = 0;
  private lastOut = 0;
  private lastAt = 0;
  private startedAt = 0;

  start(connected: () => number): void {
    this.startedAt = this.lastAt = Date.now();
    this.lastIn = this.in;
    this.lastOut = this.out;
    this.timer = setInterval(() => {
      const now = Date.now();
      const s = (now - this.lastAt) / 1000;
      this.samples.push({ t: (now - this.startedAt) / 1000, inPerS: (this.in - this.lastIn) / s, outPerS: (this.out - this.lastOut) / s, connected: connected() });
      this.lastAt = now;
      this.lastIn = this.in;
      this.lastOut = this.out;
    }, 1000);
  }

  stop(): { inPerS: number; outPerS: number; seconds: number } {
    clearInterval(this.timer);
    const seconds = this.samples.length > 0 ? this.samples[this.samples.length - 1]!.t : 0;
    const inSum = this.samples.reduce((a, s) => a + s.inPerS, 0);
    const outSum = this.samples.reduce((a, s) => a + s.outPerS, 0);
    const n = Math.max(1, this.samples.length);
    return { inPerS: inSum / n, outPerS: outSum / n, seconds };
  }
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The clients Mosquitto says it dropped outgoing messages for (its log line for a full queue), with how often. */
export function droppedFor(brokerLog: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of brokerLog.matchAll(/Outgoing messages are being dropped for client (\S+?)\.?$/gm)) out[m[1]!] = (out[m[1]!] ?? 0) + 1;
  return out;
}
