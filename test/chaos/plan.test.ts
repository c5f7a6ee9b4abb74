import t from 'tap';
import { CRASH_POINTS, describePlan, generatePlan } from '../../hw-sim/chaos/plan.js';
import { mulberry32 } from '../../hw-sim/chaos/prng.js';

t.test('the generator is pinned: a change to it would silently change what every printed seed replays', async (t) => {
  const next = mulberry32(1);
  t.same([next(), next(), next()].map((x) => Math.round(x * 4294967296)), [2693262067, 11749833, 2265367787]);
});

t.test('the same seed gives the same plan; another seed another one', async (t) => {
  t.same(generatePlan(42), generatePlan(42));
  t.equal(describePlan(generatePlan(42)), describePlan(generatePlan(42)));
  t.not(describePlan(generatePlan(42)), describePlan(generatePlan(43)));
});

t.test('every plan is one the session can run and the checks can judge', async (t) => {
  const seen = { kinds: new Set<string>(), faults: new Set<string>(), kills: new Set<string>() };
  const bad: string[] = [];
  const expect = (ok: boolean, what: string) => void (ok || bad.push(what));
  for (let seed = 0; seed < 500; seed++) {
    const p = generatePlan(seed);
    expect(p.steps.length >= 1 && p.steps.length <= 4, `seed ${seed}: ${p.steps.length} steps`);
    expect(p.kills.length >= 1 && p.kills.length <= 3, `seed ${seed}: ${p.kills.length} kills`);
    for (const s of p.steps) {
      const total = s.pieces.reduce((a, x) => a + x.value, 0);
      const last = s.pieces[s.pieces.length - 1]!.value;
      // The last piece, and only it, completes the payment; any change is less than it.
      expect(s.amountDue > total - last && s.amountDue <= total, `seed ${seed}: due ${s.amountDue} for pieces of ${total}`);
      expect(/^1\d{10}$/.test(s.phone), `seed ${seed}: phone ${s.phone}`);
      if (s.ending.kind !== 'pay') expect(s.ending.after < s.pieces.length, `seed ${seed}: leaves after ${s.ending.after} pieces`);
      seen.kinds.add(s.ending.kind === 'pay' ? (s.amountDue < total ? 'overpay' : 'exact') : s.ending.kind);
    }
    for (const k of p.kills) {
      seen.kills.add(k.kind);
      if (k.kind === 'crash-after') expect((CRASH_POINTS as readonly string[]).includes(k.point.split('#')[0]!), `seed ${seed}: ${k.point}`);
      else expect(k.step < p.steps.length, `seed ${seed}: kill in step ${k.step}`);
    }
    expect(p.fault.step < p.steps.length, `seed ${seed}: fault in step ${p.fault.step}`);
    if (p.fault.kind === 'validator-jam') expect(p.steps[p.fault.step]!.pieces.some((x) => x.device === 'validator'), `seed ${seed}: jam without a note`);
    seen.faults.add(p.fault.kind);
    expect(p.outage.downAt <= p.outage.upAfter && p.outage.upAfter < p.steps.length, `seed ${seed}: outage ${JSON.stringify(p.outage)}`);
  }
  t.same(bad, []);
  t.same([...seen.kinds].sort(), ['cancel', 'exact', 'overpay', 'walk-away']);
  t.same([...seen.faults].sort(), ['hopper-empty', 'paper-out', 'validator-jam']);
  t.same([...seen.kills].sort(), ['crash-after', 'timed']);
});
