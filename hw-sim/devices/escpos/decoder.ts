import iconv from 'iconv-lite';

export type Align = 'left' | 'center' | 'right';
export type QrErrorLevel = 'L' | 'M' | 'Q' | 'H';

/** What the printer understood, in wire order. Text is already decoded to Unicode. */
export type EscposEvent =
  | { kind: 'text'; text: string }
  | { kind: 'line-feed' }
  | { kind: 'initialize' }
  | { kind: 'align'; align: Align }
  | { kind: 'bold'; on: boolean }
  | { kind: 'underline'; dots: number }
  /** Character magnification, 1–8 each way. */
  | { kind: 'size'; width: number; height: number }
  | { kind: 'feed'; lines: number }
  /** ESC t: `encoding` is the iconv-lite name used for bytes ≥ 0x80, absent for a table we do not know. */
  | { kind: 'code-table'; table: number; encoding?: string }
  | { kind: 'chinese-mode'; on: boolean }
  | { kind: 'qr-model'; model: number }
  | { kind: 'qr-module-size'; size: number }
  | { kind: 'qr-error-correction'; level: QrErrorLevel }
  | { kind: 'qr-store'; content: string; bytes: number }
  | { kind: 'qr-print'; content: string; model: number; size: number; level: QrErrorLevel }
  | { kind: 'barcode'; symbology: number; data: string }
  /** `feed` is the GS V 65/66 n feed in motion units before the cut (0 for the plain forms). */
  | { kind: 'cut'; mode: 'full' | 'partial'; feed: number }
  /** DLE EOT n: the printer must answer at once, whatever else is going on. */
  | { kind: 'status-request'; n: number }
  /** DLE ENQ n: recover from an error (1: restart, 2: clear the buffers). */
  | { kind: 'recover'; n: number }
  /** GS a n: automatic status back mask. */
  | { kind: 'auto-status'; mask: number }
  /** A command we recognise and skip because it does not change the text of a receipt. */
  | { kind: 'command'; name: string }
  /** Bytes the decoder could not make sense of; they were skipped. */
  | { kind: 'notice'; message: string };

export interface EscposDecoderOptions {
  /** Chinese (GB18030) character mode at power-up and after ESC @. Chinese models have it on. */
  chineseByDefault?: boolean;
}

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const DLE = 0x10;

/** ESC t n → iconv-lite encoding; the usual Epson table numbers for Western and Cyrillic pages. */
const CODE_TABLES: ReadonlyMap<number, string> = new Map([
  [0, 'cp437'],
  [2, 'cp850'],
  [3, 'cp860'],
  [4, 'cp863'],
  [5, 'cp865'],
  [16, 'cp1252'],
  [17, 'cp866'],
  [18, 'cp852'],
  [19, 'cp858'],
]);

const QR_LEVELS: Readonly<Record<number, QrErrorLevel>> = { 48: 'L', 49: 'M', 50: 'Q', 51: 'H' };

/** ESC commands that take a fixed number of parameter bytes and only affect layout we do not render. */
const ESC_FIXED: ReadonlyMap<number, [string, number]> = new Map([
  [0x20, ['ESC SP (character spacing)', 1]],
  [0x24, ['ESC $ (absolute position)', 2]],
  [0x25, ['ESC % (user-defined characters)', 1]],
  [0x32, ['ESC 2 (default line spacing)', 0]],
  [0x33, ['ESC 3 (line spacing)', 1]],
  [0x3c, ['ESC < (return home)', 0]],
  [0x3d, ['ESC = (select peripheral)', 1]],
  [0x3f, ['ESC ? (cancel user-defined character)', 1]],
  [0x47, ['ESC G (double strike)', 1]],
  [0x4a, ['ESC J (feed dots)', 1]],
  [0x4c, ['ESC L (page mode)', 0]],
  [0x4d, ['ESC M (character font)', 1]],
  [0x52, ['ESC R (international character set)', 1]],
  [0x53, ['ESC S (standard mode)', 0]],
  [0x54, ['ESC T (page direction)', 1]],
  [0x55, ['ESC U (unidirectional printing)', 1]],
  [0x56, ['ESC V (90° rotation)', 1]],
  [0x57, ['ESC W (page mode area)', 8]],
  [0x5c, ['ESC \\ (relative position)', 2]],
  [0x65, ['ESC e (reverse feed)', 1]],
  [0x70, ['ESC p (drawer kick pulse)', 3]],
  [0x72, ['ESC r (print colour)', 1]],
  [0x75, ['ESC u (transmit peripheral status)', 1]],
  [0x76, ['ESC v (transmit paper sensor status)', 0]],
  [0x7b, ['ESC { (upside-down printing)', 1]],
]);

