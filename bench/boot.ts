import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SimStack } from '../hw-sim/stack.js';
import { bareNodeStartMs } from './lib/bare-node.js';
import { median } from './lib/stats.js';
import { figure, type BenchContext, type BenchResult, type Benchmark } from './lib/types.js';

const TARGET_MS = 1000;
const TARGET_TIMES_BARE = 10;

export const benchmark: Benchmark = {
  name: 'boot',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const boots = ctx.smoke ? 1 : 5;
    const dir = join(ctx.dir, 'boot');
    mkdirSync(dir, { recursive: true });
    let inServiceAt: number | undefined;
    const stack = new SimStack({
      dir,
      fitted: { coins: true, hoppers: true, printer: true },
      onRuntimeLog: (e) => {
        if (e.msg === 'terminal in service') inServiceAt ??= performance.now();
      },
    });
    const bootMs: number[] = [];
    try {
      await stack.start();
      for (let i = 0; i < boots; i++) {
        inServiceAt = undefined;
        const inService = stack.waitForLog((e) => e.msg === 'terminal in service', 60_000);
        inService.catch(() => undefined);
        const started = performance.now();
        await stack.startRuntime();
        await inService;
        bootMs.push(inServiceAt! - started);
        await stack.killRuntime('SIGTERM');
        ctx.progress(`boot: ${i + 1}/${boots}: ${bootMs[i]!.toFixed(0)} ms`);
      }
    } finally {
      await stack.stop();
    }
    const bare: number[] = [];
    for (let i = 0; i < boots; i++) bare.push(await bareNodeStartMs());
    const boot = median(bootMs);
    const bareMs = median(bare);
    return {
      benchmark: 'boot',
      method:
        `spawning the simulator's runtime entry (dist/hw-sim/runtime-entry.js) with the validator, coin acceptor, two hoppers and printer emulated on socat ptys ` +
        `(emulator default timing: the validator takes 300 ms to initialise after Reset) until it logs 'terminal in service'; ` +
        `the first boot creates the journal, the others recover it; median of ${boots}, against the median of ${boots} ` +
        `spawns of 'node -e 0' to their exit.`,
      figures: [
        figure({
          name: 'boot to in service',
          value: boot,
          unit: 'ms',
          limit: { name: "bare 'node -e 0'", value: bareMs, measured: true },
          target: `≤ ${TARGET_TIMES_BARE} × bare node`,
          met: boot <= TARGET_TIMES_BARE * bareMs,
        }),
        figure({
          name: 'boot to in service',
          value: boot,
          unit: 'ms',
          limit: { name: 'target 1 s', value: TARGET_MS, measured: false },
          target: `≤ ${TARGET_MS} ms`,
          met: boot <= TARGET_MS,
        }),
      ],
      details: { bootMs, bareNodeMs: bare },
    };
  },
};
