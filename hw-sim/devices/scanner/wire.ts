/**
 * What a 2D scanner sends and hears, written from the scanners' manuals and the USB HID usage
 * tables, independently of drivers/scanner so that a mistake on one side cannot hide in the other:
 * keyboard mode types each character as a boot-keyboard report (key down, all keys up) and ends
 * with Enter; serial mode sends the characters and CR LF, and hears the serial trigger commands
 * SYN T CR (start reading) and SYN U CR (stop reading), which it may answer with ACK.
 */
import { randomInt } from 'node:crypto';

const SYN = 0x16;
const CR = 0x0d;
const LF = 0x0a;
export const ACK_BYTE = 0x06;

const SHIFT = 0x02;
const ENTER = 0x28;
const UP = Buffer.alloc(8);

/** Usage ID (page 0x07) and shift of one printable character, US layout; only what codes hold. */
function usage(char: number): [number, boolean] {
  if (char >= 0x31 && char <= 0x39) return [0x1e + char - 0x31, false];
  if (char === 0x30) return [0x27, false];
  if (char >= 0x61 && char <= 0x7a) return [0x04 + char - 0x61, false];
  if (char >= 0x41 && char <= 0x5a) return [0x04 + char - 0x41, true];
  const punctuation: Record<number, [number, boolean]> = {
    0x20: [0x2c, false],
    0x2d: [0x2d, false],
    0x2e: [0x37, false],
    0x2f: [0x38, false],
    0x3a: [0x33, true],
    0x3d: [0x2e, false],
    0x3f: [0x38, true],
    0x5f: [0x2d, true],
    0x26: [0x24, true],
  };
  const p = punctuation[char];
  if (!p) throw new RangeError(`the emulated scanner cannot type character 0x${char.toString(16)}`);
  return p;
}

function press(key: number, shift: boolean): Buffer[] {
  return [Buffer.from([shift ? SHIFT : 0, 0, key, 0, 0, 0, 0, 0]), Buffer.from(UP)];
}

/** The reports that type `text`, then Enter unless `enter` is false (a read cut short). */
export function typedReports(text: string, enter = true): Buffer[] {
  const reports: Buffer[] = [];
  for (const c of Buffer.from(text, 'latin1')) reports.push(...press(...usage(c)));
  if (enter) reports.push(...press(ENTER, false));
  return reports;
}

/** A misread in keyboard mode: digits with function keys (F1..F12, 0x3A..0x45) among them, then Enter. */
export function garbageReports(): Buffer[] {
  const reports: Buffer[] = [];
  for (let i = 0; i < 12; i++) reports.push(...press(i % 3 === 1 ? 0x3a + randomInt(12) : 0x1e + randomInt(10), false));
  reports.push(...press(ENTER, false));
  return reports;
}

/** A code as a serial scanner sends it: the characters and CR LF, or no terminator for a read cut short. */
export function serialCode(text: string, terminator = true): Buffer {
  return Buffer.concat([Buffer.from(text, 'latin1'), terminator ? Buffer.from([CR, LF]) : Buffer.alloc(0)]);
}

/** A misread in serial mode: digits with control and high bytes among them, then CR LF. */
export function serialGarbage(): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < 12; i++) bytes.push(i % 3 === 1 ? [0x01, 0x02, 0x1b, 0x7f, 0xe4, 0xff][randomInt(6)]! : 0x30 + randomInt(10));
  return Buffer.concat([Buffer.from(bytes), Buffer.from([CR, LF])]);
}

export type TriggerCommand = 'on' | 'off';

/** Finds SYN T CR and SYN U CR in what the host sends, over a sliding window of its last three bytes. */
export class CommandReader {
  private window: number[] = [];

  push(chunk: Uint8Array): TriggerCommand[] {
    const found: TriggerCommand[] = [];
    for (const b of chunk) {
      this.window.push(b);
      if (this.window.length > 3) this.window.shift();
      const [syn, letter, end] = this.window;
      if (syn !== SYN || end !== CR) continue;
      if (letter === 0x54) found.push('on');
      else if (letter === 0x55) found.push('off');
      else continue;
      this.window = [];
    }
    return found;
  }
}