const GS_FIXED: ReadonlyMap<number, [string, number]> = new Map([
  [0x24, ['GS $ (absolute vertical position)', 2]],
  [0x2f, ['GS / (print downloaded image)', 1]],
  [0x3a, ['GS : (macro definition)', 0]],
  [0x42, ['GS B (reverse printing)', 1]],
  [0x48, ['GS H (barcode text position)', 1]],
  [0x49, ['GS I (transmit printer ID)', 1]],
  [0x4c, ['GS L (left margin)', 2]],
  [0x50, ['GS P (motion units)', 2]],
  [0x54, ['GS T (print position to line start)', 1]],
  [0x57, ['GS W (print area width)', 2]],
  [0x5c, ['GS \\ (relative vertical position)', 2]],
  [0x5e, ['GS ^ (run macro)', 3]],
  [0x62, ['GS b (smoothing)', 1]],
  [0x66, ['GS f (barcode text font)', 1]],
  [0x67, ['GS g (maintenance counter)', 4]],
  [0x68, ['GS h (barcode height)', 1]],
  [0x72, ['GS r (transmit status)', 1]],
  [0x77, ['GS w (barcode module width)', 1]],
]);

const FS_FIXED: ReadonlyMap<number, [string, number]> = new Map([
  [0x21, ['FS ! (Chinese print mode)', 1]],
  [0x2d, ['FS - (Chinese underline)', 1]],
  [0x3f, ['FS ? (cancel user-defined Chinese character)', 2]],
  [0x43, ['FS C (Chinese code system)', 1]],
  [0x53, ['FS S (Chinese character spacing)', 2]],
  [0x57, ['FS W (Chinese quadruple size)', 1]],
  [0x70, ['FS p (print NV bit image)', 2]],
]);

/** A parse step either needs more bytes or consumed `used` bytes of the pending command. */
type Step = 'more' | { used: number; events: EscposEvent[]; payload?: Payload };

/** A command's bulk data: streamed through without re-parsing, kept only when we need it. */
interface Payload {
  remaining: number;
  keep: boolean;
  done(data: Buffer): EscposEvent[];
}

const hex = (b: number): string => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
const le16 = (b: readonly number[], at: number): number => b[at]! + b[at + 1]! * 256;
const skipped = (name: string): EscposEvent[] => [{ kind: 'command', name }];
const notice = (message: string): EscposEvent => ({ kind: 'notice', message });

/** QR data bytes are not tagged with a charset: UTF-8 when they are valid UTF-8, else GB18030. */
function decodeQrContent(data: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return iconv.decode(data, 'gb18030');
  }
}

/**
 * A streaming ESC/POS decoder. Bytes may arrive in any split: a command cut across chunks decodes
 * exactly as in one chunk. Text is held back until something that is not text arrives (or flush()),
 * so a run of characters is one event however it was split.
 */
export class EscposDecoder {
  private readonly chineseByDefault: boolean;
  private chinese: boolean;
  private codeTable = 0;
  private codeTableMap: string[] | undefined;
  private qrModel = 50;
  private qrSize = 3;
  private qrLevel: QrErrorLevel = 'L';
  private qrContent: string | undefined;
  /** Bytes of a command (or of a multi-byte character) whose end has not arrived yet. */
  private pending: number[] = [];
  private payload: Payload | undefined;
  private payloadChunks: Buffer[] = [];
  private text = '';
  private out: EscposEvent[] = [];

  constructor(options: EscposDecoderOptions = {}) {
    this.chineseByDefault = options.chineseByDefault ?? true;
    this.chinese = this.chineseByDefault;
    this.selectCodeTable(0);
  }

  /** Whether a command is half received (a long QR or image payload, or a split header). */
  get midCommand(): boolean {
    return this.pending.length > 0 || this.payload !== undefined;
  }

