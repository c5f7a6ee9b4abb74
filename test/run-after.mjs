// tap's `after` script (package.json "tap"): stops the Chromium that test/run-before.mjs started.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { sharedBrowserFile } from './ui/chromium.mjs';

const file = sharedBrowserFile(process.cwd(), process.ppid);
if (existsSync(file)) {
  const { pid } = JSON.parse(readFileSync(file, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    rmSync(file, { force: true });
  }
}
