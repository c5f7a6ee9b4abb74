import { EventEmitter } from 'node:events';
import type { Duplex, Readable, Writable } from 'node:stream';

export interface LineEditorOptions {
  /** Longest line kept; further characters are dropped with one bell. */
  maxLength?: number;
  /** Lines remembered for the up arrow; masked lines never are. */
  historySize?: number;
}

export type LineEditorEvents = {
  /** A finished line: printable ASCII only. */
  line: [string];
  /** Ctrl-C: the line being typed was abandoned. */
  interrupt: [];
  /** Ctrl-D on an empty line: the engineer is done. */
  eof: [];
};

const BEL = '\x07';
const ERASE = '\b \b';
const MAX_ESCAPE = 16;
const MAX_TYPED_AHEAD = 8;

type Mode = 'text' | 'escape' | 'csi' | 'ss3';

/**
 * A line editor for dumb serial terminals. Bytes come in through `feed`, text goes out through
 * the `write` callback, so the same editor runs over a serial port, a pty or stdin/stdout. It only
 * ever echoes what it keeps, and keeps only printable ASCII, so nothing a line-noise burst or a
 * confused terminal sends can end up in a line or crash it.
 */
export class LineEditor extends EventEmitter<LineEditorEvents> {
  private buffer = '';
  private masked = false;
  private mode: Mode = 'text';
  private escapeBytes = '';
  private afterCR = false;
  private belled = false;
  /** Something other than a finished line is on the terminal's current row. */
  private rowDirty = false;
  /**
   * Between the end of a line and the next prompt, keystrokes are kept but not echoed; the prompt
   * shows them, so typing ahead of a slow command does not scramble its output.
   */
  private prompting = true;
  private readonly pending: string[] = [];
  private echoOut = '';
  private readonly history: string[] = [];
  private historyAt = 0;
  private readonly maxLength: number;
  private readonly historySize: number;

  constructor(
    private readonly write: (text: string) => void,
    options: LineEditorOptions = {},
  ) {
    super();
    this.maxLength = options.maxLength ?? 256;
    this.historySize = options.historySize ?? 50;
  }

  /**
   * Shows a prompt. A line typed ahead while a command ran is answered at once, as if typed now;
   * a part line typed ahead is shown after the prompt.
   */
  prompt(text: string, opts: { masked?: boolean } = {}): void {
    this.flush();
    this.masked = opts.masked ?? false;
    this.historyAt = this.history.length;
    const ahead = this.pending.shift();
    if (ahead !== undefined) {
      this.write(printable(text) + this.shown(ahead) + '\r\n');
      this.deliver(ahead);
      return;
    }
    this.prompting = true;
    this.write(printable(text) + this.shown(this.buffer));
    this.rowDirty = true;
  }

  /** One line of output, always starting on a fresh row, ended with CRLF. */
  writeLine(text: string): void {
    this.flush();
    const lines = text.split(/\r?\n/).map(printable);
    this.write((this.rowDirty ? '\r\n' : '') + lines.join('\r\n') + '\r\n');
    this.rowDirty = false;
  }

  feed(chunk: Uint8Array): void {
    for (const byte of chunk) {
      // Not `echoOut += byte(...)`: byte() may flush echoOut itself before returning.
      const echo = this.byte(byte);
      this.echoOut += echo;
    }
    this.flush();
  }

  /** Echo is gathered per chunk and written before anything a listener may print. */
  private flush(): void {
    if (this.echoOut === '') return;
    const text = this.echoOut;
    this.echoOut = '';
    this.write(text);
  }

