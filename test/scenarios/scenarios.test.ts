import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runScenarioFile } from '../../hw-sim/runner/run.js';

// Each scenario runs the compiled runtime (dist/, built by `npm test`'s pretest) as a child process
// against the emulator on a socat pty pair and the reference server.
const dir = join(process.cwd(), 'hw-sim', 'scenarios');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

t.ok(files.length >= 8, 'at least eight scenarios ship with the kiosk');

for (const file of files) {
  t.test(file, async (t) => {
    const result = await runScenarioFile(join(dir, file), false);
    t.same(result.failures, [], `${result.name}${result.folder ? ` (files in ${result.folder})` : ''}`);
    t.ok(result.ok);
  });
}
