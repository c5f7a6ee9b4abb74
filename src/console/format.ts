/** Plain-text formatting for the serial console: money, durations and fixed-width tables. */

import { formatTime } from '../../drivers/time.js';

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

/**
 * A stored time (ISO text or epoch milliseconds, UTC as the journal keeps it) as a person reads it
 * in the kiosk's zone: '2026-01-05 18:20:30 UTC+08:00'; text that is no time is shown as it is.
 */
export function localTime(at: unknown, timeZone: string): string {
  if (typeof at !== 'string' && typeof at !== 'number') return '-';
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return typeof at === 'string' ? at : '-';
  return formatTime(date, timeZone);
}

/** The same without the offset, 'YYYY-MM-DD hh:mm:ss', for columns under a heading that names the zone. */
export function localClock(at: unknown, timeZone: string): string {
  const text = localTime(at, timeZone);
  return /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.test(text) ? text.slice(0, 19) : text;
}

/** 'Asia/Shanghai, UTC+08:00': the zone by name, and its offset at `at`. */
export function zoneLabel(timeZone: string, at: unknown = Date.now()): string {
  const when = localTime(at, timeZone);
  const offset = / (UTC\S*)$/.exec(when)?.[1] ?? formatTime(new Date(), timeZone).slice(20);
  return `${timeZone}, ${offset}`;
}

/** The smallest terminal the console is made for: 80 columns by 24 rows. */
export const WIDTH = 80;
/** Rows of output per screen: the 24th row is the prompt. */
export const PAGE_LINES = 23;

/**
 * A line cut at spaces into rows of at most `width` characters, so the terminal never wraps a word
 * in two. Continuation rows are indented by `indent` (by default the line's own indent plus two);
 * a word longer than a row is cut where it must be.
 */
export function wrapLine(text: string, width = WIDTH, indent?: number): string[] {
  if (text.length <= width) return [text];
  const lead = indent ?? Math.min(/^ */.exec(text)![0].length + 2, Math.floor(width / 2));
  const pad = ' '.repeat(lead);
  const rows: string[] = [];
  let rest = text;
  let first = true;
  while (rest.length > 0) {
    const room = first ? width : width - lead;
    if (rest.length <= room) {
      rows.push(first ? rest : pad + rest);
      break;
    }
    let cut = rest.lastIndexOf(' ', room);
    // No space in reach (or only the indent): cut the word at the edge.
    if (cut <= (first ? lead : 0)) cut = room;
    rows.push((first ? '' : pad) + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    first = false;
  }
  return rows;
}

/**
 * The shortest prefix (at least `min` characters) that tells each id apart from the others, as git
 * abbreviates commit ids. UUIDv7 ids begin with their time, so ids of the same minute share a
 * long prefix: the prefix grows as far as needed.
 */
export function shortIds(ids: readonly string[], min = 8): Map<string, string> {
  const out = new Map<string, string>();
  const unique = [...new Set(ids)].sort();
  for (let i = 0; i < unique.length; i++) {
    const id = unique[i] as string;
    const common = (other: string | undefined) => {
      if (other === undefined) return 0;
      let n = 0;
      while (n < id.length && id[n] === other[n]) n++;
      return n;
    };
    let len = Math.max(min, common(unique[i - 1]) + 1, common(unique[i + 1]) + 1);
    // A prefix that ends on the dash would look cut off: take the next character too.
    if (id[len - 1] === '-') len++;
    out.set(id, id.slice(0, Math.min(len, id.length)));
  }
  return out;
}
