/**
 * Properties of the engineers' serial console (src/console/): random lines, keystrokes and service
 * answers into the session, and random bytes through the line editor into it, as serveConsole wires
 * them. The service behind it journals every audit in a real journal (in /dev/shm where there is
 * one) and answers everything else from a generated list (well-formed answers of any content,
 * refusals, an unreachable service).
 *
 * Checked: nothing but an audit reaches the service without a login; every request is one the
 * control socket accepts; garbage is answered with one clear error line; no command breaks on an
 * answer (an error other than a usage error); a PIN typed at the PIN prompt is never shown nor
 * journalled; lines stay printable and bounded; the journal's hash chain holds.
 */
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { COMMANDS, UsageError } from '../../src/console/commands.js';
import { LineEditor } from '../../src/console/line-editor.js';
import { ConsoleSession } from '../../src/console/session.js';
import { controlRequest, type ControlRequest, type ControlResponse } from '../../src/control/protocol.js';
import { Journal } from '../../src/journal/index.js';
import { testKey } from '../journal/keys.js';
import { check, runs } from './fuzz.js';

// A run here costs milliseconds (a real scrypt for each unknown name, a journal commit per audit),
// far more than a codec's: a long run gets more time than fuzz.ts gives.
if (runs > 500) t.setTimeout(runs * 100);

/**
 * PINs hashed with a tiny scrypt cost (the format allows it), so a login attempt costs microseconds;
 * an unknown name still pays for the real decoy hash, so the generators use known names mostly.
 */
const PINS: Record<string, string> = { alice: '246813', bob: '9753102' };
const WRONG_PINS = ['135792', '24681', '8642097'];
const PIN_LIKE = new Set([...Object.values(PINS), ...WRONG_PINS]);
function cheapHash(pin: string): string {
  const salt = Buffer.alloc(16, pin.length);
  const key = scryptSync(pin, salt, 32, { N: 16, r: 1, p: 1 });
  return ['scrypt', 16, 1, 1, salt.toString('base64'), key.toString('base64')].join('$');
}
const engineers = Object.entries(PINS).map(([name, pin]) => ({ name, pin: cheapHash(pin) }));
const settings = { engineers, maxFailures: 3, lockoutMs: 300_000, idleMs: 600_000 };
const NAMES = new Set(COMMANDS.map((c) => c.name));
const MAX_LINE = 256;

// A command that throws anything but a UsageError is a bug the session would only print.
const crashes: string[] = [];
for (const cmd of COMMANDS) {
  const run = cmd.run;
  if (!run) continue;
  (cmd as { run: typeof run }).run = async (ctx, args) => {
    try {
      return await run(ctx, args);
    } catch (e) {
      if (!(e instanceof UsageError)) crashes.push(`${cmd.name} ${JSON.stringify(args)}: ${(e as Error).stack ?? String(e)}`);
      throw e;
    }
  };
}

// In memory-backed /dev/shm where there is one: every audit is a durable commit, and the fsyncs of
// a disk would dominate the run without exercising anything the journal's own tests do not.
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'kiosk-console-fuzz-'));
const journal = Journal.open(join(dir, 'journal.db'), { key: testKey });
t.teardown(() => {
  const chain = journal.verifyChain();
  journal.close();
  rmSync(dir, { recursive: true, force: true });
  assert.ok(chain.ok, 'the journal hash chain holds');
});

// ------------------------------------------------------------------------------ generators

const printableArb = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const argArb = fc.oneof(
  fc.constantFrom('0', '1', '10', '500', '501', '1000', '-5', '99999999999', 'h100', 'printer', 'validator', 'verify', 'x', '019a', '../..', '%s', '${x}'),
  printableArb.map((s) => s.replace(/\s+/g, '')).filter((s) => s !== ''),
);
const commandLine = (names: readonly string[]) =>
  fc
    .tuple(fc.constantFrom(...names), fc.array(argArb, { maxLength: 3 }), fc.constantFrom(' ', '  ', '\t'))
    .map(([name, args, sep]) => [name, ...args].join(sep));
