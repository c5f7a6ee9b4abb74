import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runScenarioFile } from '../../hw-sim/runner/run.js';
import type { ValidatorModel } from '../../hw-sim/stack.js';

// Each scenario runs the compiled runtime (dist/, built by `npm test`'s pretest) as a child process
// against emulators on socat pty pairs and the reference server. The scenarios are split over
// several test files by number so that each file stays well inside tap's per-file time limit and
// two files run side by side.
export const scenarioDir = join(process.cwd(), 'hw-sim', 'scenarios');

function pinnedValidator(file: string): string | undefined {
  return (JSON.parse(readFileSync(join(scenarioDir, file), 'utf8')) as { validator?: string }).validator;
}

/** The scenario files numbered from `from` to `to` that run with `validator` (default ID-003). */
export function scenarioFiles(from: number, to: number, validator: ValidatorModel = 'id003'): string[] {
  return readdirSync(scenarioDir)
    .filter((f) => f.endsWith('.json'))
    .filter((f) => {
      const n = Number(/^(\d+)-/.exec(f)?.[1]);
      return n >= from && n <= to;
    })
    .filter((f) => (pinnedValidator(f) ?? validator) === validator)
    .sort();
}

/**
 * `inspect` looks at the files each scenario left (its folder is kept for it, and removed after
 * when the scenario and the inspection passed).
 */
export function runScenarios(files: string[], validator?: ValidatorModel, inspect?: (t: Test, folder: string, file: string) => void): void {
  t.ok(files.length > 0, 'there are scenarios in this group');
  for (const file of files) {
    t.test(validator ? `${file} (${validator})` : file, async (t) => {
      const result = await runScenarioFile(join(scenarioDir, file), inspect !== undefined, validator);
      t.same(result.failures, [], `${result.name}${result.folder ? ` (files in ${result.folder})` : ''}`);
      t.ok(result.ok);
      if (inspect && result.folder) {
        inspect(t, result.folder, file);
        if (result.ok && t.passing()) rmSync(result.folder, { recursive: true, force: true });
        else t.comment(`files kept in ${result.folder}`);
      }
    });
  }
}
