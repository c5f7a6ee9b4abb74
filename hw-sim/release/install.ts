/**
 * The first release on an empty A/B root, as systemd/install.sh lays it out on a board: the bundle
 * unpacked (and checked against its manifest) into releases/<version>, `current` pointing at it.
 * Later releases arrive through the `update` remote command.
 */
import { symlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, unpackRelease } from '../../src/update/bundle.js';
import { ReleaseLayout } from '../../src/update/layout.js';

export async function installFirst(root: string, bundle: string, opts: { nodeModules?: string } = {}): Promise<string> {
  const layout = new ReleaseLayout(root);
  layout.ensure();
  const { files: _files, ...facts } = await readManifest(bundle);
  await unpackRelease(bundle, facts, layout);
  layout.point('current', facts.version);
  // A bundle packed without its dependencies finds them here, above every release (tests only).
  if (opts.nodeModules && !existsSync(join(root, 'node_modules'))) symlinkSync(opts.nodeModules, join(root, 'node_modules'));
  return facts.version;
}
