import type { Readable, Writable } from 'node:stream';
import { SerialTransport } from '../../drivers/transport/serial.js';
import type { Config } from '../config/schema.js';
import { ControlClient } from '../control/client.js';
import { LineEditor } from './line-editor.js';
import { isValidPin, hashPin, PIN_RULE_TEXT } from './pin.js';
import { ConsoleSession, type Requester } from './session.js';

export interface ConsoleServeOptions {
  config: Config;
  /** Serial device of the console (115200 8N1); standard input and output when absent. */
  port?: string;
  /** The kiosk service's control socket. */
  socket: string;
  /** Longest wait for one answer from the service. */
  requestTimeoutMs?: number;
  /** Pause before opening the serial port again after it closed. */
  reopenDelayMs?: number;
}

export interface ConsoleHandle {
  stop(): Promise<void>;
  /** Resolves when the console ended by itself: `exit` or the end of standard input. */
  readonly ended: Promise<void>;
}

const IDLE_CHECK_MS = 1000;

/**
 * One connection per request, so a service restart between two commands goes unnoticed, and a
 * time limit, so a hung service is reported instead of freezing the console.
 */
export function socketRequester(path: string, timeoutMs = 15_000): Requester {
  return async (req) => {
    const client = await ControlClient.connect(path);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        client.request(req),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      client.close();
    }
  };
}

/** The engineers' console on a serial port (or stdin/stdout), talking to the service's socket. */
export async function serveConsole(opts: ConsoleServeOptions): Promise<ConsoleHandle> {
  let write: (bytes: Buffer) => void = () => undefined;
  const editor = new LineEditor((text) => write(Buffer.from(text, 'utf8')));
  let endConsole: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (endConsole = resolve));
  const session = new ConsoleSession({
    settings: opts.config.console,
    terminalId: opts.config.terminalId,
    timeZone: opts.config.timeZone,
    request: socketRequester(opts.socket, opts.requestTimeoutMs),
    output: { line: (text) => editor.writeLine(text), prompt: (text, masked) => editor.prompt(text, { masked }) },
    // On a serial line `exit` only logs out: the line stays for the next engineer.
    ...(opts.port === undefined ? { onExit: () => endConsole() } : {}),
  });
  editor.on('line', (line) => void session.handleLine(line));
  editor.on('interrupt', () => void session.interrupt());
  editor.on('eof', () => void session.endOfInput());
  const feed = (chunk: Buffer) => {
    session.touch();
    editor.feed(chunk);
  };
  const idleTimer = setInterval(() => void session.checkIdle(), IDLE_CHECK_MS);

  const stopLine = opts.port === undefined ? attachStdio(feed, (w) => (write = w), endConsole) : await attachSerial(opts, feed, (w) => (write = w), session);
  session.start();

  let stopped = false;
  return {
    ended,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(idleTimer);
      await session.lineLost();
      await stopLine();
      endConsole();
    },
  };
}

function attachStdio(feed: (chunk: Buffer) => void, setWrite: (w: (bytes: Buffer) => void) => void, ended: () => void): () => Promise<void> {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  // Raw mode hands every key to the editor (Ctrl-C included) instead of the tty's own line editing.
  if (raw) stdin.setRawMode(true);
  setWrite((bytes) => void process.stdout.write(bytes));
  const onData = (chunk: Buffer | string) => feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  stdin.on('data', onData);
  stdin.once('end', ended);
  stdin.resume();
  return async () => {
    stdin.off('data', onData);
    stdin.off('end', ended);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  };
}

async function attachSerial(
  opts: ConsoleServeOptions,
  feed: (chunk: Buffer) => void,
  setWrite: (w: (bytes: Buffer) => void) => void,
  session: ConsoleSession,
): Promise<() => Promise<void>> {
  const line = new SerialTransport({ path: opts.port as string, baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
  let stopped = false;
  let reopenTimer: NodeJS.Timeout | undefined;
  setWrite((bytes) => {
    if (line.isOpen) line.write(bytes).catch(() => undefined);
  });
  line.on('data', feed);
  // Errors are followed by a close, which is where the port is reopened.
  line.on('error', () => undefined);
  const reopen = () => {
    if (stopped) return;
    reopenTimer = setTimeout(() => {
      line.open().then(
        () => session.reprompt(),
        () => reopen(),
      );
    }, opts.reopenDelayMs ?? 1000);
  };
  line.on('close', () => {
    void session.lineLost();
    reopen();
  });
  await line.open();
  return async () => {
    stopped = true;
    clearTimeout(reopenTimer);
    await line.close();
  };
}

export interface HashPinStreams {
  input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Prompts and the masked echo. */
  prompts: Writable;
  /** The hash alone, so it can be redirected into a file. */
  output: Writable;
}

/**
 * `kiosk console hash-pin`: reads a PIN twice without echo and prints its hash for the
 * configuration. Rejects with a clear message when the PIN is not 6 to 12 digits or the two
 * differ. Nothing is echoed while the PIN is typed.
 */
export async function hashPinCommand(
  io: HashPinStreams = { input: process.stdin, prompts: process.stderr, output: process.stdout },
): Promise<string> {
  const raw = io.input.isTTY === true && typeof io.input.setRawMode === 'function';
  const editor = new LineEditor((text) => void io.prompts.write(text), { maxLength: 32 });
  const lines: string[] = [];
  let waiting: { resolve: (l: string) => void; reject: (e: Error) => void } | undefined;
  const deliver = (l: string) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w.resolve(l);
    } else lines.push(l);
  };
  const fail = (e: Error) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(e);
  };
  editor.on('line', deliver);
  editor.on('interrupt', () => fail(new Error('cancelled')));
  editor.on('eof', () => fail(new Error('cancelled')));
  const onData = (chunk: Buffer | string) => editor.feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const onEnd = () => fail(new Error('no PIN given (end of input)'));
  const ask = (prompt: string) =>
    new Promise<string>((resolve, reject) => {
      editor.prompt(prompt, { masked: true });
      const ready = lines.shift();
      if (ready !== undefined) resolve(ready);
      else waiting = { resolve, reject };
    });
  if (raw) io.input.setRawMode?.(true);
  io.input.on('data', onData);
  io.input.once('end', onEnd);
  try {
    const pin = await ask('PIN (6 to 12 digits, not shown): ');
    if (!isValidPin(pin)) throw new Error(PIN_RULE_TEXT);
    const again = await ask('the same PIN again: ');
    if (again !== pin) throw new Error('the two PINs differ');
    const hash = hashPin(pin);
    io.output.write(hash + '\n');
    return hash;
  } finally {
    io.input.off('data', onData);
    io.input.off('end', onEnd);
    if (raw) io.input.setRawMode?.(false);
    io.input.pause();
  }
}
