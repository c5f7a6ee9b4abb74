import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { DriverLog } from '../drivers/types.js';

export type { Logger };

/** Keeps the last lines the service logged, for the engineers' console (`log`). */
export class LogRing extends Writable {
  private readonly buffer: string[] = [];

  constructor(private readonly capacity = 500) {
    super();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue;
      this.buffer.push(line);
      if (this.buffer.length > this.capacity) this.buffer.shift();
    }
    done();
  }

  /** The last `n` entries, oldest first, parsed where they are JSON. */
  tail(n: number): unknown[] {
    return this.buffer.slice(-n).map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        return line;
      }
    });
  }
}

/** JSON lines on stdout (journald keeps them; the embedded launcher pretty-prints them), and into `ring`. */
export function createLogger(level: string, ring?: LogRing, name = 'kiosk'): Logger {
  const options = { name, level, base: { name }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!ring) return pino(options);
  // The logger's own level filters; the streams take everything, so a level lowered at run time
  // (a configuration reload) reaches both.
  return pino(options, pino.multistream([{ stream: process.stdout, level: 'trace' }, { stream: ring, level: 'trace' }]));
}

export type { DriverLog };

export function driverLog(logger: Logger): DriverLog {
  return (level, msg, fields) => logger[level](fields ?? {}, msg);
}
