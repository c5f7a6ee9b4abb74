import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ReleaseLayout, type Trial } from '../../src/update/layout.js';
import { rollbackCheck } from '../../src/update/rollback.js';

// Issue 19, item 3: the product's rollback check the systemd units run, on a real folder: counting
// the starts of a release on trial, rolling back on the start limit, on a failure and past the
// deadline, a trial whose switch never happened, and a rollback cut short by a kill.

function world(): ReleaseLayout {
  const l = new ReleaseLayout(mkdtempSync(join(tmpdir(), 'kiosk-rbc-')));
  t.teardown(() => rmSync(l.root, { recursive: true, force: true }));
  for (const v of ['1', '2']) mkdirSync(join(l.releases, v), { recursive: true });
  l.point('previous', '1');
  l.point('current', '2');
  return l;
}

const trial = (over: Partial<Trial> = {}): Trial => ({ version: '2', from: '1', switchedAt: new Date().toISOString(), deadline: new Date(Date.now() + 60_000).toISOString(), starts: 0, maxStarts: 3, command: 'c1', ...over });

t.test('starts are counted; the one past the limit rolls back', async (t) => {
  const l = world();
  l.writeState({ trial: trial(), rolledBack: null, good: null });
  for (let i = 1; i <= 3; i++) t.equal(rollbackCheck(l, { start: true }).action, 'counted');
  const out = rollbackCheck(l, { start: true });
  t.equal(out.action, 'rolled-back');
  t.equal(l.linked('current'), '1');
  t.match(l.state().rolledBack, { version: '2', backTo: '1', command: 'c1' });
  t.equal(l.state().trial, null);
  t.equal(rollbackCheck(l, { start: true }).action, 'none', 'A is left alone afterwards');
});

t.test('OnFailure (--failed) and the deadline roll back; a good release is never touched', async (t) => {
  const l = world();
  l.writeState({ trial: trial(), rolledBack: null, good: null });
  t.equal(rollbackCheck(l).action, 'none', 'the timer within the deadline does nothing');
  t.equal(rollbackCheck(l, { failed: true }).action, 'rolled-back');
  const l2 = world();
  l2.writeState({ trial: trial({ deadline: new Date(Date.now() - 1).toISOString() }), rolledBack: null, good: null });
  t.equal(rollbackCheck(l2).action, 'rolled-back');
  const l3 = world();
  l3.writeState({ trial: null, rolledBack: null, good: '2' });
  t.equal(rollbackCheck(l3, { failed: true }).action, 'none');
  t.equal(l3.linked('current'), '2');
});

t.test('a trial written but never switched to is cleared, the old release stays', async (t) => {
  const l = world();
  l.point('current', '1');
  l.writeState({ trial: trial(), rolledBack: null, good: null });
  t.equal(rollbackCheck(l, { start: true }).action, 'cleared');
  t.equal(l.linked('current'), '1');
  t.equal(l.state().rolledBack, null);
});

t.test('a rollback killed after the link was pointed back is finished by the next check', async (t) => {
  const l = world();
  // What a kill right after `point('current', from)` leaves.
  l.writeState({ trial: trial({ rollingBack: 'crash loop' }), rolledBack: null, good: null });
  l.point('current', '1');
  const out = rollbackCheck(l, { start: true });
  t.equal(out.action, 'rolled-back');
  t.match(l.state().rolledBack, { version: '2', reason: 'crash loop' });
});

t.test('a rollback killed before the link moved is done again', async (t) => {
  const l = world();
  l.writeState({ trial: trial({ rollingBack: 'crash loop', starts: 0 }), rolledBack: null, good: null });
  t.equal(rollbackCheck(l, { start: true }).action, 'rolled-back');
  t.equal(l.linked('current'), '1');
});
