import { PassThrough } from 'node:stream';
import t from 'tap';
import { attachLineEditor, LineEditor } from '../../src/console/line-editor.js';

/** An editor over two PassThrough streams, as on a serial port: keys in, echo out. */
function rig(maxLength?: number) {
  const input = new PassThrough();
  const output = new PassThrough();
  let echoed = '';
  output.on('data', (c: Buffer) => (echoed += c.toString('latin1')));
  const { editor, detach } = attachLineEditor({ input, output }, maxLength ? { maxLength } : {});
  const lines: string[] = [];
  let interrupts = 0;
  editor.on('line', (l) => lines.push(l));
  editor.on('interrupt', () => interrupts++);
  return {
    editor,
    lines,
    interrupts: () => interrupts,
    echoed: () => echoed,
    clearEcho: () => (echoed = ''),
    /** Types bytes and waits until the streams delivered them. */
    type: async (bytes: string | number[]) => {
      input.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes));
      await new Promise((r) => setImmediate(r));
    },
    detach,
  };
}

t.test('echo, and CR, LF or CRLF each end exactly one line', async (t) => {
  const r = rig();
  r.editor.prompt('> ');
  await r.type('status\r');
  t.equal(r.echoed(), '> status\r\n');
  r.editor.prompt('> ');
  await r.type('a\r\n');
  r.editor.prompt('> ');
  await r.type('b\n');
  r.editor.prompt('> ');
  await r.type('c\r');
  r.editor.prompt('> ');
  await r.type('\nd\r');
  t.same(r.lines, ['status', 'a', 'b', 'c', 'd'], 'the LF after a CR is not an empty line');
  r.editor.prompt('> ');
  await r.type('e\r');
  r.editor.prompt('> ');
  await r.type('\n');
  r.editor.prompt('> ');
  await r.type('\n');
  t.same(r.lines.slice(5), ['e', ''], 'a CRLF split over two reads is one line end; a later LF is an empty line');
});

t.test('backspace (BS and DEL) and Ctrl-U', async (t) => {
  const r = rig();
  r.editor.prompt('> ');
  await r.type('statx\x08us\x7f\x7fus\r');
  t.same(r.lines, ['status']);
  t.equal(r.echoed(), '> statx\b \bus\b \b\b \bus\r\n');
  r.editor.prompt('> ');
  r.clearEcho();
  await r.type('\x7f\x08');
  t.equal(r.echoed(), '', 'nothing to erase: nothing echoed');
  await r.type('garbage\x15log\r');
  t.same(r.lines, ['status', 'log']);
  t.equal(r.echoed(), 'garbage' + '\b \b'.repeat(7) + 'log\r\n');
});

t.test('Ctrl-C abandons the line', async (t) => {
  const r = rig();
  r.editor.prompt('> ');
  await r.type('refill h100 5\x03');
  t.equal(r.interrupts(), 1);
  t.same(r.lines, []);
  t.match(r.echoed(), /\^C\r\n$/);
  r.editor.prompt('> ');
  await r.type('help\r');
  t.same(r.lines, ['help'], 'the abandoned text is gone');
});

t.test('a very long line is capped with one bell', async (t) => {
  const r = rig(16);
  r.editor.prompt('> ');
  r.clearEcho();
  await r.type('x'.repeat(40) + '\r');
  t.same(r.lines, ['x'.repeat(16)]);
  t.equal(r.echoed(), 'x'.repeat(16) + '\x07\r\n', 'sixteen echoed, one bell for the rest');
  r.editor.prompt('> ');
  await r.type('y'.repeat(20) + '\r');
  t.equal(r.lines[1], 'y'.repeat(16), 'the next line may be long again');
  t.equal([...r.echoed()].filter((c) => c === '\x07').length, 2, 'one more bell for it');
});

t.test('masked mode echoes nothing, not even the length, and keeps the PIN out of the history', async (t) => {
  const r = rig();
  r.editor.prompt('PIN: ', { masked: true });
  await r.type('12345\x7f4\x15\x151234\r');
  t.same(r.lines, ['1234']);
  t.equal(r.echoed(), 'PIN: \r\n', 'no star, no erase: only the end of the line');
  t.notMatch(r.echoed(), /1234/);
  r.editor.prompt('> ');
  r.clearEcho();
  await r.type('ab\r');
  t.equal(r.echoed(), 'ab\r\n', 'the next prompt echoes again');
  r.editor.prompt('> ');
  await r.type('\x1b[A\x1b[A\x1b[A\r');
  t.same(r.lines, ['1234', 'ab', 'ab'], 'the up arrow never reaches the PIN');
});

