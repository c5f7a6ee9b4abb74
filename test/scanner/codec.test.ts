import { inspect } from 'node:util';
import t from 'tap';
import { ACK, LineSplitter, NAK, TRIGGER_OFF, TRIGGER_ON, checkCode, maskCode, type LineEvent } from '../../drivers/scanner/codec.js';
import { KeyboardDecoder } from '../../drivers/keyboard/boot-keyboard.js';
import { sealCode } from '../../drivers/scanner/sealed-code.js';

// Spec-like vectors of the scanner's bytes, written out by hand (not from the emulator): the serial
// trigger commands, the CR / CR LF framing, the boot-keyboard reports of a payment code, the
// mask, and the checks that make a misread a bad scan.

const ascii = (s: string) => Buffer.from(s, 'latin1');
const text = (e: LineEvent | undefined) => (e?.kind === 'entry' ? e.bytes.toString('latin1') : e);

t.test('the serial trigger commands are SYN T CR and SYN U CR', async (t) => {
  t.same([...TRIGGER_ON], [0x16, 0x54, 0x0d]);
  t.same([...TRIGGER_OFF], [0x16, 0x55, 0x0d]);
});

t.test('a code ends with CR, CR LF or LF; answers are seen only between codes', async (t) => {
  const s = new LineSplitter();
  t.same(s.push(ascii('134567890123456789\r')).map(text), ['134567890123456789'], 'CR');
  t.same(s.push(ascii('\n')), [], 'the LF of CR LF is part of the terminator');
  t.same(s.push(ascii('280012345678901234\r\n621234\n')).map(text), ['280012345678901234', '621234'], 'CR LF, then LF alone');
  t.same(s.push(ascii('\r\r\n')), [], 'empty lines are no code');
  t.same(s.push(Buffer.from([ACK, NAK])), [{ kind: 'answer', ack: true }, { kind: 'answer', ack: false }], 'ACK and NAK between codes');
  const split = [...s.push(ascii('13')), ...s.push(ascii('0012')), ...s.push(ascii('34\r'))];
  t.same(split.map(text), ['13001234'], 'a code split over chunks');
  const inside = s.push(Buffer.from([0x31, ACK, 0x32, 0x0d]));
  t.equal(inside.length, 1, 'an ACK inside a code nobody waits an answer for is part of it (and makes it a bad character later)');
  t.same(inside[0]?.kind === 'entry' ? [...inside[0].bytes] : inside, [0x31, ACK, 0x32]);
  let waiting = true;
  const w = new LineSplitter(64, () => waiting);
  t.same(w.push(Buffer.from([0x31, 0x32, ACK])), [{ kind: 'answer', ack: true }], 'while an answer is awaited, an ACK after a read cut short is the answer');
  waiting = false;
  t.same(w.push(Buffer.from([0x33, 0x0d])).map(text), ['123'], 'and not part of the code');
});

t.test('more than the buffer holds is an overflow; flush ends a code with no terminator; reset drops it', async (t) => {
  const s = new LineSplitter(8);
  t.same(s.push(ascii('1234567890\r')), [{ kind: 'overflow', length: 10 }]);
  s.push(ascii('1234'));
  t.equal(s.pending, 4);
  t.equal(text(s.flush()), '1234', 'flush hands out what came');
  t.equal(s.flush(), undefined, 'nothing more');
  s.push(ascii('99'));
  s.reset();
  t.equal(s.pending, 0);
  t.same(s.push(ascii('5\r')).map(text), ['5'], 'after a reset only new bytes count');
});

t.test('boot-keyboard reports of a payment code decode to its digits (the shared keyboard decoder)', async (t) => {
  // "1", release, "3", release, "0" (usage 0x27), release, Enter, release: digits 1-9 are usages 0x1E-0x26.
  const reports = [
    [0, 0, 0x1e, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0x20, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0x27, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0x28, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
  ];
  const k = new KeyboardDecoder(64);
  const events = reports.flatMap((r) => k.push(Uint8Array.from(r)));
  t.same(events.map((e) => (e.kind === 'entry' ? e.bytes.toString('latin1') : e)), ['130']);
});

t.test('the mask shows the first 2 and the last 4 at most, and at least half is hidden', async (t) => {
  t.equal(maskCode(ascii('134567890123456789')), '13************6789');
  t.equal(maskCode(ascii('62345678')), '62****78');
  t.equal(maskCode(ascii('1234')), '1**4');
  t.equal(maskCode(ascii('123')), '***');
  t.equal(maskCode(ascii('')), '');
});

t.test('a code is printable ASCII and not too long; the detail never quotes it', async (t) => {
  t.equal(checkCode(ascii('134567890123456789')), undefined);
  t.same(checkCode(Buffer.from([0x31, 0x00, 0x33])), { reason: 'bad-character', detail: 'a non-printable byte at position 2 of 3' });
  t.same(checkCode(Buffer.from([0x31, 0xe4])), { reason: 'bad-character', detail: 'a non-printable byte at position 2 of 2' });
  t.same(checkCode(ascii('1'.repeat(65))), { reason: 'too-long', detail: '65 characters, at most 64' });
  t.equal(checkCode(ascii('1'.repeat(20)), 18)?.reason, 'too-long');
});

t.test('a sealed code hides itself, hands its bytes to one consumer, then zeroes them', async (t) => {
  const bytes = ascii('134567890123456789');
  const read = sealCode(bytes);
  t.equal(read.masked, '13************6789');
  t.equal(read.length, 18);
  for (const shown of [JSON.stringify(read), String(read.sensitive), inspect(read), `${read.sensitive}`]) t.notMatch(shown, /3456789012/);
  const seen = await read.sensitive.consume((b) => b.toString('latin1'));
  t.equal(seen, '134567890123456789');
  t.ok(read.sensitive.wiped);
  t.ok(bytes.every((b) => b === 0), 'the bytes are zeroed');
  await t.rejects(read.sensitive.consume(() => 1), /already wiped/);
  const failing = sealCode(ascii('280012345678901234'));
  await t.rejects(failing.sensitive.consume(() => Promise.reject(new Error('gateway down'))), /gateway down/);
  t.ok(failing.sensitive.wiped, 'wiped even when the consumer failed');
});