  /** Handles one byte; returns what to echo. Lines are emitted as they end. */
  private byte(b: number): string {
    const wasCR = this.afterCR;
    this.afterCR = false;
    switch (this.mode) {
      case 'escape':
        if (b === 0x5b) return this.enter('csi');
        if (b === 0x4f) return this.enter('ss3');
        this.mode = 'text';
        return '';
      case 'ss3':
        this.mode = 'text';
        return this.arrow(b, '');
      case 'csi':
        if (b >= 0x40 && b <= 0x7e) {
          this.mode = 'text';
          return this.arrow(b, this.escapeBytes);
        }
        // Parameter and intermediate bytes continue the sequence; anything else, or a sequence
        // that never ends, gives up on it.
        if (b < 0x20 || b > 0x3f || this.escapeBytes.length >= MAX_ESCAPE) this.mode = 'text';
        else this.escapeBytes += String.fromCharCode(b);
        return '';
      case 'text':
        break;
    }
    if (b >= 0x20 && b <= 0x7e) return this.insert(String.fromCharCode(b));
    switch (b) {
      case 0x0d:
        this.afterCR = true;
        return this.endLine();
      case 0x0a:
        return wasCR ? '' : this.endLine();
      case 0x08:
      case 0x7f:
        if (this.buffer === '') return '';
        this.buffer = this.buffer.slice(0, -1);
        return this.masked ? '' : this.echo(ERASE);
      case 0x15:
        return this.replace('');
      case 0x04:
        // As on a shell: only an empty line ends; within a line Ctrl-D does nothing.
        if (this.buffer !== '' || !this.prompting) return '';
        this.echoOut += '\r\n';
        this.flush();
        this.rowDirty = false;
        this.prompting = false;
        this.masked = false;
        this.emit('eof');
        return '';
      case 0x03: {
        this.buffer = '';
        this.pending.length = 0;
        this.belled = false;
        this.echoOut += '^C\r\n';
        this.flush();
        this.rowDirty = false;
        this.prompting = false;
        this.emit('interrupt');
        return '';
      }
      case 0x1b:
        this.escapeBytes = '';
        this.mode = 'escape';
        return '';
      default:
        return '';
    }
  }

  private enter(mode: Mode): string {
    this.mode = mode;
    this.escapeBytes = '';
    return '';
  }

  private arrow(final: number, params: string): string {
    if (params !== '' || this.masked) return '';
    if (final === 0x41 && this.historyAt > 0) {
      this.historyAt--;
      return this.replace(this.history[this.historyAt] ?? '');
    }
    if (final === 0x42 && this.historyAt < this.history.length) {
      this.historyAt++;
      return this.replace(this.history[this.historyAt] ?? '');
    }
    return '';
  }

  private insert(ch: string): string {
    if (this.buffer.length >= this.maxLength) {
      if (this.belled) return '';
      this.belled = true;
      return BEL;
    }
    this.buffer += ch;
    return this.echo(this.shown(ch));
  }

  private replace(text: string): string {
    const erase = this.masked ? '' : ERASE.repeat(this.buffer.length);
    this.buffer = text.slice(0, this.maxLength);
    this.belled = false;
    return this.echo(erase + this.shown(this.buffer));
  }

  private endLine(): string {
    const line = this.buffer;
    this.buffer = '';
    this.belled = false;
    if (!this.prompting) {
      if (this.pending.length < MAX_TYPED_AHEAD) this.pending.push(line);
      return '';
    }
    this.echoOut += '\r\n';
    this.flush();
    this.deliver(line);
    return '';
  }

  private deliver(line: string): void {
    this.rowDirty = false;
    this.prompting = false;
    if (!this.masked && line.trim() !== '' && this.history.at(-1) !== line) {
      this.history.push(line);
      if (this.history.length > this.historySize) this.history.shift();
    }
    this.historyAt = this.history.length;
    // A masked line (a PIN) is read once; the next prompt decides the mode again.
    this.masked = false;
    this.emit('line', line);
  }

  private echo(text: string): string {
    return this.prompting ? text : '';
  }

  /** A masked line (a PIN) echoes nothing at all: not even its length. */
  private shown(text: string): string {
    return this.masked ? '' : text;
  }
}

/** Control characters in output would drive the engineer's terminal: show them as '?'. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

export type EditorStreams = Duplex | { input: Readable; output: Writable };

/** A line editor reading from and echoing to streams: a serial port, a pty, or stdin/stdout. */
export function attachLineEditor(io: EditorStreams, options: LineEditorOptions = {}): { editor: LineEditor; detach(): void } {
  const input: Readable = 'input' in io ? io.input : io;
  const output: Writable = 'output' in io ? io.output : io;
  const editor = new LineEditor((text) => {
    if (output.writable) output.write(Buffer.from(text, 'utf8'));
  }, options);
  const onData = (chunk: Buffer | string) => editor.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  input.on('data', onData);
  return { editor, detach: () => input.off('data', onData) };
}
