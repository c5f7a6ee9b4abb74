import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { FrameTiming } from '../hw-sim/devices/id003/emulator.js';
import { byteMs, type LinePacing } from '../hw-sim/devices/line-pacing.js';
import { Customer } from '../hw-sim/soak/customer.js';
import { SimStack } from '../hw-sim/stack.js';
import type { ScreenView } from '../src/ui/view-model.js';
import { echoFloorMs } from './lib/echo-floor.js';
import { quantile } from './lib/stats.js';
import { figure, type BenchContext, type BenchResult, type Benchmark } from './lib/types.js';

/** ID-003 at 9600 baud, 8E1: 11 bits a byte with the start bit. */
const LINE: LinePacing = { baudRate: 9600, bitsPerByte: 11 };
const VEND_VALID = 0x15;
/** SYNC LNG 0x15 CRC CRC; the floor's echo answers it with the host's 5-byte ACK. */
const VEND_VALID_LENGTH = 5;
const ACK_LENGTH = 5;
const NOTE = 1000;
const TARGET_P99_MS = 50;

/**
 * Pairs each VEND VALID the emulator puts on the wire with the first screen message after it whose
 * inserted amount went up by the note: the customer sees the note counted at that message.
 */
class ScreenWatch {
  readonly latencies: number[] = [];
  /** Screen messages whose amount moved by something other than one note, or with no VEND VALID before it. */
  readonly unpaired: string[] = [];
  private vendAt: number[] = [];
  private inserted: number | undefined;

  readonly onFrame = (f: FrameTiming): void => {
    if (f.direction === 'tx' && f.cmd === VEND_VALID) this.vendAt.push(f.at);
  };

  onView(view: ScreenView, at: number): void {
    const now = view.amounts?.inserted;
    if (now === undefined) {
      this.inserted = undefined;
      return;
    }
    const before = this.inserted ?? 0;
    this.inserted = now;
    if (now === before) return;
    // A VEND VALID may repeat until the driver's ACK lands: the first one is when the note was reported.
    const reported = this.vendAt[0];
    this.vendAt = [];
    if (now - before !== NOTE || reported === undefined) {
      this.unpaired.push(`inserted ${before} → ${now}${reported === undefined ? ' with no VEND VALID before it' : ''}`);
      return;
    }
    this.latencies.push(at - reported);
  }
}

export const benchmark: Benchmark = {
  name: 'screen-latency',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const notes = ctx.smoke ? 3 : 200;
    const dir = join(ctx.dir, 'screen-latency');
    mkdirSync(dir, { recursive: true });
    const watch = new ScreenWatch();
    const stack = new SimStack({
      dir,
      // Quick mechanism, so the run is short; the span measured starts at VEND VALID, after it.
      emulatorTiming: { acceptingMs: 20, stackingMs: 40, stackedMs: 20, returningMs: 40 },
      validatorLine: { pacing: LINE, onFrame: watch.onFrame },
      config: { api: { port: 0 } },
    });
    let ws: WebSocket | undefined;
    try {
      await stack.start();
      const inService = stack.waitForLog((e) => e.msg === 'terminal in service', 60_000);
      const screenUrl = await stack.startRuntimeWithScreen();
      await inService;
      // The screen's own channel, as the page in the kiosk's browser opens it.
      ws = new WebSocket(new URL('/api/events', screenUrl.replace(/^http/, 'ws')));
      ws.on('message', (data) => {
        const at = performance.now();
        watch.onView((JSON.parse(String(data)) as { view: ScreenView }).view, at);
      });
      await new Promise<void>((resolve, reject) => {
        ws!.once('open', () => resolve());
        ws!.once('error', reject);
      });
      ctx.progress(`screen-latency: ${notes} notes of ${NOTE} fen, VEND VALID → the screen's message`);
      await new Customer(stack).pay({ kind: 'notes', amountDue: notes * NOTE, notes: Array<number>(notes).fill(NOTE), coins: [] });
    } finally {
      ws?.close();
      await stack.stop();
    }
    if (watch.latencies.length !== notes || watch.unpaired.length > 0) {
      throw new Error(`expected ${notes} notes seen on the screen one by one, paired ${watch.latencies.length}; ${watch.unpaired.slice(0, 3).join('; ')}`);
    }
    ctx.progress(`screen-latency: ${notes} frames through a do-nothing echo process for the floor`);
    const floor = await echoFloorMs(dir, notes, LINE, { request: VEND_VALID_LENGTH, reply: ACK_LENGTH });
    const wireMs = VEND_VALID_LENGTH * byteMs(LINE);
    const p50 = quantile(watch.latencies, 0.5);
    const p99 = quantile(watch.latencies, 0.99);
    const floor99 = quantile(floor, 0.99);
    const floorLimit = { name: 'echo floor p99 + VEND VALID wire time', value: floor99 + wireMs, measured: true };
    return {
      benchmark: 'screen-latency',
      method:
        `real runtime process (kiosk run: ID-003 driver, journal, machines, screen API) with the emulator paced at 9600 8E1; ` +
        `a WebSocket client on /api/events as the screen page opens it; ${notes} notes of ${NOTE} fen in one payment. ` +
        `Span: first bit of the note's first VEND VALID status reply → the screen message whose inserted amount went up ` +
        `by that note, received by the client. Floor: a do-nothing Node process answering each ${VEND_VALID_LENGTH}-byte ` +
        `frame on its own socat pty pair (bench/lib/echo-floor.ts), p99 overhead plus the frame's wire time.`,
      figures: [
        figure({ name: 'note on screen p50', value: p50, unit: 'ms', limit: floorLimit, target: null, met: null }),
        figure({
          name: 'note on screen p99',
          value: p99,
          unit: 'ms',
          limit: floorLimit,
          target: `≤ ${TARGET_P99_MS} ms`,
          met: p99 <= TARGET_P99_MS,
        }),
      ],
      details: {
        notes,
        wireMs,
        latencyMs: { p50, p99, max: Math.max(...watch.latencies) },
        latenciesMs: watch.latencies.map((ms) => Math.round(ms * 10) / 10),
        echoFloorOverheadMs: { p50: quantile(floor, 0.5), p99: floor99, max: Math.max(...floor) },
      },
    };
  },
};
