import { COST, hashPin, verifyPin } from '../src/console/pin.js';
import { median } from './lib/stats.js';
import { figure, type BenchContext, type BenchResult, type Benchmark } from './lib/types.js';

/** An offline search of every 6-digit PIN must cost at least this long on one core. */
const TARGET_DAYS = 1;
const SPACE = 1_000_000;

export const benchmark: Benchmark = {
  name: 'pin-search',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const tries = ctx.smoke ? 1 : 5;
    const hash = hashPin('246810');
    const ms: number[] = [];
    for (let i = 0; i < tries; i++) {
      const started = performance.now();
      // verifyPin runs scrypt in libuv's pool: unawaited, the figure was the time to queue it.
      if (await verifyPin(String(100000 + i), hash)) throw new Error('a wrong PIN verified');
      ms.push(performance.now() - started);
    }
    const perTry = median(ms);
    const days = (perTry * SPACE) / 1000 / 86_400;
    ctx.progress(`pin-search: ${perTry.toFixed(0)} ms a try, ${days.toFixed(1)} days for the 6-digit space`);
    return {
      benchmark: 'pin-search',
      method: `scrypt N=${COST.N} r=${COST.r} p=${COST.p} (node:crypto, one core): the median of ${tries} verifications of a wrong PIN, times 10^6 PINs`,
      figures: [
        figure({
          name: 'search of all 6-digit PINs',
          value: days,
          unit: 'days',
          limit: { name: 'target', value: TARGET_DAYS, measured: false },
          target: `at least ${TARGET_DAYS} day on one core`,
          met: days >= TARGET_DAYS,
          note: `${perTry.toFixed(0)} ms a try`,
        }),
      ],
      details: { msPerTry: ms, cost: COST },
    };
  },
};
