/**
 * The operator's release keys: one ed25519 key per TUF role (root, targets, snapshot, timestamp),
 * kept on the release machine, never on a kiosk, and the root metadata that names their public
 * halves. The kiosk is given only root.json (`update.trustedRoot`).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Key, Metadata, Root, Signature } from '@tufjs/models';

/** The TUF specification version the metadata follows (tuf-js 4 reads 1.x). */
export const SPEC_VERSION = '1.0.31';

export const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleKey {
  key: Key;
  private: KeyObject;
}

/** TUF's date form: whole seconds, UTC. */
export function tufDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function daysFromNow(days: number, now = new Date()): string {
  return tufDate(new Date(now.getTime() + days * 86_400_000));
}

function publicKey(priv: KeyObject): Key {
  const raw = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const body = { keytype: 'ed25519', keyval: { public: raw }, scheme: 'ed25519' };
  const keyID = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  return new Key({ keyID, keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: raw } });
}

export function loadKeys(dir: string): Record<Role, RoleKey> {
  const out = {} as Record<Role, RoleKey>;
  for (const role of ROLES) {
    const file = join(dir, `${role}.key.pem`);
    if (!existsSync(file)) throw new Error(`${file} is missing: make the keys with 'kiosk-sim release keys --dir ${dir}'`);
    const priv = createPrivateKey(readFileSync(file));
    out[role] = { key: publicKey(priv), private: priv };
  }
  return out;
}

/** Signs metadata with a role's key (ed25519 over TUF's canonical JSON, which the models make). */
export function signWith(md: { sign(signer: (data: Buffer) => Signature): void }, k: RoleKey): void {
  md.sign((data) => new Signature({ keyID: k.key.keyID, sig: sign(null, data, k.private).toString('hex') }));
}

/** New keys and their root metadata (version 1). Refuses to overwrite keys already there. */
export function makeKeys(dir: string, opts: { rootExpiresDays?: number } = {}): { root: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const role of ROLES) {
    const file = join(dir, `${role}.key.pem`);
    if (existsSync(file)) throw new Error(`${file} exists: keys are never overwritten`);
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  const keys = loadKeys(dir);
  const root = new Root({ specVersion: SPEC_VERSION, version: 1, expires: daysFromNow(opts.rootExpiresDays ?? 365), consistentSnapshot: false });
  for (const role of ROLES) root.addKey(keys[role].key, role);
  const md = new Metadata(root);
  signWith(md, keys.root);
  const path = join(dir, 'root.json');
  writeFileSync(path, JSON.stringify(md.toJSON(), null, 2) + '\n');
  return { root: path };
}
