/**
 * An emulated 2D code scanner in either mode. Keyboard mode serves boot-keyboard reports on a unix
 * socket (each a 2-byte big-endian length and the report), which the kiosk reads as scanner device
 * `socket:PATH`, like the card reader emulator. Serial mode sits on a serial line (one end of a socat
 * pty pair) in serial-trigger mode: it reads only between SYN T CR and SYN U CR, stops after each
 * good read as such scanners do, and answers the commands with ACK, says nothing, or ignores them
 * and reads all the time (presentation mode), as the operator chooses.
 *
 * Its own lines never show a whole code: a payment code is a bearer token even in a simulator.
 */
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { SerialTransport } from '../../../drivers/transport/serial.js';
import type { Transport } from '../../../drivers/transport/types.js';
import { ACK_BYTE, CommandReader, garbageReports, serialCode, serialGarbage, typedReports, type TriggerCommand } from './wire.js';

export type ScannerMode = 'keyboard' | 'serial';
/** Serial mode: answer each command with ACK, obey without answering, or ignore commands and read always. */
export const COMMAND_HANDLING = ['answer', 'silent', 'ignore'] as const;
export type CommandHandling = (typeof COMMAND_HANDLING)[number];

export interface ScannerEmulatorOptions {
  mode: ScannerMode;
  /** Keyboard mode: the unix socket to serve the reports on. */
  socket?: string;
  /** Serial mode: the serial device (the emulator's end of a pty pair). */
  port?: string;
  commands?: CommandHandling;
  /** How long a code shown while the scanner is not reading is held under it before the customer gives up. Default 2000 ms. */
  holdMs?: number;
}

/** What the emulator's lines show of a code: the first 2 and the last 4 characters at most. */
function shownCode(code: string): string {
  if (code.length < 8) return '*'.repeat(code.length);
  return code.slice(0, 2) + '*'.repeat(code.length - 6) + code.slice(-4);
}

interface Held {
  label: string;
  bytes: Buffer;
  timer: NodeJS.Timeout;
}

export class ScannerEmulator extends EventEmitter<{ report: [string]; command: [TriggerCommand] }> {
  private server: Server | undefined;
  private client: Socket | undefined;
  private transport: Transport | undefined;
  private readonly commandReader = new CommandReader();
  private commandHandling: CommandHandling;
  /** Serial-trigger mode starts off; keyboard mode reads whenever powered. */
  private reading: boolean;
  private held: Held | undefined;
  private shown = 0;
  private sent = 0;
  private notRead = 0;
  private commandsHeard = 0;

  constructor(private readonly opts: ScannerEmulatorOptions) {
    super();
    if (opts.mode === 'keyboard' && !opts.socket) throw new Error('a keyboard-mode scanner needs a socket');
    if (opts.mode === 'serial' && !opts.port) throw new Error('a serial scanner needs a port');
    this.commandHandling = opts.commands ?? 'answer';
    this.reading = opts.mode === 'keyboard';
  }

