// tap's `before` script (package.json "tap"): runs once before the test files. It starts the one
// Chromium the UI tests share (test/ui/browser-server.mjs) and waits until it is announced. Without
// Chromium it does nothing: the UI tests then say what is missing.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, sharedBrowserFile } from './ui/chromium.mjs';

if (existsSync(CHROMIUM)) {
  mkdirSync('.tap', { recursive: true });
  const file = sharedBrowserFile(process.cwd(), process.ppid);
  const server = spawn(process.execPath, [fileURLToPath(new URL('./ui/browser-server.mjs', import.meta.url)), file, String(process.ppid)], {
    detached: true,
    stdio: 'ignore',
    // The browser server is not a test: it records no coverage.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('_TAPJS_') && k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE')),
  });
  server.unref();
  const deadline = Date.now() + 60_000;
  while (!existsSync(file) && Date.now() < deadline && server.exitCode === null) await new Promise((r) => setTimeout(r, 100));
}
