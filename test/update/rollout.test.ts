import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ManagementStore } from '../../hw-sim/host/management-store.js';
import { Rollout, type RolloutPlan } from '../../hw-sim/host/rollout.js';

// Issue 19, items 4 and 5: a staged roll-out over a simulated fleet. Light fake kiosks speak to the
// reference management store as the management link does (heartbeats with version and trial,
// commands fetched and acknowledged, the rollback alarm); the roll-out moves group by group only
// while every member of the group before is healthy, and halts by itself at the group whose
// failure rate passes the threshold: the later groups never get the command.

const dir = mkdtempSync(join(tmpdir(), 'kiosk-rollout-'));
const store = new ManagementStore(join(dir, 'm.db'));
t.teardown(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const OLD = '9.0.0';
const NEW = '9.1.0';

/** A fake kiosk: on `update` it either comes back healthy on the new version or rolls back. */
class FakeKiosk {
  version = OLD;
  trial = 'none';
  commands = 0;
  constructor(
    readonly id: string,
    public breaks: boolean,
  ) {}

  heartbeat(): void {
    store.heartbeat(this.id, { version: this.version, state: 'inService', update: { running: this.version, trial: this.trial } });
    for (const c of store.pendingCommands(this.id)) {
      if (c.type !== 'update') continue;
      this.commands++;
      const to = String(c.args.version);
      store.acknowledge(this.id, c.id, { ok: true, result: { from: this.version, to } });
      if (this.breaks) {
        store.alarms(this.id, [{ id: `a-${this.id}`, action: 'raise', kind: 'update-rolled-back', source: `update:${to}`, severity: 'critical', detail: `release ${to} was rolled back to ${OLD}: exits at start`, at: new Date().toISOString() }]);
      } else {
        this.version = to;
        this.trial = 'good';
      }
    }
  }
}

let fleets = 0;
/** 40 fake kiosks with names of their own (the store is shared by the tests). */
function fleet(bad: (id: string) => boolean): FakeKiosk[] {
  const f = ++fleets;
  return Array.from({ length: 40 }, (_, i) => `F${f}-${String(i).padStart(3, '0')}`).map((id) => new FakeKiosk(id, bad(id)));
}

function plan(kiosks: FakeKiosk[], maxFailureRate = 0.2): RolloutPlan {
  return { version: NEW, url: 'https://m/v1/updates/targets/x.tar', digest: 'a'.repeat(64), terminals: kiosks.map((k) => k.id), groups: [5, 25, 100], maxFailureRate, healthyWithinMs: 60_000 };
}

function run(rollout: Rollout, kiosks: FakeKiosk[], rounds = 10) {
  let st = rollout.tick();
  for (let i = 0; i < rounds && st.state === 'running'; i++) {
    for (const k of kiosks) k.heartbeat();
    st = rollout.tick();
  }
  return st;
}

t.test('a healthy fleet: every group in turn, then done', async (t) => {
  const kiosks = fleet(() => false);
  const rollout = new Rollout(store, plan(kiosks));
  const first = rollout.tick();
  t.equal(Object.keys(first.groups[0]!.members).length, 2, '5 % of 40');
  t.equal(Object.keys(first.groups[1]!.members).length, 8, 'to 25 %');
  t.equal(kiosks.filter((k) => k.commands > 0).length, 0, 'nothing sent before the heartbeats');
  const st = run(rollout, kiosks);
  t.equal(st.state, 'done');
  t.ok(kiosks.every((k) => k.version === NEW));
});

t.test('the second group fails: the roll-out halts there, the rest never get the update', async (t) => {
  const kiosks = fleet(() => false);
  const rollout = new Rollout(store, plan(kiosks));
  // Half of the second group breaks; the first group is fine.
  const second = Object.keys(rollout.status().groups[1]!.members).slice(0, 4);
  for (const k of kiosks) k.breaks = second.includes(k.id);
  const st = run(rollout, kiosks);
  t.equal(st.state, 'halted');
  t.equal(st.group, 1);
  t.match(st.reason, /group 2: 4 of 8 failed/);
  const third = Object.keys(st.groups[2]!.members);
  t.equal(third.length, 30);
  t.ok(kiosks.filter((k) => third.includes(k.id)).every((k) => k.commands === 0 && k.version === OLD), 'the third group was never sent the update');
  t.ok(Object.values(st.groups[0]!.members).every((s) => s === 'healthy'));
});

t.test('a group is only started once the one before is healthy', async (t) => {
  const kiosks = fleet(() => false);
  const rollout = new Rollout(store, plan(kiosks));
  rollout.tick();
  const firstIds = Object.keys(rollout.status().groups[0]!.members);
  // Only the other kiosks report: the first group is still on the old release.
  for (const k of kiosks.filter((k) => !firstIds.includes(k.id))) k.heartbeat();
  const st = rollout.tick();
  t.equal(st.group, 0);
  t.ok(kiosks.filter((k) => !firstIds.includes(k.id)).every((k) => k.commands === 0));
});

t.test('a member not healthy in time counts as failed', async (t) => {
  let now = 0;
  const kiosks = fleet(() => false);
  const rollout = new Rollout(store, plan(kiosks, 0.2), () => now);
  rollout.tick();
  now = 61_000;
  const st = rollout.tick();
  t.equal(st.state, 'halted');
  t.match(st.reason, /group 1: 2 of 2 failed/);
});
