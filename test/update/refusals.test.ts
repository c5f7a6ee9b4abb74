import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { makeKeys } from '../../hw-sim/release/keys.js';
import { packRelease } from '../../hw-sim/release/pack.js';
import { publishRelease, type Published } from '../../hw-sim/release/publish.js';
import { devHostTls } from '../../hw-sim/host/dev-tls.js';
import { startManagementServer } from '../../hw-sim/host/management.js';
import { repoRoot } from '../../hw-sim/stack.js';
import { fetchRelease, unpackRelease } from '../../src/update/bundle.js';
import { LinkFetcher } from '../../src/update/fetcher.js';
import { ReleaseLayout } from '../../src/update/layout.js';
import { loadTlsMaterial } from '../../src/tls/material.js';

// Issue 19, items 1 and 5: a bundle with a bad signature, a changed byte or the wrong architecture,
// and TUF's replayed (rollback) and expired (freeze) metadata, are refused with a clear error
// before anything is unpacked, and nothing changes on the kiosk. Over the reference management
// server's real mutual TLS; the kiosk's side is the product's own fetch and unpack.

const dir = mkdtempSync(join(tmpdir(), 'kiosk-update-refuse-'));
const served = join(dir, 'served');
const { tls, files } = await devHostTls(join(dir, 'pki'), 'SIM-0001');
const server = await startManagementServer({ port: 0, dbPath: join(dir, 'host.db'), tls, updatesDir: served });
t.teardown(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
const kioskTls = loadTlsMaterial({ ca: files.ca, cert: files.clientCert, key: files.clientKey });

const keys = join(dir, 'keys');
const otherKeys = join(dir, 'other-keys');
makeKeys(keys);
makeKeys(otherKeys);
const bundle = join(dir, 'b.tar');
const armBundle = join(dir, 'b-arm.tar');
const wrongArch = process.arch === 'arm64' ? 'x64' : 'arm64';
// Only package.json and a small part of dist/: these cases are refused before the content matters.
await packRelease({ from: repoRoot(), version: '9.0.1', out: bundle, include: ['dist/states', 'package.json'], deps: false });
await packRelease({ from: repoRoot(), version: '9.0.1', out: armBundle, include: ['dist/states', 'package.json'], deps: false, arch: wrongArch });

async function repo(name: string, keysDir: string, bundles: string[], opts: { timestampDays?: number } = {}): Promise<{ dir: string; published: Published[] }> {
  const r = join(dir, name);
  return { dir: r, published: await publishRelease({ keysDir, repo: r, bundles, ...opts }) };
}

function serve(repoDir: string): void {
  if (existsSync(served)) unlinkSync(served);
  symlinkSync(repoDir, served);
}

const layout = new ReleaseLayout(join(dir, 'opt'));
layout.ensure();
const kioskState = join(dir, 'kiosk');
mkdirSync(kioskState);

function snapshotOfKiosk(): string[] {
  const list = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String).sort() : []);
  return [...list(layout.root).map((p) => `opt/${p}`), ...list(join(kioskState, 'downloads')).map((p) => `downloads/${p}`)];
}

async function attempt(p: Published, metadataDir = join(kioskState, `md-${Math.random()}`)) {
  const fetcher = new LinkFetcher({ tls: kioskTls, serverName: 'localhost', partDir: join(kioskState, 'parts'), timeoutMs: 5000, retries: 1 });
  const got = await fetchRelease({
    metadataUrl: `${server.url}/v1/updates/metadata/`,
    bundleUrl: `${server.url}/v1/updates/${p.url}`,
    version: p.version,
    digest: p.sha256,
    trustedRoot: join(keys, 'root.json'),
    metadataDir,
    downloadDir: join(kioskState, 'downloads'),
    journalSchema: 10,
    fetcher,
  });
  return got;
}

t.test('a good bundle passes (the refusals below are not the set-up failing)', async (t) => {
  const good = await repo('good', keys, [bundle]);
  serve(good.dir);
  const got = await attempt(good.published[0]!);
  t.equal(got.facts.version, '9.0.1');
  t.ok(readFileSync(got.file).length > 0);
  rmSync(got.file);
});

async function refused(t: Tap.Test, p: Published, pattern: RegExp, metadataDir?: string): Promise<void> {
  const before = snapshotOfKiosk();
  await t.rejects(attempt(p, metadataDir), { name: 'UpdateRefused', message: pattern });
  t.same(snapshotOfKiosk(), before, 'nothing changed on the kiosk');
}

t.test('signed with keys the kiosk does not trust: refused', async (t) => {
  const forged = await repo('forged', otherKeys, [bundle]);
  serve(forged.dir);
  await refused(t, forged.published[0]!, /metadata is refused/);
});

t.test('one byte of the bundle changed after signing: refused', async (t) => {
  const changed = await repo('changed', keys, [bundle]);
  const p = changed.published[0]!;
  const file = join(changed.dir, p.url);
  const bytes = readFileSync(file);
  bytes[bytes.length - 600]! ^= 0x01;
  writeFileSync(file, bytes);
  serve(changed.dir);
  await refused(t, p, /not the signed one/);
});

t.test('built for another architecture: refused before it is downloaded', async (t) => {
  const arm = await repo('arm', keys, [armBundle]);
  serve(arm.dir);
  const p = arm.published[0]!;
  await refused(t, p, new RegExp(`built for ${wrongArch}, this kiosk is ${process.arch}`));
  t.notOk(server.updates!.requests.some((r) => r.path === p.url), 'the bundle was never requested');
});

t.test('the digest in the command is not the signed one: refused', async (t) => {
  const good = await repo('good2', keys, [bundle]);
  serve(good.dir);
  await refused(t, { ...good.published[0]!, sha256: 'a'.repeat(64) }, /not the signed one/);
});

t.test('TUF: replayed older metadata (rollback) and expired metadata (freeze) are refused', async (t) => {
  const r = join(dir, 'moving');
  await publishRelease({ keysDir: keys, repo: r, bundles: [bundle] });
  const old = join(dir, 'moving-old');
  cpSync(r, old, { recursive: true });
  const [p] = await publishRelease({ keysDir: keys, repo: r, bundles: [bundle] });
  serve(r);
  const md = join(kioskState, 'md-kept');
  const got = await attempt(p!, md);
  rmSync(got.file);
  serve(old);
  await refused(t, p!, /metadata is refused/, md);
  const frozen = await repo('frozen', keys, [bundle], { timestampDays: -1 });
  serve(frozen.dir);
  await refused(t, frozen.published[0]!, /metadata is refused.*[Ee]xpired/);
});

t.test('a bundle whose files differ from its manifest is not unpacked', async (t) => {
  const facts = { name: 'kiosk' as const, version: '9.0.1', arch: process.arch, node: process.versions.node.split('.')[0]!, minSchema: 0, targetSchema: 10, additiveFrom: 7 };
  await t.rejects(unpackRelease(armBundle, facts, layout), /manifest says arch/);
  t.same(readdirSync(layout.releases), [], 'no release folder, no temporary folder');
});
