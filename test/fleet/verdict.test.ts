import t from 'tap';
import type { Stored } from '../../hw-sim/fleet/stored.js';
import { clean, reportsComplete, verdict, type Expected } from '../../hw-sim/fleet/verdict.js';

function expected(): Expected {
  return {
    alarms: ['K1/a1', 'K1/a2', 'K2/a1'],
    commands: new Map([['cmd-1', 1000], ['cmd-2', 2000]]),
    heartbeats: new Map([['K1', 10], ['K2', 9]]),
    counters: new Map([['K1', 1], ['K2', 0]]),
  };
}

function stored(): Stored {
  return {
    alarms: new Map([['K1/a1', { rows: 1, duplicates: 2 }], ['K1/a2', { rows: 1, duplicates: 0 }], ['K2/a1', { rows: 1, duplicates: 0 }]]),
    commands: new Map([
      ['cmd-1', { terminalId: 'K1', ackedAtMs: 1040, acks: 2, sent: 1 }],
      ['cmd-2', { terminalId: 'K2', ackedAtMs: 2300, acks: 1, sent: 2 }],
    ]),
    heartbeats: new Map([['K1', 10], ['K2', 9]]),
    counters: new Map([['K1', 1]]),
  };
}

t.test('everything stored once: clean, resends counted as absorbed, round trips from the stored acknowledgement', async (t) => {
  const v = verdict(expected(), stored());
  t.ok(clean(v));
  t.ok(reportsComplete(v));
  t.same(v.absorbed, { alarmResends: 2, commandAcksAgain: 1, commandSends: 3 });
  t.same(v.roundTrips.sort((a, b) => a - b), [40, 300]);
});

t.test('an alarm id missing from the store is lost, even when the totals would match', async (t) => {
  const s = stored();
  s.alarms.delete('K2/a1');
  s.alarms.set('K2/a9', { rows: 1, duplicates: 0 });
  const v = verdict(expected(), s);
  t.equal(v.lost.alarms, 1);
  t.match(v.lost.examples, [/alarm K2\/a1 not stored/]);
  t.notOk(clean(v));
});

t.test('a command never acknowledged, or unknown to the store, is lost', async (t) => {
  const s = stored();
  s.commands.set('cmd-2', { terminalId: 'K2', ackedAtMs: null, acks: 0, sent: 3 });
  s.commands.delete('cmd-1');
  const v = verdict(expected(), s);
  t.equal(v.lost.commandAcks, 2);
  t.notOk(clean(v));
});

t.test('an alarm stored in two rows is a duplicate', async (t) => {
  const s = stored();
  s.alarms.set('K1/a2', { rows: 2, duplicates: 0 });
  const v = verdict(expected(), s);
  t.equal(v.duplicated.alarmRows, 1);
  t.notOk(clean(v));
});

t.test('reports (no id): one missing is counted as lost, one counted twice as such; the verdict is on what has an id', async (t) => {
  const s = stored();
  s.heartbeats.set('K1', 11);
  s.heartbeats.set('K2', 8);
  s.counters.delete('K1');
  const v = verdict(expected(), s);
  t.same(v.reports.lost, { heartbeats: 1, counters: 1 });
  t.same(v.reports.twice, { heartbeats: 1, counters: 0 });
  t.match(v.reports.examples, [/heartbeats of K2: 9 sent, 8 counted/, /counters of K1: 1 sent, 0 counted/]);
  t.notOk(reportsComplete(v));
  t.ok(clean(v), 'no alarm or acknowledgement lost');
});
