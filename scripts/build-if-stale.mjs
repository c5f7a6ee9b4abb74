#!/usr/bin/env node
// `npm start`'s build: skipped when dist/ is newer than every source it is built from, else the
// whole `npm run build`, saying what it does and how long it took. A stamp in dist/ records the
// time and the list of sources, so a deleted or renamed file also counts as a change.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stampPath = join(root, 'dist', '.build-stamp');
const FOLDERS = ['src', 'drivers', 'states', 'hw-sim', 'bench'];
const FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts/ui-static.mjs'];
const SOURCE = /\.(ts|mts|json|html|css|svg|png)$/;

function walk(dir, into) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, into);
    else if (SOURCE.test(entry.name)) into.push(path);
  }
  return into;
}

const sources = [...FOLDERS.flatMap((f) => walk(join(root, f), [])), ...FILES.map((f) => join(root, f)).filter(existsSync)].sort();
const listHash = createHash('sha256').update(sources.map((s) => relative(root, s)).join('\n')).digest('hex');

function staleReason() {
  if (!existsSync(stampPath)) return 'no earlier build';
  const stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
  if (stamp.listHash !== listHash) return 'source files were added or removed';
  const builtAt = statSync(stampPath).mtimeMs;
  const changed = sources.filter((s) => statSync(s).mtimeMs > builtAt);
  if (changed.length > 0) return `${changed.length} source file(s) changed, e.g. ${relative(root, changed[0])}`;
  return undefined;
}

const reason = staleReason();
if (!reason) {
  const when = new Date(statSync(stampPath).mtimeMs).toLocaleTimeString();
  console.log(`build: dist/ is up to date with the sources (built at ${when}); not rebuilding`);
  process.exit(0);
}
console.log(`build: ${reason}; compiling the TypeScript (npm run build)...`);
const started = Date.now();
const run = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
if (run.status !== 0) {
  console.error('build: failed (see above); nothing was started');
  process.exit(run.status ?? 1);
}
writeFileSync(stampPath, JSON.stringify({ listHash }) + '\n');
console.log(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
