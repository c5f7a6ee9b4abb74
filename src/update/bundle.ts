/**
 * A release bundle from the update repository to an unpacked release folder. The TUF client
 * (tuf-js) refreshes the signed metadata first, which refuses a replayed older timestamp, snapshot
 * or targets (rollback) and expired metadata (freeze); then the target's signed facts are checked
 * against this kiosk (architecture, Node.js, journal schema) before a byte of it is downloaded, and
 * tuf-js checks its length and sha256 after. Only then is the bundle opened: its manifest must say
 * the same as the signed facts, and every file unpacked must have the digest the manifest gives.
 * tuf-js and tar are imported when an update runs: a kiosk that is never updated does not hold them.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import type { Fetcher } from './fetcher.js';
import type { ReleaseLayout } from './layout.js';
import { MANIFEST_NAME, manifestSchema, platformMismatch, releaseFacts, type Manifest, type ReleaseFacts } from './manifest.js';

/** The update is refused: nothing was installed or changed. */
export class UpdateRefused extends Error {
  override readonly name = 'UpdateRefused';
}

export interface FetchReleaseOptions {
  /** Base URL of the TUF metadata (root, timestamp, snapshot, targets). */
  metadataUrl: string;
  /** The bundle's URL: its last path segment is its TUF target name. */
  bundleUrl: string;
  version: string;
  /** sha256 the operator's command gives; it must be the signed one. */
  digest: string;
  /** The trusted root metadata shipped with the kiosk (the operator's root keys). */
  trustedRoot: string;
  /** Where the kiosk keeps the metadata it trusts between updates (never inside a release). */
  metadataDir: string;
  downloadDir: string;
  journalSchema: number;
  fetcher: Fetcher;
}

export async function fetchRelease(o: FetchReleaseOptions): Promise<{ file: string; facts: ReleaseFacts }> {
  mkdirSync(o.metadataDir, { recursive: true });
  mkdirSync(o.downloadDir, { recursive: true });
  if (!existsSync(join(o.metadataDir, 'root.json'))) copyFileSync(o.trustedRoot, join(o.metadataDir, 'root.json'));
  const url = new URL(o.bundleUrl);
  const name = posix.basename(url.pathname);
  const { Updater } = await import('tuf-js');
  const updater = new Updater({
    metadataDir: o.metadataDir,
    metadataBaseUrl: o.metadataUrl,
    targetBaseUrl: new URL('.', url).toString(),
    targetDir: o.downloadDir,
    fetcher: o.fetcher,
  });
  try {
    await updater.refresh();
  } catch (e) {
    throw new UpdateRefused(`the update metadata is refused (${(e as Error).constructor.name}: ${(e as Error).message})`);
  }
  const info = await updater.getTargetInfo(name);
  if (!info) throw new UpdateRefused(`${name} is not a target the release key signed`);
  const signed = info.hashes.sha256;
  if (signed !== o.digest) throw new UpdateRefused(`the command's digest ${o.digest} is not the signed one (${signed ?? 'none'})`);
  const facts = releaseFacts.safeParse(info.custom);
  if (!facts.success) throw new UpdateRefused(`${name}: its signed description is not a kiosk release`);
  if (facts.data.version !== o.version) throw new UpdateRefused(`${name} is version ${facts.data.version}, the command asks for ${o.version}`);
  const mismatch = platformMismatch(facts.data, o.journalSchema);
  if (mismatch) throw new UpdateRefused(mismatch);
  try {
    const file = await updater.downloadTarget(info, join(o.downloadDir, name));
    return { file, facts: facts.data };
  } catch (e) {
    // tuf-js's error classes do not set their name; their constructors carry it.
    const kind = (e as Error).constructor.name;
    if (kind === 'LengthOrHashMismatchError' || kind === 'DownloadLengthMismatchError') {
      throw new UpdateRefused(`${name}: the downloaded file is not the signed one (${(e as Error).message})`);
    }
    throw e;
  }
}

/** Reads the manifest out of a bundle without unpacking anything. */
export async function readManifest(file: string): Promise<Manifest> {
  const tar = await import('tar');
  let text: string | undefined;
  await tar.t({
    file,
    filter: (p) => p === MANIFEST_NAME,
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => (text = Buffer.concat(chunks).toString('utf8')));
    },
  });
  if (text === undefined) throw new UpdateRefused(`the bundle has no ${MANIFEST_NAME}`);
  const m = manifestSchema.safeParse(JSON.parse(text));
  if (!m.success) throw new UpdateRefused(`the bundle's ${MANIFEST_NAME} is not valid`);
  return m.data;
}

/**
 * Unpacks a verified bundle into `releases/<version>`: into a temporary folder first, every file's
 * digest checked, then renamed into place, so a kill leaves either no release folder or a whole one.
 */
export async function unpackRelease(file: string, facts: ReleaseFacts, layout: ReleaseLayout): Promise<string> {
  const manifest = await readManifest(file);
  for (const k of ['version', 'arch', 'node', 'minSchema', 'targetSchema', 'additiveFrom'] as const) {
    if (manifest[k] !== facts[k]) throw new UpdateRefused(`the bundle's manifest says ${k} ${String(manifest[k])}, its signed description ${String(facts[k])}`);
  }
  layout.ensure();
  for (const stale of readdirSync(layout.releases).filter((n) => n.startsWith('.unpacking-'))) rmSync(join(layout.releases, stale), { recursive: true, force: true });
  const tar = await import('tar');
  const tmp = join(layout.releases, `.unpacking-${facts.version}-${process.pid}`);
  mkdirSync(tmp);
  try {
    await tar.x({
      file,
      cwd: tmp,
      // Files and folders only: a link could point outside the release.
      filter: (_p, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory'),
      strict: true,
    });
    await checkFiles(tmp, manifest);
    const dest = layout.releaseDir(facts.version);
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    return dest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function checkFiles(dir: string, manifest: Manifest): Promise<void> {
  const found = listFiles(dir).filter((p) => p !== MANIFEST_NAME);
  const listed = Object.keys(manifest.files);
  const extra = found.filter((p) => !(p in manifest.files));
  const missing = listed.filter((p) => !found.includes(p));
  if (extra.length || missing.length) throw new UpdateRefused(`the bundle's files differ from its manifest (extra: ${extra.slice(0, 3).join(', ') || 'none'}; missing: ${missing.slice(0, 3).join(', ') || 'none'})`);
  for (const p of listed) {
    const digest = await sha256File(join(dir, p));
    if (digest !== manifest.files[p]) throw new UpdateRefused(`${p}: its digest is not the manifest's`);
  }
}

export function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, base));
    else if (e.isFile()) out.push(relative(base, p).split('\\').join('/'));
  }
  return out;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}
