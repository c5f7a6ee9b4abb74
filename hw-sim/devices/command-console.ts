import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** What every emulator console is run with. */
export interface ConsoleOptions {
  /** Serial device path: one end of a socat pty pair or a USB-serial adapter. */
  port: string;
  /** Operator commands, one per line. */
  input: Readable;
  /** One line per event and per answer to the operator. */
  output: Writable;
}

/** The lines returned are printed; an error thrown becomes the one line `error: <command>: <message>`. */
export type Command<T> = (target: T, arg: string | undefined) => readonly string[] | void;

export function noArgument<T>(run: (target: T) => readonly string[] | void): Command<T> {
  return (target, arg) => {
    if (arg !== undefined) throw new Error('takes no argument');
    return run(target);
  };
}

/** A command taking one whole number, e.g. `refill 100`. */
export function wholeNumber<T>(usage: string, run: (target: T, n: number) => void): Command<T> {
  return (target, arg) => {
    if (arg === undefined || !/^\d+$/.test(arg)) throw new Error(`needs a whole number, e.g. ${usage}`);
    run(target, Number(arg));
  };
}

export interface Reporter {
  on(event: 'report', listener: (line: string) => void): unknown;
  off(event: 'report', listener: (line: string) => void): unknown;
}

/** Whatever holds the serial line open: the emulator itself, or the ccTalk bus it is attached to. */
export interface SerialLine {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface CommandConsoleOptions<T> extends Omit<ConsoleOptions, 'port'> {
  line: SerialLine;
  /** Listened to from before the line starts, so that what they say while starting is printed too. */
  reporters: readonly Reporter[];
  /** Printed once the line is open. */
  banner: string;
  /** What the commands act on; `status` prints its describe(). */
  target: T;
  /** The device's own commands; `status` and `help` are added to them. */
  commands: ReadonlyMap<string, Command<T>>;
  /** The answer to `help`. */
  help: readonly string[];
}

export interface CommandConsole {
  stop(): Promise<void>;
}

/**
 * Starts the line, then runs one operator command per line of `input`.
 * The end of `input` does not stop the device: only stop() does (the caller maps SIGTERM to it).
 */
export async function runCommandConsole<T extends { describe(): string }>(
  options: CommandConsoleOptions<T>,
): Promise<CommandConsole> {
  const { input, output, line, reporters, target, help } = options;
  const say = (text: string): void => {
    output.write(`${text}\n`);
  };
  for (const reporter of reporters) reporter.on('report', say);
  await line.start();
  say(options.banner);

  const commands = new Map<string, Command<T>>([
    ...options.commands,
    ['status', noArgument((t) => [t.describe()])],
    ['help', noArgument(() => help)],
  ]);
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  lines.on('line', (raw) => {
    const words = raw.trim().split(/\s+/).filter((w) => w.length > 0);
    if (words.length === 0) return;
    const [name, arg, extra] = words as [string, string | undefined, string | undefined];
    const command = commands.get(name.toLowerCase());
    if (!command) {
      say(`error: unknown command "${name}" (type help)`);
      return;
    }
    try {
      if (extra !== undefined) throw new Error('too many arguments');
      for (const answer of command(target, arg) ?? []) say(answer);
    } catch (err) {
      say(`error: ${name}: ${(err as Error).message}`);
    }
  });

  let stopped: Promise<void> | undefined;
  return {
    stop(): Promise<void> {
      stopped ??= (async () => {
        lines.close();
        await line.stop();
        for (const reporter of reporters) reporter.off('report', say);
      })();
      return stopped;
    },
  };
}
