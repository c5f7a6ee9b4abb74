import t from 'tap';
import { dispenseCommands, makeChange, type ChangeItem, type HopperSupply } from '../../states/change.js';

const yuan = (available: number): HopperSupply => ({ name: 'h100', coinValue: 100, available });
const jiao5 = (available: number): HopperSupply => ({ name: 'h50', coinValue: 50, available });
const total = (plan: ChangeItem[]) => plan.reduce((s, i) => s + i.coinValue * i.count, 0);
const coins = (plan: ChangeItem[]) => plan.reduce((s, i) => s + i.count, 0);

t.test('exact change with the fewest coins, largest first', async (t) => {
  t.same(makeChange(350, [jiao5(100), yuan(100)]), [
    { hopper: 'h100', coinValue: 100, count: 3 },
    { hopper: 'h50', coinValue: 50, count: 1 },
  ]);
  t.same(makeChange(0, []), []);
});

t.test('limited levels: falls back to smaller coins, or says impossible', async (t) => {
  t.same(makeChange(300, [yuan(1), jiao5(10)]), [
    { hopper: 'h100', coinValue: 100, count: 1 },
    { hopper: 'h50', coinValue: 50, count: 4 },
  ]);
  t.equal(makeChange(300, [yuan(1), jiao5(3)]), null, 'only 250 available');
  t.equal(makeChange(130, [yuan(10), jiao5(10)]), null, 'no 10-fen coins');
  t.equal(makeChange(100, [yuan(0)]), null, 'empty hopper');
  t.equal(makeChange(100, []), null, 'no hoppers');
});

t.test('greedy would fail where the exact search succeeds', async (t) => {
  const h = [
    { name: 'a', coinValue: 50, available: 1 },
    { name: 'b', coinValue: 20, available: 3 },
  ];
  const plan = makeChange(60, h);
  t.ok(plan);
  t.equal(total(plan!), 60);
  t.same(plan, [{ hopper: 'b', coinValue: 20, count: 3 }]);
});

t.test('property: every plan pays exactly, within levels, and is minimal against brute force', async (t) => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    const hs: HopperSupply[] = [
      { name: 'x', coinValue: 100, available: rnd(6) },
      { name: 'y', coinValue: 50, available: rnd(6) },
      { name: 'z', coinValue: 20, available: rnd(6) },
    ];
    const amount = rnd(60) * 10;
    const plan = makeChange(amount, hs);
    // brute force over every combination
    let bestCoins = Infinity;
    for (let a = 0; a <= hs[0]!.available; a++)
      for (let b = 0; b <= hs[1]!.available; b++)
        for (let c = 0; c <= hs[2]!.available; c++)
          if (a * 100 + b * 50 + c * 20 === amount) bestCoins = Math.min(bestCoins, a + b + c);
    if (bestCoins === Infinity) {
      t.equal(plan, null, `impossible ${amount}`);
      continue;
    }
    t.ok(plan, `possible ${amount}`);
    t.equal(total(plan!), amount);
    t.equal(coins(plan!), bestCoins);
    for (const item of plan!) t.ok(item.count <= hs.find((h) => h.name === item.hopper)!.available);
  }
});

t.test('bad amounts are refused; big counts are split into dispense commands', async (t) => {
  t.throws(() => makeChange(1.5, [yuan(1)]), /whole fen/);
  t.throws(() => makeChange(-1, [yuan(1)]), /whole fen/);
  t.same(dispenseCommands({ hopper: 'h', coinValue: 100, count: 600 }), [255, 255, 90]);
  t.same(dispenseCommands({ hopper: 'h', coinValue: 100, count: 3 }), [3]);
});
