import { isDeepStrictEqual } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';

/**
 * Applies one top-level section of a new, valid configuration to the running kiosk. Returns false,
 * having changed nothing, when this change needs a restart after all (e.g. the management section
 * added or removed).
 */
export type SectionApplier = (next: Config) => boolean;

export type ReloadOutcome =
  | { ok: true; applied: string[]; needsRestart: string[] }
  | { ok: false; problems: string[] };

/**
 * Reads and validates the configuration file again. A bad file is refused with its problems and
 * nothing changes. Otherwise each changed top-level section is applied when the running kiosk can
 * take it (`appliers`), and named as needing a restart when it cannot; the file itself is already
 * what the next start reads.
 */
export function reloadConfiguration(path: string, current: Config, appliers: Readonly<Record<string, SectionApplier>>): ReloadOutcome {
  let next: Config;
  try {
    next = loadConfigFile(path);
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, problems: e.problems };
    throw e;
  }
  const keys = [...new Set([...Object.keys(current), ...Object.keys(next)])].sort() as (keyof Config)[];
  const changed = keys.filter((k) => !isDeepStrictEqual(current[k], next[k]));
  const applied: string[] = [];
  const needsRestart: string[] = [];
  for (const key of changed) {
    const apply = appliers[key];
    if (apply?.(next)) applied.push(key);
    else needsRestart.push(key);
  }
  return { ok: true, applied, needsRestart };
}
