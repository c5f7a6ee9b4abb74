/** Plain-text formatting for the serial console: money, durations and fixed-width tables. */

export { yuan } from '../domain/money.js';

/** A face value as engineers say it: 50 yuan, 5 jiao. */
export function faceValue(fen: number): string {
  if (fen % 100 === 0) return `${fen / 100} yuan`;
  if (fen % 10 === 0) return `${fen / 10} jiao`;
  return `${fen} fen`;
}

/** 4 min 12 s, 1 h 3 min, 9 s. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export type Align = 'left' | 'right';

/** Columns padded to their widest cell; numbers are right-aligned when told. */
export function table(headers: string[], rows: string[][], align: Align[] = []): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(headers), render(widths.map((w) => '-'.repeat(w))), ...rows.map(render)];
}

/** Nested values as `a.b.c = value` lines, for configurations and device answers. */
export function flatten(value: unknown, prefix = ''): string[] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [`${prefix || '(root)'} = {}`];
    return entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  if (Array.isArray(value) && value.some((v) => v !== null && typeof v === 'object')) {
    if (value.length === 0) return [`${prefix} = []`];
    return value.flatMap((v, i) => flatten(v, `${prefix}[${i}]`));
  }
  return [`${prefix} = ${typeof value === 'string' ? value : JSON.stringify(value)}`];
}

/** Shortens a cell so a row stays readable on an 80-column terminal. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 3))}...`;
}

/** 2026-01-05T10:20:30.123Z → 2026-01-05 10:20:30 (UTC, as the journal stores it). */
export function shortTime(iso: unknown): string {
  if (typeof iso !== 'string') return '-';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}
