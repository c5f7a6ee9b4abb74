#!/usr/bin/env node
// The kiosk service as `kiosk run` starts it, for the simulator's stack: the one difference is the
// crash seam, armed from KIOSK_CRASH_AFTER (`type` or `type#n`), which the product does not carry.
import { parseArgs } from 'node:util';
import { runKiosk } from '../src/run-kiosk.js';
import { crashAfter } from './crash-seam.js';

const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
if (!values.config) {
  console.error('runtime-entry: give --config FILE');
  process.exit(2);
}
const spec = process.env.KIOSK_CRASH_AFTER;
// Failing as `kiosk run` fails, so that what the stack reads from a broken start is the same.
try {
  await runKiosk(values.config, spec ? { onJournalCommit: crashAfter(spec) } : {});
} catch (e) {
  console.error(`kiosk: ${(e as Error).message}`);
  process.exit(1);
}
