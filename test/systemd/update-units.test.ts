import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ReleaseLayout } from '../../src/update/layout.js';

// Issue 19, item 3 and 6: the board's A/B units. kiosk.service runs the release `current` names,
// counts starts of a release on trial before each start (ExecStartPre) and hands a crash loop to
// kiosk-rollback.service (OnFailure=); a timer catches a release that runs but never passes its
// health check. All of them call the product's check through systemd/rollback-check, which runs
// it from the release known to work; that script is run here on a real layout.

const dir = join(process.cwd(), 'systemd');
const read = (name: string) => readFileSync(join(dir, name), 'utf8');
const lines = (text: string, key: string) => text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

t.test('kiosk.service: the current release, the start count, the rollback on failure', async (t) => {
  const s = read('kiosk.service');
  t.match(lines(s, 'ExecStart')[0], /\/opt\/kiosk\/current\/dist\/src\/cli\.js run /);
  t.same(lines(s, 'ExecStartPre'), ['-/opt/kiosk/bin/rollback-check --start']);
  t.same(lines(s, 'OnFailure'), ['kiosk-rollback.service']);
  t.ok(lines(s, 'StartLimitBurst').length === 1 && lines(s, 'WatchdogSec').length === 1, 'restart counting and the watchdog stay');
  t.match(lines(s, 'ReadWritePaths')[0], /\/opt\/kiosk(\s|$)/, 'the update can write its releases and links');
});

t.test('the rollback unit and the deadline timer run the same check', async (t) => {
  t.match(lines(read('kiosk-rollback.service'), 'ExecStart')[0], /^\/opt\/kiosk\/bin\/rollback-check --failed$/);
  t.match(lines(read('kiosk-update-check.service'), 'ExecStart')[0], /rollback-check; \[ \$\$\? -eq 3 \] && \/bin\/systemctl --no-block restart kiosk\.service/);
  t.same(lines(read('kiosk-update-check.timer'), 'OnUnitActiveSec'), ['30s']);
});

t.test('systemd/rollback-check runs the product check from the previous release and rolls back', { skip: spawnSync('/usr/bin/node', ['--version']).status === 0 ? false : 'no /usr/bin/node' }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kiosk-units-ab-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const layout = new ReleaseLayout(root);
  for (const v of ['1', '2']) {
    mkdirSync(join(layout.releases, v), { recursive: true });
    // This tree's build stands for each release's code.
    symlinkSync(join(process.cwd(), 'dist'), join(layout.releases, v, 'dist'));
  }
  symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(layout.releases, '1', 'package.json'), readFileSync('package.json'));
  writeFileSync(join(layout.releases, '2', 'package.json'), readFileSync('package.json'));
  layout.point('previous', '1');
  layout.point('current', '2');
  const now = Date.now();
  layout.writeState({ trial: { version: '2', from: '1', switchedAt: new Date(now).toISOString(), deadline: new Date(now + 60_000).toISOString(), starts: 0, maxStarts: 1, command: null }, rolledBack: null, good: null });
  const run = (...args: string[]) => spawnSync('sh', [join(dir, 'rollback-check'), ...args], { encoding: 'utf8', env: { ...process.env, KIOSK_ROOT: root } });
  const first = run('--start');
  t.equal(first.status, 0, first.stderr);
  t.match(JSON.parse(first.stdout), { action: 'counted' });
  const second = run('--start');
  t.equal(second.status, 3, 'exit 3: rolled back');
  t.equal(layout.linked('current'), '1');
});
