/**
 * `kiosk-sim release publish`: adds bundles to an update repository (a folder the reference
 * management server serves under /v1/updates/): the bundle into targets/, and new TUF metadata,
 * each role with its version raised and signed with its key: targets (the bundle's length, sha256
 * and its release facts as `custom`), snapshot, timestamp. The first publish copies root.json in.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetaFile, Metadata, MetadataKind, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { readManifest, sha256File } from '../../src/update/bundle.js';
import { targetName } from '../../src/update/manifest.js';
import { daysFromNow, loadKeys, signWith, SPEC_VERSION } from './keys.js';

export interface PublishOptions {
  keysDir: string;
  repo: string;
  bundles: readonly string[];
  /** How long the targets and snapshot stay valid (days). */
  expiresDays?: number;
  /** How long the timestamp stays valid: a kiosk refuses metadata older than this (freeze attacks). */
  timestampDays?: number;
}

export interface Published {
  name: string;
  url: string;
  sha256: string;
  length: number;
  version: string;
}

type Json = Record<string, unknown>;

export async function publishRelease(o: PublishOptions): Promise<Published[]> {
  const keys = loadKeys(o.keysDir);
  const meta = join(o.repo, 'metadata');
  const targetsDir = join(o.repo, 'targets');
  mkdirSync(meta, { recursive: true });
  mkdirSync(targetsDir, { recursive: true });
  if (!existsSync(join(meta, 'root.json'))) {
    copyFileSync(join(o.keysDir, 'root.json'), join(meta, 'root.json'));
    copyFileSync(join(o.keysDir, 'root.json'), join(meta, '1.root.json'));
  }
  const old = (role: string): Json | undefined => (existsSync(join(meta, `${role}.json`)) ? (JSON.parse(readFileSync(join(meta, `${role}.json`), 'utf8')) as Json) : undefined);
  const oldTargets = old('targets');
  const targetsMd = oldTargets ? Metadata.fromJSON(MetadataKind.Targets, oldTargets as never) : undefined;
  const entries: Record<string, TargetFile> = { ...(targetsMd?.signed.targets ?? {}) };
  const out: Published[] = [];
  for (const bundle of o.bundles) {
    const m = await readManifest(bundle);
    const name = targetName(m.version, m.arch, m.node);
    const sha256 = await sha256File(bundle);
    const length = statSync(bundle).size;
    copyFileSync(bundle, join(targetsDir, name));
    const { files: _files, ...facts } = m;
    entries[name] = new TargetFile({ path: name, length, hashes: { sha256 }, unrecognizedFields: { custom: facts } });
    out.push({ name, url: `targets/${name}`, sha256, length, version: m.version });
  }
  const expires = daysFromNow(o.expiresDays ?? 30);
  const version = (role: string) => ((old(role)?.signed as { version?: number } | undefined)?.version ?? 0) + 1;

  const targets = new Metadata(new Targets({ specVersion: SPEC_VERSION, version: version('targets'), expires, targets: entries }));
  signWith(targets, keys.targets);
  const snapshot = new Metadata(new Snapshot({ specVersion: SPEC_VERSION, version: version('snapshot'), expires, meta: { 'targets.json': new MetaFile({ version: targets.signed.version }) } }));
  signWith(snapshot, keys.snapshot);
  const timestamp = new Metadata(
    new Timestamp({ specVersion: SPEC_VERSION, version: version('timestamp'), expires: daysFromNow(o.timestampDays ?? 1), snapshotMeta: new MetaFile({ version: snapshot.signed.version }) }),
  );
  signWith(timestamp, keys.timestamp);
  // Timestamp last: a kiosk reading during a publish sees the old set whole or the new set whole.
  for (const [role, md] of [['targets', targets], ['snapshot', snapshot], ['timestamp', timestamp]] as const) {
    writeFileSync(join(meta, `${role}.json.tmp`), JSON.stringify(md.toJSON(), null, 2) + '\n');
    renameSync(join(meta, `${role}.json.tmp`), join(meta, `${role}.json`));
  }
  return out;
}
