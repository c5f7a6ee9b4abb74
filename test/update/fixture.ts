/**
 * What the update tests share: release keys, bundles A and B packed from this tree's dist/ with
 * another version string (and B's broken variants), an update repository, an A/B root with A
 * installed, the simulated world around one kiosk and the systemd stand-in that runs it.
 *
 * The test bundles carry dist/ and package.json only, not node_modules: 277 MB of dependencies
 * per bundle would make each test take minutes. The A/B root gets a node_modules link beside
 * releases/, where Node finds them from any release (BOARD bundles carry their own; see
 * docs/updates.md). Everything else, the signing, the TUF metadata, the download, the digests, the
 * unpacking and the switch, is what a board does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokenTree, type Breakage } from '../../hw-sim/release/breakage.js';
import { makeKeys } from '../../hw-sim/release/keys.js';
import { installFirst } from '../../hw-sim/release/install.js';
import { packRelease } from '../../hw-sim/release/pack.js';
import { publishRelease, type Published } from '../../hw-sim/release/publish.js';
import { repoRoot, SimStack } from '../../hw-sim/stack.js';
import { Supervisor } from '../../hw-sim/update/supervisor.js';

export const A = '9.0.0';
export const B = '9.0.1';
export const TERMINAL = 'SIM-0001';

export type { Breakage } from '../../hw-sim/release/breakage.js';

export class UpdateWorld {
  readonly dir = mkdtempSync(join(tmpdir(), 'kiosk-update-'));
  readonly keys = join(this.dir, 'keys');
  readonly repo = join(this.dir, 'repo');
  readonly root = join(this.dir, 'opt');
  stack!: SimStack;
  supervisor!: Supervisor;

  /** Packs a release from this tree (optionally broken) into a bundle file. */
  async pack(version: string, opts: { breakage?: Breakage; arch?: string } = {}): Promise<string> {
    const from = opts.breakage ? brokenTree(repoRoot(), join(this.dir, `tree-${version}`), opts.breakage) : repoRoot();
    const out = join(this.dir, `kiosk-${version}${opts.breakage ? `-${opts.breakage}` : ''}${opts.arch ? `-${opts.arch}` : ''}.tar`);
    await packRelease({ from, version, out, include: ['dist', 'package.json'], deps: false, ...(opts.arch ? { arch: opts.arch } : {}) });
    return out;
  }

  async publish(bundle: string): Promise<Published> {
    return (await publishRelease({ keysDir: this.keys, repo: this.repo, bundles: [bundle] }))[0]!;
  }

  /** Keys, A installed, the simulated world started (without the kiosk). */
  async setUp(
    update: { healthMs?: number; maxStarts?: number; bytesPerSec?: number } = {},
    timeouts: Record<string, number> = {},
  ): Promise<void> {
    makeKeys(this.keys);
    await installFirst(this.root, await this.pack(A), { nodeModules: join(repoRoot(), 'node_modules') });
    this.stack = new SimStack({
      dir: join(this.dir, 'sim'),
      updatesDir: this.repo,
      config: { update: { trustedRoot: join(this.keys, 'root.json'), healthMs: 20_000, maxStarts: 3, ...update }, ...(Object.keys(timeouts).length > 0 ? { timeouts } : {}) },
    });
    await this.stack.start();
  }

  startKiosk(opts: { firstEnv?: Record<string, string> } = {}): Supervisor {
    this.supervisor = new Supervisor({
      root: this.root,
      entry: 'dist/hw-sim/runtime-entry.js',
      args: ['--config', this.stack.configPath],
      restartMs: 300,
      // systemd's StartLimitBurst=10 in 300 s, scaled: a crash loop trips it, three updates in a row do not.
      burst: 10,
      intervalMs: 60_000,
      checkMs: 3000,
      ...(opts.firstEnv ? { firstEnv: opts.firstEnv } : {}),
    });
    if (process.env.UPDATE_TEST_DEBUG) {
      this.supervisor.on('log', (e: Record<string, unknown>) => {
        if (Number(e.level ?? 30) >= 30) console.error(`[${String(e.release)}] ${String(e.msg)} ${e.err ? String(e.err) : ''}`);
      });
      this.supervisor.on('check', (c) => console.error('check', JSON.stringify(c)));
      this.supervisor.on('exit', (x) => console.error('exit', JSON.stringify(x)));
    }
    this.supervisor.start();
    return this.supervisor;
  }

  /** Resolves when the given release logs the terminal serving (in service, or degraded when a loaded machine slows the emulators). */
  inService(version: string, timeoutMs = 180_000): Promise<unknown> {
    return this.supervisor.waitFor<Record<string, unknown>>('log', (e) => e.release === version && (e.msg === 'terminal in service' || e.msg === 'terminal degraded'), timeoutMs);
  }

  /** Queues the `update` command for a published bundle on the management server. */
  requestUpdate(p: Published, version = p.version): string {
    const m = this.stack.host.management!;
    return m.queueCommand({ terminalId: TERMINAL, type: 'update', args: { version, url: `${m.url}/v1/updates/${p.url}`, digest: p.sha256 }, by: 'test' }).id;
  }

  command(id: string) {
    return this.stack.host.management!.records().commands.find((c) => c.id === id);
  }

  async tearDown(): Promise<void> {
    await this.supervisor?.stop().catch(() => undefined);
    await this.stack?.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