  push(bytes: Uint8Array): EscposEvent[] {
    this.feed(bytes);
    const events = this.out;
    this.out = [];
    return events;
  }

  private feed(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.payload) {
        i += this.feedPayload(bytes, i);
        continue;
      }
      const b = bytes[i++]!;
      if (this.pending.length === 0 && b >= 0x20 && b <= 0x7e) {
        this.text += String.fromCharCode(b);
        continue;
      }
      this.pending.push(b);
      this.parsePending();
    }
  }

  /** Text held back for merging, as one final event: for the end of a stream. */
  flush(): EscposEvent[] {
    this.endText();
    const events = this.out;
    this.out = [];
    return events;
  }

  /** Power cycle: half-received commands are lost and every mode is back to its power-up value. */
  reset(): void {
    this.pending = [];
    this.payload = undefined;
    this.payloadChunks = [];
    this.text = '';
    this.out = [];
    this.initialize();
  }

  private initialize(): void {
    this.chinese = this.chineseByDefault;
    this.selectCodeTable(0);
    this.qrModel = 50;
    this.qrSize = 3;
    this.qrLevel = 'L';
    this.qrContent = undefined;
  }

  private emit(events: EscposEvent[]): void {
    for (const e of events) {
      if (e.kind === 'text') {
        this.text += e.text;
        continue;
      }
      this.endText();
      this.out.push(e);
    }
  }

  private endText(): void {
    if (this.text.length === 0) return;
    this.out.push({ kind: 'text', text: this.text });
    this.text = '';
  }

  private feedPayload(bytes: Uint8Array, at: number): number {
    const payload = this.payload!;
    const take = Math.min(payload.remaining, bytes.length - at);
    if (payload.keep) this.payloadChunks.push(Buffer.from(bytes.subarray(at, at + take)));
    payload.remaining -= take;
    if (payload.remaining === 0) {
      const data = Buffer.concat(this.payloadChunks);
      this.payload = undefined;
      this.payloadChunks = [];
      this.emit(payload.done(data));
    }
    return take;
  }

  private parsePending(): void {
    const step = this.step(this.pending);
    if (step === 'more') return;
    const rest = this.pending.slice(step.used);
    this.pending = [];
    this.emit(step.events);
    if (step.payload) {
      if (step.payload.remaining === 0) this.emit(step.payload.done(Buffer.alloc(0)));
      else this.payload = step.payload;
    }
    // Bytes after an invalid sequence are read again from scratch, as the printer would.
    if (rest.length > 0) this.feed(Uint8Array.from(rest));
  }

  private step(p: readonly number[]): Step {
    const b = p[0]!;
    switch (b) {
      case 0x0a:
        return { used: 1, events: [{ kind: 'line-feed' }] };
      case 0x0d:
        // CR only returns the carriage; receipts end lines with LF, often as CR LF or LF CR.
        return { used: 1, events: [] };
      case 0x09:
        return { used: 1, events: [{ kind: 'text', text: ' ' }] };
      case ESC:
        return this.escape(p);
      case GS:
        return this.group(p);
      case FS:
        return this.fileSeparator(p);
      case DLE:
        return this.dataLinkEscape(p);
    }
    if (b >= 0x80) return this.high(p);
    return { used: 1, events: [notice(`control byte ${hex(b)} skipped`)] };
  }

  private high(p: readonly number[]): Step {
    const lead = p[0]!;
    if (!this.chinese) {
      const text = this.codeTableMap?.[lead - 0x80];
      if (text !== undefined) return { used: 1, events: [{ kind: 'text', text }] };
      return { used: 1, events: [{ kind: 'text', text: '?' }, notice(`byte ${hex(lead)} has no glyph in code table ${this.codeTable}`)] };
    }
    if (lead === 0x80 || lead === 0xff) {
      return { used: 1, events: [{ kind: 'text', text: '?' }, notice(`byte ${hex(lead)} is not a GB18030 lead byte`)] };
    }
    if (p.length < 2) return 'more';
    const second = p[1]!;
    if ((second >= 0x40 && second <= 0x7e) || (second >= 0x80 && second <= 0xfe)) {
      return { used: 2, events: [{ kind: 'text', text: iconv.decode(Buffer.from(p.slice(0, 2)), 'gb18030') }] };
    }
    if (second >= 0x30 && second <= 0x39) {
      if (p.length < 4) {
        if (p.length === 3 && !(p[2]! >= 0x81 && p[2]! <= 0xfe)) return this.badGb(p);
        return 'more';
      }
      if (!(p[3]! >= 0x30 && p[3]! <= 0x39)) return this.badGb(p);
      return {
        used: 4,
        events: [
          { kind: 'text', text: iconv.decode(Buffer.from(p.slice(0, 4)), 'gb18030') },
          notice('4-byte GB18030 character: most printers cannot print it'),
        ],
      };
    }
    return this.badGb(p);
  }

  private badGb(p: readonly number[]): Step {
    return { used: 1, events: [{ kind: 'text', text: '?' }, notice(`invalid GB18030 sequence starting ${hex(p[0]!)}`)] };
  }

  private escape(p: readonly number[]): Step {
    if (p.length < 2) return 'more';
    const c = p[1]!;
    if (c === 0x40) {
      this.initialize();
      return { used: 2, events: [{ kind: 'initialize' }] };
    }
    if (c === 0x69 || c === 0x6d) {
      // The older one-byte cut commands: both are partial cuts.
      return { used: 2, events: [{ kind: 'cut', mode: 'partial', feed: 0 }] };
    }
    const known = ESC_FIXED.get(c);
    if (known) {
      const [name, args] = known;
      return p.length < 2 + args ? 'more' : { used: 2 + args, events: skipped(name) };
    }
    switch (c) {
      case 0x61: // a
      case 0x45: // E
      case 0x2d: // -
      case 0x64: // d
      case 0x74: // t
      case 0x21: // !
        break;
      case 0x44: // D: tab stops, a NUL-terminated list of at most 32
        return this.terminated(p, 2, 33, 'ESC D (tab positions)');
      case 0x2a: // *: bit image
        return this.escBitImage(p);
      case 0x26: // &: user-defined characters
        return this.userCharacters(p);
      case 0x63: // c 3/4/5 n: panel and sensor settings
        return p.length < 4 ? 'more' : { used: 4, events: skipped(`ESC c ${String.fromCharCode(p[2]!)} (panel/sensor setting)`) };
      default:
        return { used: 2, events: [notice(`unknown command ESC ${hex(c)} skipped`)] };
    }
    if (p.length < 3) return 'more';
    const n = p[2]!;
    // Several one-byte parameters accept both 0–2 and their ASCII digits '0'–'2'.
    const digit = n >= 48 ? n - 48 : n;
    switch (c) {
      case 0x61: {
        const align = (['left', 'center', 'right'] as const)[digit];
        if (align === undefined) return { used: 3, events: [notice(`ESC a with bad value ${n} ignored`)] };
        return { used: 3, events: [{ kind: 'align', align }] };
      }
      case 0x45:
        return { used: 3, events: [{ kind: 'bold', on: (n & 1) === 1 }] };
      case 0x2d:
        return { used: 3, events: [{ kind: 'underline', dots: digit <= 2 ? digit : 0 }] };
      case 0x64:
        return { used: 3, events: [{ kind: 'feed', lines: n }] };
      case 0x74:
        return { used: 3, events: [this.selectCodeTable(n)] };
      default: // ESC ! n: the one-byte print mode sets emphasis, size and underline together
        return {
          used: 3,
          events: [
            { kind: 'bold', on: (n & 0x08) !== 0 },
            { kind: 'size', width: n & 0x20 ? 2 : 1, height: n & 0x10 ? 2 : 1 },
            { kind: 'underline', dots: n & 0x80 ? 1 : 0 },
          ],
        };
    }
  }

  private selectCodeTable(n: number): EscposEvent {
    this.codeTable = n;
    const encoding = CODE_TABLES.get(n);
    this.codeTableMap = encoding
      ? Array.from({ length: 128 }, (_, i) => iconv.decode(Buffer.of(0x80 + i), encoding))
      : undefined;
    return encoding ? { kind: 'code-table', table: n, encoding } : { kind: 'code-table', table: n };
  }

  private terminated(p: readonly number[], from: number, max: number, name: string): Step {
    const end = p.indexOf(0, from);
    if (end >= 0) return { used: end + 1, events: skipped(name) };
    if (p.length - from >= max) return { used: p.length, events: [notice(`${name} never terminated; skipped`)] };
    return 'more';
  }

  private escBitImage(p: readonly number[]): Step {
    if (p.length < 5) return 'more';
    const perColumn = p[2]! <= 1 ? 1 : 3;
    return this.withPayload(5, le16(p, 3) * perColumn, 'ESC * (bit image)');
  }

  private userCharacters(p: readonly number[]): Step {
    // ESC & y c1 c2 then, per character, a width x followed by y × x bytes.
    if (p.length < 5) return 'more';
    const y = p[2]!;
    const count = p[4]! - p[3]! + 1;
    if (count <= 0) return { used: 5, events: skipped('ESC & (user-defined characters)') };
    let at = 5;
    for (let k = 0; k < count; k++) {
      if (p.length <= at) return 'more';
      at += 1 + y * p[at]!;
      if (p.length < at) return 'more';
    }
    return { used: at, events: skipped('ESC & (user-defined characters)') };
  }

  private withPayload(header: number, length: number, name: string): Step {
    return { used: header, events: [], payload: { remaining: length, keep: false, done: () => skipped(name) } };
  }

  private group(p: readonly number[]): Step {
    if (p.length < 2) return 'more';
    const c = p[1]!;
    const known = GS_FIXED.get(c);
    if (known) {
      const [name, args] = known;
      return p.length < 2 + args ? 'more' : { used: 2 + args, events: skipped(name) };
    }
    switch (c) {
      case 0x21: // !
        if (p.length < 3) return 'more';
        return { used: 3, events: [{ kind: 'size', width: ((p[2]! >> 4) & 7) + 1, height: (p[2]! & 7) + 1 }] };
      case 0x61: // a
        return p.length < 3 ? 'more' : { used: 3, events: [{ kind: 'auto-status', mask: p[2]! }] };
      case 0x56: // V
        return this.cut(p);
      case 0x28: // (
        return this.extended(p);
      case 0x6b: // k
        return this.barcode(p);
      case 0x76: // v 0: raster image
        if (p.length < 8) return 'more';
        return this.withPayload(8, le16(p, 4) * le16(p, 6), 'GS v 0 (raster image)');
      case 0x2a: // *: downloaded image
        if (p.length < 4) return 'more';
        return this.withPayload(4, p[2]! * p[3]! * 8, 'GS * (define downloaded image)');
      case 0x38: // 8 L / 8 D: graphics with a 32-bit length
        if (p.length < 7) return 'more';
        return this.withPayload(7, p[3]! + p[4]! * 0x100 + p[5]! * 0x10000 + p[6]! * 0x1000000, `GS 8 ${String.fromCharCode(p[2]!)} (graphics)`);
      default:
        return { used: 2, events: [notice(`unknown command GS ${hex(c)} skipped`)] };
    }
  }

  private cut(p: readonly number[]): Step {
    if (p.length < 3) return 'more';
    const m = p[2]!;
    if (m === 0 || m === 48) return { used: 3, events: [{ kind: 'cut', mode: 'full', feed: 0 }] };
    if (m === 1 || m === 49) return { used: 3, events: [{ kind: 'cut', mode: 'partial', feed: 0 }] };
    if (m === 65 || m === 66 || m === 97 || m === 98 || m === 103 || m === 104) {
      if (p.length < 4) return 'more';
      const mode = m === 65 || m === 97 || m === 103 ? 'full' : 'partial';
      return { used: 4, events: [{ kind: 'cut', mode, feed: p[3]! }] };
    }
    return { used: 3, events: [notice(`GS V with unknown mode ${m} skipped`)] };
  }

  /** GS ( X pL pH …: every member of the family announces its own length. */
  private extended(p: readonly number[]): Step {
    if (p.length < 5) return 'more';
    const fn = p[2]!;
    const length = le16(p, 3);
    if (fn !== 0x6b) return this.withPayload(5, length, `GS ( ${String.fromCharCode(fn)} (extended function)`);
    return {
      used: 5,
      events: [],
      payload: { remaining: length, keep: true, done: (data) => this.symbol(data) },
    };
  }

  private symbol(data: Buffer): EscposEvent[] {
    const [cn, fn] = [data[0], data[1]];
    if (cn !== 0x31 || fn === undefined) {
      return skipped(`GS ( k cn=${cn ?? '-'} fn=${fn ?? '-'} (2D symbol other than QR)`);
    }
    const arg = data[2];
    switch (fn) {
      case 65:
        if (arg === undefined) break;
        this.qrModel = arg;
        return [{ kind: 'qr-model', model: arg - 48 }];
      case 67:
        if (arg === undefined) break;
        this.qrSize = arg;
        return [{ kind: 'qr-module-size', size: arg }];
      case 69: {
        const level = arg === undefined ? undefined : QR_LEVELS[arg];
        if (!level) break;
        this.qrLevel = level;
        return [{ kind: 'qr-error-correction', level }];
      }
      case 80: {
        const stored = data.subarray(3);
        this.qrContent = decodeQrContent(stored);
        return [{ kind: 'qr-store', content: this.qrContent, bytes: stored.length }];
      }
      case 81:
        if (this.qrContent === undefined) return [notice('QR print with no data stored: nothing printed')];
        return [
          { kind: 'qr-print', content: this.qrContent, model: this.qrModel - 48, size: this.qrSize, level: this.qrLevel },
        ];
      case 82:
        return skipped('GS ( k QR transmit size information');
    }
    return [notice(`GS ( k QR function ${fn} with bad parameters skipped`)];
  }

  private barcode(p: readonly number[]): Step {
    if (p.length < 3) return 'more';
    const m = p[2]!;
    if (m <= 6) {
      const end = p.indexOf(0, 3);
      if (end < 0) {
        // Function A barcodes are NUL-terminated; 255 bytes is far beyond any of their symbologies.
        return p.length > 258 ? { used: p.length, events: [notice('GS k barcode never terminated; skipped')] } : 'more';
      }
      return { used: end + 1, events: [{ kind: 'barcode', symbology: m, data: Buffer.from(p.slice(3, end)).toString('latin1') }] };
    }
    if (m >= 65) {
      if (p.length < 4) return 'more';
      const n = p[3]!;
      return {
        used: 4,
        events: [],
        payload: {
          remaining: n,
          keep: true,
          done: (data) => [{ kind: 'barcode', symbology: m, data: data.toString('latin1') }],
        },
      };
    }
    return { used: 3, events: [notice(`GS k with unknown symbology ${m} skipped`)] };
  }

  private fileSeparator(p: readonly number[]): Step {
    if (p.length < 2) return 'more';
    const c = p[1]!;
    if (c === 0x26) {
      this.chinese = true;
      return { used: 2, events: [{ kind: 'chinese-mode', on: true }] };
    }
    if (c === 0x2e) {
      this.chinese = false;
      return { used: 2, events: [{ kind: 'chinese-mode', on: false }] };
    }
    const known = FS_FIXED.get(c);
    if (known) {
      const [name, args] = known;
      return p.length < 2 + args ? 'more' : { used: 2 + args, events: skipped(name) };
    }
    if (c === 0x28) {
      if (p.length < 5) return 'more';
      return this.withPayload(5, le16(p, 3), `FS ( ${String.fromCharCode(p[2]!)} (extended function)`);
    }
    if (c === 0x32) {
      // FS 2 c1 c2 and a 24×24 dot pattern: a user-defined Chinese character.
      return p.length < 4 ? 'more' : this.withPayload(4, 72, 'FS 2 (user-defined Chinese character)');
    }
    return { used: 2, events: [notice(`unknown command FS ${hex(c)} skipped`)] };
  }

  private dataLinkEscape(p: readonly number[]): Step {
    if (p.length < 2) return 'more';
    const c = p[1]!;
    if (c === 0x04 || c === 0x05) {
      if (p.length < 3) return 'more';
      const n = p[2]!;
      return { used: 3, events: [c === 0x04 ? { kind: 'status-request', n } : { kind: 'recover', n }] };
    }
    if (c === 0x14) {
      // DLE DC4 fn …: pulse and power-off take two more bytes, buffer clear takes seven.
      if (p.length < 3) return 'more';
      const fn = p[2]!;
      const length = fn === 8 ? 10 : fn === 1 || fn === 2 ? 5 : 3;
      if (p.length < length) return 'more';
      return { used: length, events: skipped(`DLE DC4 ${fn} (real-time request)`) };
    }
    return { used: 1, events: [notice('stray DLE skipped')] };
  }
}