t.test('up and down arrows walk the history; other escapes are ignored', async (t) => {
  const r = rig();
  for (const l of ['status', 'counters']) {
    r.editor.prompt('> ');
    await r.type(l + '\r');
  }
  r.editor.prompt('> ');
  await r.type('\x1b[A\x1b[A\r');
  t.equal(r.lines.at(-1), 'status');
  r.editor.prompt('> ');
  await r.type('\x1b[A\x1b[A\x1b[A\x1b[A\x1b[B\r');
  t.equal(r.lines.at(-1), 'counters', 'history is now status, counters, status: up three times stops at the oldest, down goes back one');
  r.editor.prompt('> ');
  await r.type('lo\x1b[C\x1b[1;5D\x1bOA\x1b[200~g\x1b[15~\r');
  t.equal(r.lines.at(-1), 'countersg', 'ESC O A is an up arrow too and replaces what was typed; the rest is ignored');
  r.editor.prompt('> ');
  await r.type('lo\x1b[C\x1b[1;5D\x1b[200~g\x1b[15~\x1bx\r');
  t.equal(r.lines.at(-1), 'log', 'right, ctrl-left, bracketed paste, F5 and ESC x leave the text alone');
});

t.test('text typed while a command runs waits for the next prompt', async (t) => {
  const r = rig();
  r.editor.prompt('> ');
  await r.type('status\rcoun');
  t.same(r.lines, ['status']);
  t.equal(r.echoed(), '> status\r\n', 'no echo before the prompt');
  r.editor.writeLine('terminal: in service');
  r.editor.prompt('> ');
  await r.type('ters\r');
  t.same(r.lines, ['status', 'counters']);
  t.equal(r.echoed(), '> status\r\nterminal: in service\r\n> counters\r\n');
  await r.type('log 5\r');
  t.same(r.lines, ['status', 'counters'], 'a whole line typed ahead waits too');
  r.editor.prompt('> ');
  t.same(r.lines, ['status', 'counters', 'log 5']);
  t.match(r.echoed(), /> log 5\r\n$/);
});

t.test('output lines get CRLF and lose their control characters', async (t) => {
  const r = rig();
  r.editor.writeLine('a\nb\x1b[2Jc\x07');
  t.equal(r.echoed(), 'a\r\nb?[2Jc?\r\n');
  r.clearEcho();
  r.editor.prompt('> ');
  await r.type('sta');
  r.editor.writeLine('logged out');
  t.equal(r.echoed(), '> sta\r\nlogged out\r\n', 'a message never lands in the middle of a typed line');
});

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('random binary noise never throws and never yields a control byte in a line', async (t) => {
  for (let seed = 1; seed <= 200; seed++) {
    const rand = prng(seed);
    const lines: string[] = [];
    let out = '';
    const editor = new LineEditor((s) => (out += s), { maxLength: 64 });
    editor.on('line', (l) => {
      lines.push(l);
      if (rand() < 0.5) editor.prompt('> ', { masked: rand() < 0.2 });
    });
    editor.on('interrupt', () => editor.prompt('> '));
    editor.prompt('> ');
    for (let chunk = 0; chunk < 20; chunk++) {
      const bytes = new Uint8Array(Math.floor(rand() * 64));
      for (let i = 0; i < bytes.length; i++) {
        // Weighted towards the bytes with a meaning: ESC, '[', CR, LF, BS, DEL, Ctrl-C, Ctrl-U.
        const special = [0x1b, 0x5b, 0x0d, 0x0a, 0x08, 0x7f, 0x03, 0x15, 0x41];
        bytes[i] = rand() < 0.3 ? special[Math.floor(rand() * special.length)]! : Math.floor(rand() * 256);
      }
      try {
        editor.feed(bytes);
      } catch (e) {
        t.fail(`seed ${seed}: feed threw ${(e as Error).message}`);
        return;
      }
    }
    for (const l of lines) {
      if (!/^[\x20-\x7e]*$/.test(l) || l.length > 64) {
        t.fail(`seed ${seed}: line ${JSON.stringify(l)}`);
        return;
      }
    }
    if (/[^\x07\x08\x0a\x0d\x20-\x7e]/.test(out)) {
      t.fail(`seed ${seed}: the echo carried a raw control byte: ${JSON.stringify(out)}`);
      return;
    }
  }
  t.pass('200 seeded runs of noise');
});

t.test('Ctrl-D on an empty line is the end of input; within a line it does nothing', async (t) => {
  const r = rig();
  let eofs = 0;
  r.editor.on('eof', () => eofs++);
  r.editor.prompt('> ');
  await r.type('ab\x04');
  t.equal(eofs, 0);
  await r.type('\x15\x04');
  t.equal(eofs, 1);
  t.same(r.lines, []);
});