const commandLineArb = commandLine([...NAMES]);
const garbageArb = fc.oneof(
  fc.constantFrom('', '   ', 'y', 'n', 'yes', 'NO', '0', '12', '1000001', '1e3', ' 5 '),
  printableArb,
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ maxLength: 600 }),
);
// Known names mostly: at the name prompt anything else costs a real scrypt for the decoy.
const lineArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...Object.keys(PINS)) },
  { weight: 5, arbitrary: fc.constantFrom(...Object.values(PINS)) },
  { weight: 2, arbitrary: fc.constantFrom(...WRONG_PINS) },
  { weight: 5, arbitrary: commandLineArb },
  { weight: 2, arbitrary: garbageArb },
);

type Action = { kind: 'line'; line: string } | { kind: 'interrupt' } | { kind: 'idle' } | { kind: 'line-lost' } | { kind: 'wait'; ms: number };
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: lineArb.map((line) => ({ kind: 'line' as const, line })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'interrupt' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'idle' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'line-lost' as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 400_000 }).map((ms) => ({ kind: 'wait' as const, ms })) },
);

/** Answers of the right envelope ({ ok, … }) and any content, refusals, and an unreachable service. */
const oddArb = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(1e20, -1, 8.64e15 + 1, 2 ** 53, 0.5, '', 'x', '2026-13-45T99:99:99Z', null));
const itemArb = fc.record(
  Object.fromEntries(['value', 'count', 'name', 'coinValue', 'level', 'status', 'id', 'time', 'msg', 'seq', 'at', 'createdAt', 'amountDue', 'data'].map((k) => [k, oddArb])),
  { requiredKeys: [] },
);
const payloadArb = fc.record(
  Object.fromEntries(
    ['terminal', 'devices', 'validator', 'outbox', 'cashbox', 'coinbox', 'hoppers', 'transactions', 'transaction', 'events', 'problems', 'queue', 'config', 'lines', 'level', 'id', 'note', 'expected', 'counted', 'difference'].map((k) => [
      k,
      fc.oneof(oddArb, fc.array(itemArb, { maxLength: 4 }), itemArb),
    ]),
  ),
  { requiredKeys: [] },
);
type Answer = ControlResponse | 'unreachable';
const answerArb: fc.Arbitrary<Answer> = fc.oneof(
  { weight: 6, arbitrary: payloadArb.map((p) => ({ ...p, ok: true as const })) },
  { weight: 2, arbitrary: fc.string({ maxLength: 60 }).map((error) => ({ ok: false as const, error })) },
  { weight: 1, arbitrary: fc.constant('unreachable' as const) },
);

// ------------------------------------------------------------------------------ the rig

function rig(answers: readonly Answer[]) {
  let now = Date.parse('2026-03-01T10:00:00.000Z');
  const out: string[] = [];
  const prompts: { text: string; masked: boolean }[] = [];
  const problems: string[] = [];
  const audits: { who: string; action: string; ok: boolean }[] = [];
  const logins: string[] = [];
  let asked = 0;
  crashes.length = 0;
  let session: ConsoleSession | undefined;
  const request = async (req: ControlRequest): Promise<ControlResponse> => {
    if (!controlRequest.safeParse(req).success) problems.push(`the control socket would refuse ${JSON.stringify(req)}`);
    if (req.cmd === 'audit') {
      journal.append(null, 'console.audit', { who: req.who, action: req.action, ok: req.ok });
      audits.push({ who: req.who, action: req.action, ok: req.ok });
      if (req.action === 'login' && req.ok) logins.push(req.who);
      return { ok: true };
    }
    // The lock-out is the service's: asked before anyone is logged in. This service keeps none.
    if (req.cmd === 'console-lockout') return { ok: false, error: 'no lock-out here' };
    if (session?.user == null) problems.push(`'${req.cmd}' asked with nobody logged in`);
    const a = answers.length === 0 ? { ok: true as const } : answers[asked++ % answers.length]!;
    if (a === 'unreachable') throw new Error('cannot reach the kiosk at /run/kiosk/kiosk.sock: connect ENOENT');
    // As the control socket delivers it: one JSON line.
    return JSON.parse(JSON.stringify(a)) as ControlResponse;
  };
  session = new ConsoleSession({
    settings,
    request,
    output: { line: (l) => out.push(l), prompt: (text, masked) => prompts.push({ text, masked }) },
    terminalId: 'SIM-0001',
    now: () => now,
  });
  session.start();
  return { session, out, prompts, problems, audits, logins, advance: (ms: number) => (now += ms) };
}