  async start(): Promise<void> {
    if (this.opts.mode === 'serial') {
      const transport = new SerialTransport({ path: this.opts.port!, baudRate: 9600 });
      transport.on('data', (chunk) => this.onHost(chunk));
      transport.on('error', () => undefined);
      await transport.open();
      this.transport = transport;
      return;
    }
    const path = this.opts.socket!;
    rmSync(path, { force: true });
    const server = createServer((socket) => {
      this.client?.destroy();
      this.client = socket;
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (this.client === socket) this.client = undefined;
        this.emit('report', 'kiosk disconnected');
      });
      this.emit('report', 'kiosk connected');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot listen on ${path}: ${err.message}`)));
      server.listen(path, () => resolve());
    });
  }

  async stop(): Promise<void> {
    this.dropHeld();
    await this.transport?.close();
    this.transport = undefined;
    this.client?.destroy();
    this.client = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.opts.socket) rmSync(this.opts.socket, { force: true });
  }

  /** Serial mode: how the scanner treats the host's commands from now on. */
  setCommands(handling: CommandHandling): void {
    if (this.opts.mode !== 'serial') throw new Error('only a serial scanner takes commands');
    this.commandHandling = handling;
    this.emit('report', `commands: ${handling}`);
  }

  /** The customer holds `code` under the scanner; `partial`: the read is cut short (no terminator). */
  show(code: string, what: string, partial = false): void {
    const text = partial ? code.slice(0, Math.max(1, Math.floor(code.length / 2))) : code;
    const label = `${partial ? 'part of ' : ''}${shownCode(code)} (${what})`;
    this.shown++;
    this.present(label, this.opts.mode === 'keyboard' ? typedReports(text, !partial) : [serialCode(text, !partial)], true);
  }

  /** A misread: bytes no code holds, then the terminator. */
  garbage(): void {
    this.shown++;
    this.present('garbage', this.opts.mode === 'keyboard' ? garbageReports() : [serialGarbage()], false);
  }

  /** Keyboard mode: the scanner is pulled out (the kiosk's connection ends). */
  unplug(): void {
    if (this.opts.mode !== 'keyboard') throw new Error('unplug a serial scanner with the stack (its pty goes away)');
    this.client?.destroy();
    this.emit('report', 'scanner unplugged');
  }

  describe(): string {
    const where = this.opts.mode === 'keyboard' ? `keyboard mode on ${this.opts.socket}; kiosk ${this.client ? 'connected' : 'not connected'}` : `serial mode on ${this.opts.port}, commands ${this.commandHandling}, ${this.reading ? 'reading' : 'not reading'}`;
    return `${where}; shown ${this.shown}, sent ${this.sent}, not read ${this.notRead}, commands heard ${this.commandsHeard}`;
  }

  private present(label: string, chunks: Buffer[], goodRead: boolean): void {
    if (this.opts.mode === 'serial' && this.commandHandling !== 'ignore' && !this.reading) {
      // The customer holds the phone there a while; a trigger in that time reads it. A new code
      // shown meanwhile takes the place of the one held.
      if (this.held) {
        this.notRead++;
        this.emit('report', `${this.held.label} not read: the scanner was not reading`);
      }
      this.dropHeld();
      const timer = setTimeout(() => {
        this.held = undefined;
        this.notRead++;
        this.emit('report', `${label} not read: the scanner was not reading`);
      }, this.opts.holdMs ?? 2000);
      this.held = { label, bytes: Buffer.concat(chunks), timer };
      this.emit('report', `${label} held under the scanner, which is not reading`);
      return;
    }
    this.send(label, chunks, goodRead);
  }

  private send(label: string, chunks: Buffer[], goodRead: boolean): void {
    if (this.opts.mode === 'keyboard') {
      if (!this.client) {
        this.notRead++;
        this.emit('report', `${label} lost: no kiosk connected`);
        return;
      }
      this.client.write(Buffer.concat(chunks.flatMap((r) => [Buffer.from([r.length >> 8, r.length & 255]), r])));
    } else {
      void this.transport?.write(Buffer.concat(chunks)).catch(() => undefined);
      // Serial-trigger mode: a good read ends the reading until the next trigger.
      if (goodRead && this.commandHandling !== 'ignore') this.reading = false;
    }
    this.sent++;
    this.emit('report', `${label} sent`);
  }

  private dropHeld(): void {
    if (this.held) clearTimeout(this.held.timer);
    this.held = undefined;
  }

  private onHost(chunk: Buffer): void {
    for (const command of this.commandReader.push(chunk)) {
      this.commandsHeard++;
      this.emit('command', command);
      this.emit('report', `host: ${command === 'on' ? 'start' : 'stop'} reading (${this.commandHandling === 'answer' ? 'ACK' : this.commandHandling === 'silent' ? 'no answer' : 'ignored'})`);
      if (this.commandHandling === 'ignore') continue;
      this.reading = command === 'on';
      if (this.commandHandling === 'answer') void this.transport?.write(Buffer.from([ACK_BYTE])).catch(() => undefined);
      const held = this.held;
      if (this.reading && held) {
        this.dropHeld();
        this.send(held.label, [held.bytes], true);
      }
    }
  }
}
