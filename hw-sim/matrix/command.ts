import { cpus, hostname, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runCell } from './cell.js';
import { FAULTS, faultById } from './faults.js';
import { accounted, cellText, renderMarkdown, type MatrixReport } from './render.js';
import { STEPS, stepById } from './steps.js';

export interface MatrixOptions {
  faults?: string;
  steps?: string;
  out?: string;
  json?: boolean;
  keep?: boolean;
}

const list = (text: string | undefined): string[] | undefined => text?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

/**
 * `kiosk-sim matrix`: every fault × every step (or the ones named), one fresh kiosk per cell. Writes
 * the markdown page to --out (or prints it), the report as JSON with --json; exits 1 when a cell's
 * money is not accounted for or a cell could not be run.
 */
export async function matrixCommand(opts: MatrixOptions): Promise<number> {
  let faults;
  let steps;
  try {
    faults = (list(opts.faults) ?? FAULTS.map((f) => f.id)).map(faultById);
    steps = (list(opts.steps) ?? STEPS.map((s) => s.id)).map(stepById);
  } catch (e) {
    console.error(`kiosk-sim matrix: ${(e as Error).message}`);
    return 2;
  }
  const started = Date.now();
  const report: MatrixReport = {
    date: new Date(started).toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: machine(),
    durationMs: 0,
    faults: faults.map((f) => ({ id: f.id, label: f.label })),
    steps: steps.map((s) => ({ id: s.id, label: s.label })),
    cells: [],
  };
  const total = faults.length * steps.length;
  for (const fault of faults) {
    for (const step of steps) {
      const cell = await runCell(fault, step, { keep: opts.keep ?? false });
      report.cells.push(cell);
      const mark = accounted(cell) ? 'ok' : 'NOT ACCOUNTED';
      console.error(`[${report.cells.length}/${total}] ${fault.id} × ${step.id} (${(cell.durationMs / 1000).toFixed(1)} s) ${mark}: ${cellText(cell).replace(/<br>/g, '; ')}`);
    }
  }
  report.durationMs = Date.now() - started;
  const markdown = renderMarkdown(report);
  if (opts.out) {
    mkdirSync(dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, markdown);
  }
  if (opts.json) console.log(JSON.stringify(report));
  else if (!opts.out) process.stdout.write(markdown);
  return report.cells.every(accounted) ? 0 : 1;
}

function machine(): string {
  const cpu = cpus();
  return `${hostname()} (${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version})`;
}
