import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Customer, paymentMix, startInService } from '../hw-sim/soak/customer.js';
import { MB, rssBytes } from '../hw-sim/soak/process-stats.js';
import { SimStack } from '../hw-sim/stack.js';
import { bareNodeRssBytes } from './lib/bare-node.js';
import { median } from './lib/stats.js';
import { figure, type BenchContext, type BenchResult, type Benchmark } from './lib/types.js';

const TARGET_IDLE_BYTES = 65 * MB;

/** Samples a process's RSS every `everyMs` until stopped. */
function sampler(pid: number, everyMs: number): { stop(): number[] } {
  const samples = [rssBytes(pid)];
  const timer = setInterval(() => samples.push(rssBytes(pid)), everyMs);
  return {
    stop() {
      clearInterval(timer);
      samples.push(rssBytes(pid));
      return samples;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const benchmark: Benchmark = {
  name: 'rss',
  async run(ctx: BenchContext): Promise<BenchResult> {
    // A fresh process holds on to its start-up garbage for several seconds before its first major
    // collection; idle is what it settles at after that.
    const settleMs = ctx.smoke ? 200 : 15_000;
    const idleMs = ctx.smoke ? 200 : 30_000;
    const payments = ctx.smoke ? 1 : 12;
    const dir = join(ctx.dir, 'rss');
    mkdirSync(dir, { recursive: true });
    const stack = new SimStack({ dir, fitted: { coins: true, hoppers: true, printer: true } });
    let idle: number[];
    let busy: number[];
    try {
      await stack.start();
      await startInService(stack);
      const pid = stack.runtimePid!;
      await sleep(settleMs);
      const idleSampler = sampler(pid, 500);
      await sleep(idleMs);
      idle = idleSampler.stop();
      ctx.progress(`rss: idle ${(median(idle) / MB).toFixed(1)} MB; ${payments} payments for the busy figure`);
      const customer = new Customer(stack);
      const mix = paymentMix({ coins: true, hoppers: true });
      const busySampler = sampler(pid, 100);
      for (let i = 0; i < payments; i++) await customer.pay(mix[i % mix.length]!);
      busy = busySampler.stop();
    } finally {
      await stack.stop();
    }
    const bare = await bareNodeRssBytes();
    const idleBytes = median(idle);
    const busyPeak = Math.max(...busy);
    const mb = (b: number) => b / MB;
    return {
      benchmark: 'rss',
      method:
        `VmRSS of the 'kiosk run' process (validator, coin acceptor, two hoppers, printer emulated): idle is the median ` +
        `of samples every 500 ms for ${idleMs / 1000} s, from ${settleMs / 1000} s after 'in service'; busy is the peak ` +
        `of samples every 100 ms over ${payments} payments (notes, coins, change, receipts). MB = 10^6 bytes.`,
      figures: [
        figure({
          name: 'idle RSS',
          value: mb(idleBytes),
          unit: 'MB',
          limit: { name: 'target 65 MB', value: mb(TARGET_IDLE_BYTES), measured: false },
          target: '≤ 65 MB',
          met: idleBytes <= TARGET_IDLE_BYTES,
        }),
        figure({
          name: 'idle RSS',
          value: mb(idleBytes),
          unit: 'MB',
          limit: { name: 'bare node process', value: mb(bare), measured: true },
          target: null,
          met: null,
        }),
        figure({
          name: 'busy RSS (peak)',
          value: mb(busyPeak),
          unit: 'MB',
          limit: { name: 'idle RSS', value: mb(idleBytes), measured: true },
          target: null,
          met: null,
        }),
      ],
      details: { idleSamplesBytes: idle, busySamplesBytes: busy, bareNodeBytes: bare, payments },
    };
  },
};
