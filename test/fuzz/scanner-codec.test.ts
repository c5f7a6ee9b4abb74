/**
 * Properties of the scanner's codec (drivers/scanner/codec.ts) with the scanner emulator's own
 * encoders: any chunking of the serial stream gives the same codes; any code typed as keyboard
 * reports comes back whole; the mask never shows more than 2 + 4 characters nor more than half;
 * arbitrary bytes never throw and never yield a code longer than the limit.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { KeyboardDecoder } from '../../drivers/keyboard/boot-keyboard.js';
import { LineSplitter, checkCode, maskCode } from '../../drivers/scanner/codec.js';
import { serialCode, typedReports } from '../../hw-sim/devices/scanner/wire.js';
import { check } from './fuzz.js';

const codeArb = fc.stringMatching(/^[0-9A-Za-z]{1,40}$/);

check(
  t,
  'serial: codes split into any chunks come out whole, in order',
  fc.property(fc.array(codeArb, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }), (codes, cuts) => {
    const stream = Buffer.concat(codes.map((c) => serialCode(c)));
    const s = new LineSplitter();
    const out: string[] = [];
    for (let at = 0, i = 0; at < stream.length; i++) {
      const n = cuts[i % cuts.length]!;
      for (const e of s.push(stream.subarray(at, at + n))) if (e.kind === 'entry') out.push(e.bytes.toString('latin1'));
      at += n;
    }
    assert.deepEqual(out, codes);
    assert.equal(s.pending, 0);
    return true;
  }),
);

check(
  t,
  'keyboard: a code typed as boot-keyboard reports decodes to itself',
  fc.property(codeArb, (code) => {
    const k = new KeyboardDecoder(64);
    const events = typedReports(code).flatMap((r) => k.push(r));
    assert.deepEqual(events.map((e) => (e.kind === 'entry' ? e.bytes.toString('latin1') : e)), [code]);
    assert.equal(checkCode(Buffer.from(code)), undefined);
    return true;
  }),
);

check(
  t,
  'the mask shows at most the first 2 and the last 4, and hides at least half',
  fc.property(fc.stringMatching(/^[0-9]{0,64}$/), (code) => {
    const m = maskCode(Buffer.from(code));
    assert.equal(m.length, code.length);
    const shown = [...m].filter((c) => c !== '*').length;
    assert.ok(shown <= 6 && shown <= code.length / 2, `${m}`);
    assert.ok(m.startsWith(code.slice(0, Math.min(2, Math.floor(code.length / 4)))));
    return true;
  }),
);

check(
  t,
  'arbitrary bytes: no throw, no code over the limit, every code checked',
  fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const s = new LineSplitter(32);
    for (const e of [...s.push(bytes), s.flush()]) {
      if (e?.kind === 'entry') {
        assert.ok(e.bytes.length <= 32);
        const problem = checkCode(e.bytes, 32);
        if (problem) assert.ok(!problem.detail.includes(e.bytes.toString('latin1')) || e.bytes.length < 3);
      }
    }
    return true;
  }),
);
