/**
 * Releases broken on purpose, for the update tests and the technician's demonstration: a change to
 * the compiled product code of a copy of this tree, before it is packed.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BREAKAGES = ['exits-at-start', 'never-in-service', 'fails-self-test'] as const;
export type Breakage = (typeof BREAKAGES)[number];

const BREAK: Record<Breakage, { file: string; from: string; to: string }> = {
  'exits-at-start': { file: 'dist/src/run-kiosk.js', from: 'const config = loadConfigOrExit(configPath);', to: "console.error('broken release: exits at start'); process.exit(1);" },
  'never-in-service': { file: 'dist/src/runtime/terminal-life.js', from: 'await firstLinkOutcome(business, linkTimeoutMs);', to: 'await new Promise(() => undefined);' },
  'fails-self-test': { file: 'dist/src/runtime/terminal-life.js', from: 'await firstLinkOutcome(business, linkTimeoutMs);', to: "throw new Error('broken release: the self-test fails');" },
};

/** Copies the built tree's dist/ and package.json to `to` and breaks it; returns `to`. */
export function brokenTree(from: string, to: string, how: Breakage): string {
  cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
  cpSync(join(from, 'package.json'), join(to, 'package.json'));
  const b = BREAK[how];
  const text = readFileSync(join(to, b.file), 'utf8');
  if (!text.includes(b.from)) throw new Error(`cannot break ${b.file}: its text changed`);
  writeFileSync(join(to, b.file), text.replace(b.from, b.to));
  return to;
}