/** What the session must never do, whatever it was fed. */
function commonChecks(r: ReturnType<typeof rig>, pinsTyped: ReadonlySet<string>, otherwiseTyped: ReadonlySet<string>): void {
  assert.deepEqual(r.problems, []);
  assert.deepEqual(crashes, []);
  for (const l of r.out) assert.doesNotMatch(l, /^error: .*(is not a function|is not iterable|Cannot read|Invalid time value|call stack)/, 'a command broke');
  for (const a of r.audits) {
    assert.ok(a.who === '-' || a.who in PINS, `audit by ${a.who}`);
    assert.ok(a.action.length <= 200);
  }
  // A PIN typed where it belongs is never echoed, printed nor journalled.
  for (const pin of pinsTyped) {
    if (!PIN_LIKE.has(pin) || [...otherwiseTyped].some((typed) => typed.includes(pin))) continue;
    const shown = [...r.out, ...r.prompts.map((p) => p.text), ...r.audits.map((a) => a.action)].find((l) => l.includes(pin));
    assert.equal(shown, undefined, `PIN ${pin} shown`);
  }
}

check(
  t,
  'session: random lines, Ctrl-C, idle time and a pulled cable; logins only by name and PIN, clear errors for garbage',
  fc.asyncProperty(fc.array(actionArb, { maxLength: 14 }), fc.array(answerArb, { maxLength: 6 }), async (actions, answers) => {
    const r = rig(answers);
    const pinsTyped = new Set<string>();
    const otherwiseTyped = new Set<string>();
    let previousLine: { line: string; atName: boolean } | null = null;
    for (const a of actions) {
      switch (a.kind) {
        case 'interrupt':
          await r.session.interrupt();
          previousLine = null;
          continue;
        case 'idle':
          r.advance(settings.idleMs);
          await r.session.checkIdle();
          previousLine = null;
          continue;
        case 'line-lost':
          // The cable goes and comes back: serveConsole prompts again on the reopened line.
          await r.session.lineLost();
          r.session.reprompt();
          previousLine = null;
          continue;
        case 'wait':
          r.advance(a.ms);
          continue;
        case 'line':
          break;
      }
      const prompt = r.prompts.at(-1)!;
      const atName = prompt.text.endsWith('login: ');
      const atReady = prompt.text.endsWith('> ');
      const loginsBefore = r.logins.length;
      const from = r.out.length;
      (prompt.masked ? pinsTyped : otherwiseTyped).add(a.line.trim());
      await r.session.handleLine(a.line);
      const said = r.out.slice(from);
      // A login needs a known name at the name prompt and that engineer's PIN right after it.
      if (r.logins.length > loginsBefore) {
        assert.ok(prompt.masked && previousLine?.atName, 'logged in without a name and PIN');
        assert.equal(PINS[previousLine!.line.trim().slice(0, 64)], a.line.trim());
      }
      const word = a.line.trim().split(/\s+/)[0] ?? '';
      if (atReady && word !== '' && !NAMES.has(word)) assert.deepEqual(said, [`error: unknown command '${word.slice(0, 40)}' (type help)`]);
      previousLine = { line: a.line, atName };
    }
    commonChecks(r, pinsTyped, otherwiseTyped);
  }),
  0.25,
);

