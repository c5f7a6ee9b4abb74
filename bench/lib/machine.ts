import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  os: string;
  memoryBytes: number;
  /** 1-minute load average when the run started: the box is shared, so figures move with it. */
  load: number;
  date: string;
}

export function machine(): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    node: process.version,
    os: `${process.platform} ${release()}`,
    memoryBytes: totalmem(),
    load: Number(loadavg()[0]!.toFixed(2)),
    date: new Date().toISOString(),
  };
}
