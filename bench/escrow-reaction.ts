import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameTiming } from '../hw-sim/devices/id003/emulator.js';
import { byteMs, type LinePacing } from '../hw-sim/devices/line-pacing.js';
import { Customer, startInService } from '../hw-sim/soak/customer.js';
import { SimStack } from '../hw-sim/stack.js';
import { echoFloorMs } from './lib/echo-floor.js';
import { quantile } from './lib/stats.js';
import { figure, type BenchContext, type BenchResult, type Benchmark } from './lib/types.js';

/** ID-003 runs at 9600 baud, 8 data bits, even parity, 1 stop bit: 11 bits a byte with the start bit. */
const LINE: LinePacing = { baudRate: 9600, bitsPerByte: 11 };
const BYTE_MS = byteMs(LINE);
const ESCROW = 0x13;
/** SYNC LNG 0x13 code CRC CRC, and SYNC LNG 0x41 CRC CRC. */
const ESCROW_LENGTH = 6;
const STACK_LENGTH = 5;
const STACK = new Set([0x41, 0x42]);
const RETURN = 0x43;
const NOTE = 1000;
/** The target: at p99, no more than this above what a do-nothing echo process costs on this box. */
const TARGET_ABOVE_FLOOR_MS = 3;

interface Reaction {
  /** ESCROW reply's first bit → STACK's last bit, as on a 9600-baud line. */
  reactionMs: number;
  /** The two frames' own time on the wire. */
  wireMs: number;
}

/**
 * Watches the validator's line: from the first ESCROW status reply of a note to the STACK command
 * that answers it. The emulator paces its own bytes; the runtime's STACK crosses the pty at once,
 * so the time a UART would spend sending it is added.
 */
class EscrowWatch {
  readonly reactions: Reaction[] = [];
  returned = 0;
  private escrow: FrameTiming | undefined;

  readonly onFrame = (f: FrameTiming): void => {
    if (f.direction === 'tx' && f.cmd === ESCROW) {
      this.escrow ??= f;
      return;
    }
    if (f.direction !== 'rx' || !this.escrow) return;
    if (STACK.has(f.cmd)) {
      const stackAt = f.at + f.length * BYTE_MS;
      this.reactions.push({ reactionMs: stackAt - this.escrow.at, wireMs: (this.escrow.length + f.length) * BYTE_MS });
      this.escrow = undefined;
    } else if (f.cmd === RETURN) {
      this.returned++;
      this.escrow = undefined;
    }
  };
}

export const benchmark: Benchmark = {
  name: 'escrow-reaction',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const notes = ctx.smoke ? 3 : 200;
    const dir = join(ctx.dir, 'escrow-reaction');
    mkdirSync(dir, { recursive: true });
    const watch = new EscrowWatch();
    const stack = new SimStack({
      dir,
      // Quick mechanism, so the run is short; the span measured starts at the escrow reply, after it.
      emulatorTiming: { acceptingMs: 20, stackingMs: 40, stackedMs: 20, returningMs: 40 },
      validatorLine: { pacing: LINE, onFrame: watch.onFrame },
    });
    try {
      await stack.start();
      await startInService(stack);
      ctx.progress(`escrow-reaction: ${notes} notes of ${NOTE} fen through the runtime`);
      await new Customer(stack).pay({ kind: 'notes', amountDue: notes * NOTE, notes: Array<number>(notes).fill(NOTE), coins: [] });
    } finally {
      await stack.stop();
    }
    if (watch.reactions.length !== notes || watch.returned > 0) {
      throw new Error(`expected ${notes} escrow→stack reactions, saw ${watch.reactions.length} (and ${watch.returned} returns)`);
    }
    ctx.progress(`escrow-reaction: ${notes} frames through a do-nothing echo process for the floor`);
    const floor = await echoFloorMs(dir, notes, LINE, { request: ESCROW_LENGTH, reply: STACK_LENGTH });
    const reaction = watch.reactions.map((r) => r.reactionMs);
    const overhead = watch.reactions.map((r) => r.reactionMs - r.wireMs);
    const wireMs = watch.reactions[0]!.wireMs;
    const p50 = quantile(reaction, 0.5);
    const p99 = quantile(reaction, 0.99);
    const over50 = quantile(overhead, 0.5);
    const over99 = quantile(overhead, 0.99);
    const floor50 = quantile(floor, 0.5);
    const floor99 = quantile(floor, 0.99);
    const wire = { name: 'wire time of ESCROW + STACK', value: wireMs, measured: true };
    return {
      benchmark: 'escrow-reaction',
      method:
        `real runtime process (kiosk run: ID-003 driver, escrow hook, journal) on a socat pty, default 150 ms poll; ` +
        `the emulator in the bench process sends its bytes paced at 9600 8E1 (11 bits a byte); ${notes} notes of ${NOTE} fen ` +
        `in one payment. Span: first bit of the ESCROW status reply → last bit of STACK; the runtime's STACK crosses ` +
        `the pty at once, so its ${(STACK_LENGTH * BYTE_MS).toFixed(2)} ms on a real line are added. Floor: the same span ` +
        `with a Node process that only answers each 6-byte frame with 5 bytes, on its own socat pty pair.`,
      figures: [
        figure({ name: 'reaction p50', value: p50, unit: 'ms', limit: wire, target: null, met: null, note: `overhead ${over50.toFixed(2)} ms` }),
        figure({
          name: 'reaction p99',
          value: p99,
          unit: 'ms',
          limit: wire,
          target: `overhead ≤ the echo floor's + ${TARGET_ABOVE_FLOOR_MS} ms`,
          met: over99 <= floor99 + TARGET_ABOVE_FLOOR_MS,
          note: `overhead ${over99.toFixed(2)} ms`,
        }),
        figure({
          name: 'bare echo p99',
          value: wireMs + floor99,
          unit: 'ms',
          limit: wire,
          target: null,
          met: null,
          note: `overhead ${floor99.toFixed(2)} ms: what this box's ptys and scheduler cost a do-nothing process`,
        }),
      ],
      details: {
        notes,
        wireMs,
        reactionMs: { p50, p99, max: Math.max(...reaction) },
        overheadMs: { p50: over50, p99: over99, max: Math.max(...overhead) },
        echoFloorOverheadMs: { p50: floor50, p99: floor99, max: Math.max(...floor) },
      },
    };
  },
};
