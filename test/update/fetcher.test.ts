import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { devHostTls } from '../../hw-sim/host/dev-tls.js';
import { startManagementServer } from '../../hw-sim/host/management.js';
import { LinkFetcher } from '../../src/update/fetcher.js';
import { loadTlsMaterial } from '../../src/tls/material.js';

// Issue 19, item 4: the bundle download over the management link's mutual TLS, against the
// reference server's update files: a connection cut in the middle is resumed with an HTTP Range
// request (the bytes already there are kept), and the rate cap holds the download back.

const dir = mkdtempSync(join(tmpdir(), 'kiosk-fetch-'));
const repo = join(dir, 'repo');
mkdirSync(join(repo, 'targets'), { recursive: true });
const body = randomBytes(600_000);
writeFileSync(join(repo, 'targets', 'b.tar'), body);
const { tls, files } = await devHostTls(join(dir, 'pki'), 'SIM-0001');
const server = await startManagementServer({ port: 0, dbPath: join(dir, 'host.db'), tls, updatesDir: repo });
t.teardown(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
const kioskTls = loadTlsMaterial({ ca: files.ca, cert: files.clientCert, key: files.clientKey });
const url = `${server.url}/v1/updates/targets/b.tar`;

function fetcher(over: Partial<ConstructorParameters<typeof LinkFetcher>[0]> = {}): LinkFetcher {
  return new LinkFetcher({ tls: kioskTls, serverName: 'localhost', partDir: join(dir, 'parts'), timeoutMs: 5000, retries: 3, ...over });
}

t.test('a connection cut after 200 kB: the download resumes from there with Range', async (t) => {
  server.updates!.setFaults({ dropAfterBytes: 200_000 });
  server.updates!.requests.length = 0;
  const got = await fetcher().downloadFile(url, body.length, async (file) => readFileSync(file));
  t.ok(got.equals(body), 'the whole file, byte for byte');
  const reqs = server.updates!.requests;
  t.equal(reqs.length, 2);
  t.equal(reqs[0]!.range, null);
  t.match(reqs[1]!.range, /^bytes=\d+-$/);
  t.ok(Number(/\d+/.exec(reqs[1]!.range!)![0]) >= 100_000, `resumed from ${reqs[1]!.range}`);
});

t.test('a part file left by a killed kiosk is continued, not restarted', async (t) => {
  const f = fetcher();
  writeFileSync(f.partFile(url), body.subarray(0, 450_000));
  server.updates!.requests.length = 0;
  const got = await f.downloadFile(url, body.length, async (file) => readFileSync(file));
  t.ok(got.equals(body));
  t.same(server.updates!.requests.map((r) => r.range), ['bytes=450000-']);
});

t.test('more bytes than the signed length: refused', async (t) => {
  await t.rejects(fetcher().downloadFile(url, 1000, async () => 'never'), /longer than the 1000 bytes/);
});

t.test('the rate cap holds the download back', async (t) => {
  const started = Date.now();
  await fetcher({ bytesPerSec: 300_000 }).downloadFile(url, body.length, async () => undefined);
  // 600 kB at 300 kB/s: at least about two seconds; uncapped it takes a few milliseconds here.
  t.ok(Date.now() - started >= 1800, `took ${Date.now() - started} ms`);
});
