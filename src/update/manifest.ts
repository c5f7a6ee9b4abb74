/**
 * What a release bundle says about itself. The same facts travel twice: in the TUF targets
 * metadata (`custom`, signed by the targets role, read before anything is downloaded) and as
 * `manifest.json`, the bundle's first entry, which adds the sha256 of every file (checked after
 * unpacking, before the release can be switched to).
 */
import { z } from 'zod';
import { versionSchema } from './layout.js';

export const MANIFEST_NAME = 'manifest.json';

export const releaseFacts = z.object({
  name: z.literal('kiosk'),
  version: versionSchema,
  /** process.arch of the board it is built for: its native modules are compiled for it. */
  arch: z.string().min(1),
  /** The Node.js major version its native modules were built against. */
  node: z.string().regex(/^\d+$/),
  /** The oldest journal schema it can migrate from. */
  minSchema: z.number().int().nonnegative(),
  /** The journal schema it migrates to at its first start. */
  targetSchema: z.number().int().positive(),
  /**
   * The lowest journal schema from which every migration up to targetSchema is additive (new
   * tables, new columns with defaults, recorded in schema_migrations): a release on a journal at
   * least that new still runs after this one migrated it, which a rollback needs.
   */
  additiveFrom: z.number().int().nonnegative(),
});
export type ReleaseFacts = z.infer<typeof releaseFacts>;

export const manifestSchema = releaseFacts.extend({
  /** Every file of the bundle but the manifest, by its path inside the bundle: its sha256 in hex. */
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** The TUF target name of a release: one file per version and architecture. */
export function targetName(version: string, arch: string, node: string): string {
  return `kiosk-${version}-${arch}-node${node}.tar`;
}

export function thisPlatform(): { arch: string; node: string } {
  return { arch: process.arch, node: process.versions.node.split('.')[0]! };
}

/** Why this kiosk cannot take a release, or null when it can. */
export function platformMismatch(facts: ReleaseFacts, journalSchema: number): string | null {
  const here = thisPlatform();
  if (facts.arch !== here.arch) return `the bundle is built for ${facts.arch}, this kiosk is ${here.arch}`;
  if (facts.node !== here.node) return `the bundle is built for Node.js ${facts.node}, this kiosk runs Node.js ${here.node}`;
  if (journalSchema < facts.minSchema) return `the bundle needs a journal of schema ${facts.minSchema} or newer, this journal is at ${journalSchema}`;
  if (facts.targetSchema > journalSchema && journalSchema < facts.additiveFrom) {
    return `the bundle migrates the journal from ${journalSchema} to ${facts.targetSchema} through migrations not declared additive (additive only from ${facts.additiveFrom}): the running release could not open the journal after a rollback, so it is not installed as an A/B update`;
  }
  return null;
}
