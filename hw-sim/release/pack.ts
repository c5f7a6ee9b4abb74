/**
 * `kiosk-sim release pack`: one tar file holding a built kiosk (the compiled application and its
 * production dependencies) for one architecture and Node.js version, with `manifest.json` first:
 * version, platform, journal schema range and the sha256 of every other file. It lives in the
 * simulator, beside the release keys, so that nothing of it is installed on a board.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import * as tar from 'tar';
import { migrations } from '../../src/journal/migrations.js';
import { listFiles, sha256File } from '../../src/update/bundle.js';
import { MANIFEST_NAME, thisPlatform, type Manifest } from '../../src/update/manifest.js';

/** What a board needs: the product's compiled folders, the screen, the package file and the licence. */
export const BOARD_CONTENTS = ['dist/src', 'dist/drivers', 'dist/states', 'dist/ui', 'package.json', 'LICENSE'];

export interface PackOptions {
  /** The built tree (a checkout after `npm run build`). */
  from: string;
  version: string;
  out: string;
  /** Paths under `from` to include; default BOARD_CONTENTS. */
  include?: readonly string[];
  /** Add node_modules with the production dependencies (default true; tests leave them out). */
  deps?: boolean;
  /** Default: this machine's, which is right only when packing on the board's architecture. */
  arch?: string;
  node?: string;
}

/**
 * The lowest schema from which every newer migration is additive: a kiosk whose journal is at
 * least there can be rolled back after this release migrated it.
 */
export function additiveFrom(list = migrations): number {
  return list.filter((m) => !m.additive).reduce((v, m) => Math.max(v, m.version), 0);
}

export async function packRelease(o: PackOptions): Promise<{ file: string; manifest: Manifest; bytes: number }> {
  const stage = mkdtempSync(join(tmpdir(), 'kiosk-pack-'));
  try {
    const include = [...(o.include ?? BOARD_CONTENTS)];
    for (const p of include) {
      const src = join(o.from, p);
      if (!existsSync(src)) throw new Error(`${src} is missing${p.startsWith('dist') ? ": run 'npm run build' first" : ''}`);
      cpSync(src, join(stage, p), { recursive: true, dereference: true });
    }
    if (o.deps ?? true) {
      for (const dir of productionDependencies(o.from)) cpSync(join(o.from, dir), join(stage, dir), { recursive: true, dereference: true });
      include.push('node_modules');
    }
    // The version is the bundle's own: it is what the heartbeat reports and names the release folder.
    const pkgFile = join(stage, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(pkgFile, JSON.stringify({ ...pkg, version: o.version }, null, 2) + '\n');
    const here = thisPlatform();
    const files: Record<string, string> = {};
    for (const f of listFiles(stage).sort()) files[f] = await sha256File(join(stage, f));
    const target = migrations.reduce((v, m) => Math.max(v, m.version), 0);
    const from = additiveFrom();
    const manifest: Manifest = {
      name: 'kiosk',
      version: o.version,
      arch: o.arch ?? here.arch,
      node: o.node ?? here.node,
      minSchema: 0,
      targetSchema: target,
      additiveFrom: from,
      files,
    };
    writeFileSync(join(stage, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n');
    const top = [...new Set(include.map((p) => p.split('/')[0]!))];
    await tar.c({ file: o.out, cwd: stage, portable: true, noMtime: true }, [MANIFEST_NAME, ...top]);
    return { file: o.out, manifest, bytes: statSync(o.out).size };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** node_modules/<name> of every production dependency, transitively (npm's flat layout). */
export function productionDependencies(tree: string): string[] {
  const root = resolve(tree);
  const seen = new Set<string>();
  const walk = (pkgDir: string): void => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      const dir = resolveDep(pkgDir, root, name);
      if (!dir || seen.has(dir)) continue;
      seen.add(dir);
      walk(join(root, dir));
    }
  };
  walk(root);
  return [...seen].sort();
}

/** Where Node would find `name` from `pkgDir`: its own node_modules first, then each folder up to the root. */
function resolveDep(pkgDir: string, root: string, name: string): string | undefined {
  for (let dir = pkgDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return relative(root, candidate);
    if (dir === root || dirname(dir) === dir) return undefined;
  }
}
