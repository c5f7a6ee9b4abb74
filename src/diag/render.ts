/**
 * What a technician sees: progress while the checks run (one line per device, redrawn in place on
 * a terminal, plain lines in a log or a pipe), then a report per device and a summary line.
 */
import type { Writable } from 'node:stream';
import type { DeviceReport, StepOutcome, StepProgress } from './checks.js';

export interface Progress {
  start(device: string, what: string): void;
  step(progress: StepProgress): void;
  done(report: DeviceReport): void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPIN_MS = 100;
const CLEAR_LINE = '\r\x1b[2K';

/** One line per device, rewritten in place with a spinner and the step counter until it is done. */
export class TtyProgress implements Progress {
  private frame = 0;
  private line = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: Writable) {}

  start(device: string, what: string): void {
    this.line = `${device} (${what})`;
    this.draw();
    this.timer = setInterval(() => {
      this.frame = (this.frame + 1) % SPINNER.length;
      this.draw();
    }, SPIN_MS);
    this.timer.unref();
  }

  step(p: StepProgress): void {
    this.line = `${p.device}  ${p.index}/${p.total} ${p.step}`;
    this.draw();
  }

  done(report: DeviceReport): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.out.write(`${CLEAR_LINE}${summaryLine(report)}\n`);
  }

  private draw(): void {
    this.out.write(`${CLEAR_LINE}${SPINNER[this.frame]} ${this.line}`);
  }
}

/** For logs and pipes: a line when a device starts and one when it is done; no control codes. */
export class PlainProgress implements Progress {
  constructor(private readonly out: Writable) {}

  start(device: string, what: string): void {
    this.out.write(`checking ${device} (${what})\n`);
  }

  step(): void {}

  done(report: DeviceReport): void {
    this.out.write(`${summaryLine(report)}\n`);
  }
}

const MARK: Record<StepOutcome, string> = { ok: '✓', failed: '✗', skipped: '-' };

function summaryLine(r: DeviceReport): string {
  const failed = r.steps.filter((s) => s.outcome === 'failed').map((s) => s.name);
  const verdict = r.ok ? 'passed' : `FAILED (${failed.join(', ')})`;
  return `${r.ok ? '✓' : '✗'} ${r.name}: ${verdict} in ${seconds(r.ms)}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function identityLine(r: DeviceReport): string {
  const id = r.identity;
  const parts = [id.model];
  if (id.category) parts.push(`category ${id.category}`);
  if (id.version) parts.push(`version ${id.version}`);
  if (id.serial) parts.push(`serial ${id.serial}`);
  return parts.join(', ');
}

/** The per-device report and the summary line, as text. */
export function formatReport(reports: readonly DeviceReport[]): string {
  const width = Math.max(...reports.flatMap((r) => r.steps.map((s) => s.name.length)), 4);
  const out: string[] = [];
  for (const r of reports) {
    out.push('');
    out.push(`${r.name}  ${r.kind} on ${r.port}`);
    out.push(`  ${identityLine(r)}`);
    for (const s of r.steps) {
      const time = s.outcome === 'skipped' ? '' : `  (${seconds(s.ms)})`;
      out.push(`  ${MARK[s.outcome]} ${s.name.padEnd(width)}  ${s.detail}${time}`);
    }
  }
  const failed = reports.filter((r) => !r.ok).map((r) => r.name);
  out.push('');
  out.push(
    failed.length === 0
      ? reports.length === 1
        ? 'the device passed'
        : `all ${reports.length} devices passed`
      : `${failed.length} of ${reports.length} ${reports.length === 1 ? 'device' : 'devices'} failed: ${failed.join(', ')}`,
  );
  return out.join('\n') + '\n';
}
