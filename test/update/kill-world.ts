import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { readManifest } from '../../src/update/bundle.js';
import { A, UpdateWorld } from './fixture.js';
import type { Supervisor } from '../../hw-sim/update/supervisor.js';

/**
 * What the kill-point tests share (issue 19, item 5): a kiosk run from an A/B root, in service on
 * A, and one update sent while the kiosk is SIGKILLed at some point of it. The kill points are
 * split over two test files so that each stays short and the two run side by side.
 */
export class KillWorld {
  readonly w = new UpdateWorld();
  sup!: Supervisor;
  /** The release the kiosk ran before the update under way. */
  old = A;

  constructor(private readonly t: Test) {
    t.teardown(() => this.w.tearDown());
  }

  async start(update: { bytesPerSec?: number } = {}): Promise<void> {
    await this.w.setUp({ ...update, healthMs: 90_000 });
    this.sup = this.w.startKiosk();
    await this.w.inService(A);
  }

  unpacking(): boolean {
    const releases = join(this.w.root, 'releases');
    return existsSync(releases) && readdirSync(releases).some((n) => n.startsWith('.unpacking-'));
  }

  /** Sends the update to `version`, runs `kill` while it is under way, and checks it ends on `version`, whole. */
  async updateWithKill(t: Test, version: string, kill: () => Promise<void>): Promise<void> {
    const { w, sup } = this;
    const published = await w.publish(await w.pack(version));
    const good = sup.waitFor<Record<string, unknown>>('log', (e) => e.release === version && e.msg === 'release passed its health check: marked good', 300_000);
    w.requestUpdate(published);
    await kill();
    await good;
    // Every start ran a whole release: the old one or the new one.
    t.ok(sup.started.every((v) => [A, '9.0.5', '9.0.6', '9.0.7', '9.0.8'].includes(v)));
    t.equal(readlinkSync(join(w.root, 'current')), `releases/${version}`);
    t.notOk(this.unpacking(), 'no temporary folder left');
    const m = await readManifest(join(w.repo, published.url));
    t.equal(m.version, version);
    this.old = version;
  }
}
