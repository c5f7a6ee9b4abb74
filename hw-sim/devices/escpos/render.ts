/**
 * Turns decoded ESC/POS events into the text a person would read off the paper.
 *
 * Conventions of the rendered text:
 * - Each printed line is laid out on `columns` cells; a wide (CJK / full-width) character takes two
 *   cells, and magnified text takes `width` times as many. Lines longer than the paper wrap.
 * - A line takes the alignment in effect when its first character arrives.
 * - Bold text is wrapped in `**…**`; magnified text in `[WxH:…]` (e.g. `[2x2:TOTAL]`). Markers take
 *   no cells, so a line with markers may run a few characters past the paper width.
 * - A QR code prints as its own line `[QR: <content>]`, a barcode as `[BARCODE: <data>]`.
 * - A cut prints as `----- cut -----`.
 * - Underline, fonts, images and other looks are not shown.
 */
import type { Align, EscposEvent } from './decoder.js';

export const CUT_LINE = '----- cut -----';

export interface RenderOptions {
  /** Characters of the normal font across the paper: 32 on 58 mm, 42 or 48 on 80 mm. */
  columns?: number;
}

interface Style {
  bold: boolean;
  width: number;
  height: number;
}

interface Cell {
  char: string;
  cells: number;
  style: Style;
}

/** Two columns for East Asian wide and full-width characters, one for the rest. */
export function charColumns(char: string): number {
  const c = char.codePointAt(0)!;
  const wide =
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0x303e) ||
    (c >= 0x3041 && c <= 0x33ff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xa000 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x20000 && c <= 0x3fffd);
  return wide ? 2 : 1;
}

/** Cells a string takes on paper at normal size. */
export function textColumns(text: string): number {
  let total = 0;
  for (const ch of text) total += charColumns(ch);
  return total;
}

const sameStyle = (a: Style, b: Style): boolean => a.bold === b.bold && a.width === b.width && a.height === b.height;

function decorate(text: string, style: Style): string {
  let out = style.bold ? `**${text}**` : text;
  if (style.width !== 1 || style.height !== 1) out = `[${style.width}x${style.height}:${out}]`;
  return out;
}

/**
 * The printer's layout state across jobs: modes set before one cut still hold after it, as on paper.
 * Feed it events with apply(); completed lines collect until takeLines().
 */
export class ReceiptLayout {
  readonly columns: number;
  private align: Align = 'left';
  private style: Style = { bold: false, width: 1, height: 1 };
  private line: Cell[] = [];
  private lineAlign: Align = 'left';
  private lines: string[] = [];

  constructor(options: RenderOptions = {}) {
    this.columns = options.columns ?? 48;
  }

  /** Whether printed lines are waiting for a cut. */
  get hasContent(): boolean {
    return this.lines.length > 0 || this.line.length > 0;
  }

  /** The lines printed so far; the unfinished line stays in the print buffer. */
  takeLines(): string[] {
    const lines = this.lines;
    this.lines = [];
    return lines;
  }

  /** Applies one event; returns true when it was a cut (the job ends there). */
  apply(event: EscposEvent): boolean {
    switch (event.kind) {
      case 'text':
        for (const char of event.text) this.put(char);
        return false;
      case 'line-feed':
        this.endLine();
        return false;
      case 'feed':
        // ESC d prints the buffer and feeds n lines; printing a non-empty line is the first of them.
        for (let k = this.line.length > 0 ? 1 : 0; k < event.lines; k++) this.lines.push('');
        if (this.line.length > 0) this.endLine();
        return false;
      case 'initialize':
        this.line = [];
        this.align = 'left';
        this.style = { bold: false, width: 1, height: 1 };
        return false;
      case 'align':
        this.align = event.align;
        return false;
      case 'bold':
        this.style = { ...this.style, bold: event.on };
        return false;
      case 'size':
        this.style = { ...this.style, width: event.width, height: event.height };
        return false;
      case 'qr-print':
        this.block(`[QR: ${event.content}]`);
        return false;
      case 'barcode':
        this.block(`[BARCODE: ${event.data}]`);
        return false;
      case 'cut':
        if (this.line.length > 0) this.endLine();
        this.lines.push(CUT_LINE);
        return true;
      default:
        return false;
    }
  }

  private put(char: string): void {
    const cells = charColumns(char) * this.style.width;
    if (this.line.length > 0 && this.used() + cells > this.columns) this.endLine();
    if (this.line.length === 0) this.lineAlign = this.align;
    this.line.push({ char, cells, style: this.style });
  }

  private used(): number {
    return this.line.reduce((sum, cell) => sum + cell.cells, 0);
  }

  private endLine(): void {
    let body = '';
    let run = '';
    let runStyle: Style | undefined;
    for (const cell of this.line) {
      if (runStyle && !sameStyle(runStyle, cell.style)) {
        body += decorate(run, runStyle);
        run = '';
      }
      runStyle = cell.style;
      run += cell.char;
    }
    if (runStyle) body += decorate(run, runStyle);
    this.lines.push(this.pad(body, this.used(), this.lineAlign));
    this.line = [];
  }

  /** Something printed on its own lines (a symbol), placed by the current alignment when it fits. */
  private block(text: string): void {
    if (this.line.length > 0) this.endLine();
    this.lines.push(this.pad(text, textColumns(text), this.align));
  }

  private pad(body: string, used: number, align: Align): string {
    const free = Math.max(0, this.columns - used);
    const left = align === 'center' ? Math.floor(free / 2) : align === 'right' ? free : 0;
    return (' '.repeat(left) + body).trimEnd();
  }
}

/** The text of one job: the lines its events print, up to and including the first cut. */
export function renderJob(events: readonly EscposEvent[], options: RenderOptions = {}): string[] {
  const layout = new ReceiptLayout(options);
  for (const event of events) {
    if (layout.apply(event)) break;
  }
  return layout.takeLines();
}
