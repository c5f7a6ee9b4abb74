/**
 * The A/B layout on disk: every release unpacked side by side under `<root>/releases/<version>`,
 * `current` and `previous` symbolic links to two of them, and `update-state.json` (the trial of a
 * release just switched to, and the last rollback not yet reported). Every change is a whole-file
 * or whole-link replacement by rename(2), so a power cut leaves the old or the new, never half.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const trialSchema = z.object({
  version: z.string(),
  from: z.string(),
  switchedAt: z.string(),
  /** Past this the release counts as failed unless it was marked good. */
  deadline: z.string(),
  /** Starts of the trial release counted by the rollback check (one per service start). */
  starts: z.number().int().nonnegative(),
  maxStarts: z.number().int().positive(),
  /** The remote command that asked for it, for the report. */
  command: z.string().nullable(),
  /** Set by the rollback check before it points `current` back, so a kill in between is finished. */
  rollingBack: z.string().optional(),
});
export type Trial = z.infer<typeof trialSchema>;

const failureSchema = z.object({ version: z.string(), backTo: z.string(), reason: z.string(), at: z.string(), command: z.string().nullable() });
export type RollbackRecord = z.infer<typeof failureSchema>;

const stateSchema = z.object({
  trial: trialSchema.nullable().default(null),
  /** A rollback the running release has not yet journalled and reported. */
  rolledBack: failureSchema.nullable().default(null),
  /** The last release that passed its health check. */
  good: z.string().nullable().default(null),
});
export type UpdateState = z.infer<typeof stateSchema>;

/** A version string names a folder: no path separators, no dot-dot. */
export const versionSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]*$/, 'a version is letters, digits and . + _ -');

export class ReleaseLayout {
  readonly releases: string;
  readonly current: string;
  readonly previous: string;
  readonly stateFile: string;

  constructor(readonly root: string) {
    this.releases = join(root, 'releases');
    this.current = join(root, 'current');
    this.previous = join(root, 'previous');
    this.stateFile = join(root, 'update-state.json');
  }

  releaseDir(version: string): string {
    return join(this.releases, versionSchema.parse(version));
  }

  /** The version a link points to, or null when there is no such link. */
  linked(link: 'current' | 'previous'): string | null {
    try {
      return basename(readlinkSync(link === 'current' ? this.current : this.previous));
    } catch {
      return null;
    }
  }

  /** Points a link at a release: a new link under a temporary name, renamed over the old one. */
  point(link: 'current' | 'previous', version: string): void {
    const target = join('releases', versionSchema.parse(version));
    const path = link === 'current' ? this.current : this.previous;
    const tmp = `${path}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp);
    renameSync(tmp, path);
    fsyncDir(this.root);
  }

  state(): UpdateState {
    if (!existsSync(this.stateFile)) return stateSchema.parse({});
    try {
      return stateSchema.parse(JSON.parse(readFileSync(this.stateFile, 'utf8')));
    } catch (e) {
      throw new Error(`${this.stateFile} cannot be read: ${(e as Error).message}`);
    }
  }

  writeState(s: UpdateState): void {
    writeAtomically(this.stateFile, JSON.stringify(s, null, 2) + '\n');
  }

  update(change: (s: UpdateState) => UpdateState): UpdateState {
    const next = change(this.state());
    this.writeState(next);
    return next;
  }

  ensure(): void {
    mkdirSync(this.releases, { recursive: true });
  }
}

/** Writes a file so that a crash leaves the old or the new content: temp file, fsync, rename, fsync of the folder. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o640);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Where this program itself runs: the release folder and the A/B root when it was started from
 * `<root>/releases/<version>/dist/...` (directly or through the `current` link, which Node resolves
 * to the real path), or null when it runs from a checkout (development, the simulator's own tree).
 */
export function runningRelease(): { root: string; version: string } | null {
  const here = fileURLToPath(import.meta.url);
  // dist/src/update/layout.js → the release folder is three levels above dist/src/update.
  const releaseDir = dirname(dirname(dirname(dirname(here))));
  const releases = dirname(releaseDir);
  if (basename(releases) !== 'releases') return null;
  return { root: dirname(releases), version: basename(releaseDir) };
}
