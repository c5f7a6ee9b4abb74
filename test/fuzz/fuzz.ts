/**
 * Shared settings and arbitraries for the property-based tests in test/fuzz/.
 *
 *   FUZZ_RUNS   runs per property (default 500, fast enough for CI)
 *   FUZZ_SEED   fast-check seed (default 42 so CI is deterministic; `random` for a fresh one)
 *
 * A long run is one command: `npm run fuzz` (FUZZ_RUNS=1000000 FUZZ_SEED=random over test/fuzz/).
 * A failure prints the seed and the shrunk counterexample; rerun with that FUZZ_SEED to reproduce it.
 */
import fc from 'fast-check';
import t, { type Test } from 'tap';

const DEFAULT_RUNS = 500;
export const runs = Math.max(1, Math.floor(Number(process.env.FUZZ_RUNS ?? DEFAULT_RUNS)) || DEFAULT_RUNS);
export const seed =
  process.env.FUZZ_SEED === 'random'
    ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
    : Number(process.env.FUZZ_SEED ?? 42) | 0;

// The tap timeout in package.json suits the default run. A long run gets time in proportion, so it
// still stops on a real hang (an endless loop never returns to fast-check) instead of running forever.
if (runs > DEFAULT_RUNS) t.setTimeout(Math.max(300_000, runs * 30));
t.comment(`fast-check: ${runs} runs per property, seed ${seed}`);

/** fast-check parameters for one property; `scale` trims the runs of an expensive property. */
export function params<Ts>(scale = 1): fc.Parameters<Ts> {
  return { numRuns: Math.max(1, Math.round(runs * scale)), seed };
}

/** One tap subtest per property; fc.assert throws (seed, path, counterexample) on a failure. */
export function check<Ts extends [unknown, ...unknown[]]>(
  tap: Test | typeof t,
  name: string,
  prop: fc.IRawProperty<Ts, boolean>,
  scale = 1,
): void {
  tap.test(name, async (tt) => {
    // Awaited for an asynchronous property (fc.asyncProperty); a synchronous one returns nothing.
    await fc.assert(prop, params<Ts>(scale));
    tt.pass(`${Math.max(1, Math.round(runs * scale))} runs`);
  });
}

// ------------------------------------------------------------------------------ byte helpers

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

/** Cut points (any naturals; reduced modulo the length) for splitting a byte string into chunks. */
export const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

/** `bytes` cut at the given points. Empty chunks are kept on purpose: a parser must accept them. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.slice(from, p));
    from = p;
  }
  chunks.push(bytes.slice(from));
  return chunks;
}

/** Random bytes; sometimes long enough to hold the largest frames several times over. */
export const noiseArb = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1200 }) },
);

/**
 * Noise rich in the given bytes (a SYNC, a host address) and in small values that read as short
 * frame lengths: the bytes that make a splitter start a frame and wait for it.
 */
export function noiseRichIn(special: readonly number[], maxLength = 300): fc.Arbitrary<Uint8Array> {
  return fc
    .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...special), fc.integer({ min: 0, max: 12 })), { maxLength })
    .map((a) => Uint8Array.from(a));
}

/** Random bytes that never contain any of `excluded`. */
export function noiseWithout(excluded: readonly number[], maxLength = 64): fc.Arbitrary<Uint8Array> {
  const allowed = Array.from({ length: 256 }, (_, i) => i).filter((b) => !excluded.includes(b));
  return fc.array(fc.constantFrom(...allowed), { maxLength }).map((a) => Uint8Array.from(a));
}

/** Data up to `max` bytes, biased so that lengths at and near the maximum come up often. */
export function dataArb(max: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: Math.min(max, 16) }),
    fc.uint8Array({ maxLength: max }),
    fc.uint8Array({ minLength: Math.max(0, max - 8), maxLength: max }),
  );
}

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; at: number }
  | { op: 'repeat'; at: number; count: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

/** Applies the mutations in order; positions are taken modulo the current length. */
export function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(input);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.op) {
      case 'flip':
        if (b.length > 0) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        if (b.length > 0) b[at] = m.value;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case 'truncate':
        b = Buffer.from(b.subarray(0, at));
        break;
      case 'repeat':
        b = Buffer.concat([b.subarray(0, at + m.count), b.subarray(at)]);
        break;
    }
  }
  return Uint8Array.from(b);
}

/** A copy of `bytes` with one bit flipped; `at` is taken modulo the length. */
export function flipBit(bytes: Uint8Array, at: number, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at % out.length] = out[at % out.length]! ^ (1 << bit);
  return out;
}

/**
 * Whether a frame at `frameAt` in `stream` may legitimately go unfound because a candidate that
 * starts in the garbage before it covers part of it: a valid frame (a checksum can match by
 * chance) or, for a parser that only drops whole stale buffers, a frame that runs past the end.
 * `candidateAt(p)` returns the candidate length at p, or undefined when p cannot start one.
 */
export function shadowed(
  stream: Uint8Array,
  frameAt: number,
  candidateAt: (p: number) => number | undefined,
  isValid: (candidate: Uint8Array) => boolean,
  incompleteShadows = false,
): boolean {
  for (let p = 0; p < frameAt; p++) {
    const length = candidateAt(p);
    if (length === undefined || p + length <= frameAt) continue;
    if (p + length > stream.length) {
      if (incompleteShadows) return true;
      continue;
    }
    if (isValid(stream.subarray(p, p + length))) return true;
  }
  return false;
}
