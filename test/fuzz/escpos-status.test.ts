/**
 * Properties of the ESC/POS real-time status decoders (drivers/escpos/status.ts), checked against
 * every status byte the printer emulator (hw-sim/devices/escpos/emulator.ts) can send and against
 * the emulator's decoder for the request bytes.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import {
  STATUS_KINDS,
  StatusByteError,
  blockingCode,
  decodeErrorCause,
  decodeOfflineCause,
  decodePaperSensor,
  decodePrinterStatus,
  decodeStatus,
  isStatusByte,
  statusRequest,
  summarize,
  type StatusFlags,
} from '../../drivers/escpos/status.js';
import { memoryPair } from '../../drivers/transport/memory.js';
import { EscposDecoder } from '../../hw-sim/devices/escpos/decoder.js';
import { EscposEmulator } from '../../hw-sim/devices/escpos/emulator.js';
import { check } from './fuzz.js';

const decoders = [decodePrinterStatus, decodeOfflineCause, decodeErrorCause, decodePaperSensor] as const;

t.test('every byte 0–255: each decoder accepts exactly the 16 bytes with the fixed bits, and throws StatusByteError on the rest', async (t) => {
  let valid = 0;
  for (let b = 0; b < 256; b++) {
    const ok = (b & 0x93) === 0x12;
    t.equal(isStatusByte(b), ok);
    if (ok) valid++;
    decoders.forEach((decode, i) => {
      if (ok) {
        const flags = decode(b);
        for (const v of Object.values(flags)) if (typeof v !== 'boolean') t.fail(`non-boolean flag for 0x${b.toString(16)}`);
      } else {
        t.throws(() => decode(b), StatusByteError);
        try {
          decode(b);
        } catch (e) {
          if (!(e instanceof StatusByteError) || e.kind !== STATUS_KINDS[i] || e.byte !== b) t.fail(`wrong error for 0x${b.toString(16)}`);
        }
      }
    });
  }
  t.equal(valid, 16);
});

const anyNumber = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double(),
  fc.constantFrom(-0, Number.NaN, Infinity, -Infinity, 0x12 + 0.5, 0x112, 0x12 - 256),
);

check(
  t,
  'any number at all: a status decoder returns flags or throws StatusByteError, never anything else',
  fc.property(anyNumber, fc.integer({ min: 0, max: 3 }), (n, i) => {
    const valid = Number.isInteger(n) && n >= 0 && n <= 255 && (n & 0x93) === 0x12;
    assert.equal(isStatusByte(n), valid);
    if (valid) decoders[i]!(n);
    else assert.throws(() => decoders[i]!(n), StatusByteError);
  }),
);

const bitOf = (b: number, n: number): boolean => ((b >> n) & 1) === 1;

check(
  t,
  'decodeStatus reads each flag from its documented bit, for any four valid status bytes',
  fc.property(fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 4, maxLength: 4 }), (free) => {
    // The four free bits are 2, 3, 5 and 6; spread a nibble over them.
    const bytes = free.map((n) => 0x12 | ((n & 3) << 2) | ((n >> 2) << 5)) as [number, number, number, number];
    const f = decodeStatus(bytes);
    const [b1, b2, b3, b4] = bytes;
    assert.deepEqual(f, {
      offline: bitOf(b1, 3),
      drawerPin3: bitOf(b1, 2),
      coverOpen: bitOf(b2, 2),
      feedButton: bitOf(b2, 3),
      paperEndStop: bitOf(b2, 5),
      error: bitOf(b2, 6),
      cutterError: bitOf(b3, 3),
      unrecoverable: bitOf(b3, 5),
      autoRecoverable: bitOf(b3, 6),
      paperNearEnd: bitOf(b4, 2) || bitOf(b4, 3),
      paperEnd: bitOf(b4, 5) || bitOf(b4, 6),
    });
  }),
);

const flagsArb: fc.Arbitrary<StatusFlags> = fc.record({
  offline: fc.boolean(),
  drawerPin3: fc.boolean(),
  coverOpen: fc.boolean(),
  feedButton: fc.boolean(),
  paperEndStop: fc.boolean(),
  error: fc.boolean(),
  cutterError: fc.boolean(),
  unrecoverable: fc.boolean(),
  autoRecoverable: fc.boolean(),
  paperNearEnd: fc.boolean(),
  paperEnd: fc.boolean(),
});

check(
  t,
  'summarize is total, and blockingCode blocks exactly the faults',
  fc.property(flagsArb, (flags) => {
    const s = summarize(flags);
    assert.ok(['ok', 'degraded', 'fault'].includes(s.health));
    assert.ok(s.code.length > 0 && s.detail.length > 0);
    const anyFault =
      flags.paperEnd || flags.paperEndStop || flags.coverOpen || flags.cutterError || flags.unrecoverable || flags.autoRecoverable || flags.error || flags.offline;
    assert.equal(s.health === 'fault', anyFault);
    assert.equal(blockingCode(s) !== undefined, anyFault);
  }),
);

interface PrinterState {
  nearEnd: boolean;
  paperOut: boolean;
  coverOpen: boolean;
  cutterError: boolean;
  headHot: boolean;
}

function checkState(state: PrinterState): void {
  const emulator = new EscposEmulator({ transport: memoryPair('fuzz')[0], outDir: '/nonexistent' });
  if (state.nearEnd) emulator.paperNearEnd();
  if (state.paperOut) emulator.paperOutNow();
  if (state.coverOpen) emulator.openCover();
  if (state.cutterError) emulator.jamCutter();
  if (state.headHot) emulator.overheat();
  const bytes = STATUS_KINDS.map((n) => emulator.statusByte(n)!) as [number, number, number, number];
  for (const b of bytes) assert.ok(isStatusByte(b), `0x${b.toString(16)} is a status byte`);
  const f = decodeStatus(bytes);
  const error = state.cutterError || state.headHot;
  assert.equal(f.offline, state.paperOut || state.coverOpen || error);
  assert.equal(f.coverOpen, state.coverOpen);
  assert.equal(f.paperEndStop, state.paperOut);
  assert.equal(f.error, error);
  assert.equal(f.cutterError, state.cutterError);
  assert.equal(f.autoRecoverable, state.headHot);
  assert.equal(f.unrecoverable, false);
  assert.equal(f.paperEnd, state.paperOut);
  assert.equal(f.paperNearEnd, state.nearEnd || state.paperOut);
  const code = state.paperOut
    ? 'paper-out'
    : state.coverOpen
      ? 'cover-open'
      : state.cutterError
        ? 'cutter-error'
        : state.headHot
          ? 'auto-recoverable-error'
          : state.nearEnd
            ? 'paper-near-end'
            : 'ok';
  assert.equal(summarize(f).code, code);
}

t.test('cross-check: all 32 states of the printer emulator answer DLE EOT 1–4 with bytes the driver decodes to that state', async (t) => {
  for (let bits = 0; bits < 32; bits++) {
    const state = {
      nearEnd: (bits & 1) !== 0,
      paperOut: (bits & 2) !== 0,
      coverOpen: (bits & 4) !== 0,
      cutterError: (bits & 8) !== 0,
      headHot: (bits & 16) !== 0,
    };
    t.doesNotThrow(() => checkState(state), JSON.stringify(state));
  }
});

t.test('cross-check: the driver status requests decode as DLE EOT n on the emulator', async (t) => {
  for (const n of STATUS_KINDS) {
    const decoder = new EscposDecoder();
    t.same([...decoder.push(statusRequest(n)), ...decoder.flush()], [{ kind: 'status-request', n }]);
  }
});
