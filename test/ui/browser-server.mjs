// One headless Chromium for a whole `tap` run (started by test/run-before.mjs, stopped by
// test/run-after.mjs): the UI test files connect to it instead of each launching its own. It
// announces its endpoint in a file named for the tap runner and ends with the runner, so an
// interrupted run leaves no browser behind.
import { rmSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.mjs';

const [file, runner] = [process.argv[2], Number(process.argv[3])];
const server = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
let closing = false;
async function stop() {
  if (closing) return;
  closing = true;
  rmSync(file, { force: true });
  await server.close().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
writeFileSync(file, JSON.stringify({ wsEndpoint: server.wsEndpoint(), pid: process.pid }));
setInterval(() => {
  try {
    process.kill(runner, 0);
  } catch {
    void stop();
  }
}, 1000);