check(
  t,
  'logged in: any command with any arguments against any answer gives lines, never a broken command',
  fc.asyncProperty(fc.array(fc.oneof({ weight: 4, arbitrary: commandLine([...NAMES].filter((n) => n !== 'logout' && n !== 'exit')) }, { weight: 1, arbitrary: garbageArb }), { minLength: 1, maxLength: 10 }), fc.array(answerArb, { minLength: 1, maxLength: 8 }), async (lines, answers) => {
    const r = rig(answers);
    await r.session.handleLine('alice');
    await r.session.handleLine(PINS.alice!);
    assert.equal(r.session.user, 'alice');
    for (const line of lines) {
      const from = r.out.length;
      const atReady = r.prompts.at(-1)!.text.endsWith('> ');
      await r.session.handleLine(line);
      // Every command says something: its result, an error or what to type next.
      const word = line.trim().split(/\s+/)[0] ?? '';
      if (atReady && NAMES.has(word)) assert.ok(r.out.length > from, `'${line}' printed nothing`);
    }
    commonChecks(r, new Set([PINS.alice!]), new Set(lines.map((l) => l.trim())));
  }),
  0.3,
);

// ------------------------------------------------------------------------------ bytes through the line editor

/** Keystrokes: lines of the vocabulary with control bytes, escape sequences and line noise in them. */
const keystrokesArb = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: lineArb.map((l) => Buffer.from(l, 'utf8')) },
      { weight: 4, arbitrary: fc.constantFrom('\r', '\n', '\r\n', '\n\r').map((s) => Buffer.from(s)) },
      { weight: 1, arbitrary: fc.constantFrom('\x08', '\x7f', '\x15', '\x1b[A', '\x1b[B', '\x1bOA', '\x1b[1;5C', '\x1b[999999999999', '\x1b', '\x00', '\x07', '\x03').map((s) => Buffer.from(s, 'latin1')) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
      { weight: 1, arbitrary: fc.integer({ min: MAX_LINE - 2, max: 3 * MAX_LINE }).map((n) => Buffer.alloc(n, 0x61)) },
    ),
    { maxLength: 24 },
  )
  .map((parts) => Buffer.concat(parts));

check(
  t,
  'line editor into the session: any bytes in any chunks give printable bounded lines and terminal-safe output',
  fc.asyncProperty(keystrokesArb, fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 20 }), fc.array(answerArb, { maxLength: 4 }), async (bytes, sizes, answers) => {
    const r = rig(answers);
    let written = '';
    const lines: string[] = [];
    const handled: Promise<void>[] = [];
    const editor = new LineEditor((text) => (written += text), { maxLength: MAX_LINE });
    // As serveConsole wires them: the session prints through the editor.
    r.out.push = (...ls: string[]) => {
      for (const l of ls) editor.writeLine(l);
      return Array.prototype.push.apply(r.out, ls);
    };
    r.prompts.push = (...ps: { text: string; masked: boolean }[]) => {
      for (const p of ps) editor.prompt(p.text, { masked: p.masked });
      return Array.prototype.push.apply(r.prompts, ps);
    };
    r.session.reprompt();
    editor.on('line', (line) => {
      lines.push(line);
      handled.push(r.session.handleLine(line));
    });
    editor.on('interrupt', () => void handled.push(r.session.interrupt()));
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const n = sizes.length === 0 ? bytes.length : sizes[i % sizes.length]!;
      r.session.touch();
      editor.feed(bytes.subarray(at, at + n));
      at += n;
      // Let some commands finish between chunks, as a slow typist would.
      if (i % 3 === 0) await Promise.all(handled);
    }
    await Promise.all(handled);
    for (const l of lines) {
      assert.ok(l.length <= MAX_LINE, `a line of ${l.length} characters`);
      assert.match(l, /^[\x20-\x7e]*$/);
    }
    // Of the control characters, only CR, LF, backspace and the bell may reach the engineer's terminal.
    assert.doesNotMatch(written, /[\x00-\x06\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]/);
    commonChecks(r, new Set(), new Set());
  }),
  0.2,
);
