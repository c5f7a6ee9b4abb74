/**
 * The runtime's coin flow (src/runtime/coins.ts) with the real ccTalk driver against a scripted
 * acceptor and a real journal file: coins in the acceptor's buffer across a restart, and a coin
 * dropped just before a transaction closes.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { pino } from 'pino';
import { memoryPair } from '../../drivers/transport/memory.js';
import { CctalkBus } from '../../drivers/cctalk/bus.js';
import { CctalkCoinAcceptor } from '../../drivers/cctalk/coin-acceptor.js';
import type { Coin } from '../../drivers/types.js';
import { Journal } from '../../src/journal/index.js';
import type { Alarm, AlarmSink } from '../../src/management/index.js';
import { recoverOpenTransactions } from '../../src/recovery/recover.js';
import { CoinFlow } from '../../src/runtime/coins.js';
import type { ActiveTxn } from '../../src/desk/desk.js';
import { testKey } from '../journal/keys.js';
import { FakeLine } from './fake-line.js';
import { FakeAcceptor } from './fake-acceptor.js';

const COINS = [
  { channel: 1, value: 100 },
  { channel: 2, value: 50 },
  { channel: 3, value: 10 },
];
const yuan1: Coin = { value: 100, currency: 'CNY', code: 1 };

class Alarms implements AlarmSink {
  readonly raised: Alarm[] = [];
  raise(a: Alarm): void {
    this.raised.push(a);
  }
  clear(): void {}
}

/** A transaction past its cash step (settling or cancelling): the machine no longer takes cash. */
function closingTxn(id: string): ActiveTxn {
  const snapshot = { status: 'active', matches: () => false };
  return { id, actor: { getSnapshot: () => snapshot, send: () => undefined }, cancelWhenResolved: false } as unknown as ActiveTxn;
}

function openJournal(t: Test): { journal: Journal; file: string } {
  const file = join(t.testdir(), 'journal.db');
  return { journal: Journal.open(file, { key: testKey }), file };
}

/** One life of the kiosk: a fresh driver and coin flow over the same scripted device and journal file. */
function life(t: Test, journal: Journal, fake: FakeAcceptor, active: () => ActiveTxn | null = () => null) {
  const [host, device] = memoryPair('cctalk');
  void device.open();
  const bus = new CctalkBus(host, { replyTimeoutMs: 500, retries: 1, busyRetryDelayMs: 5 });
  new FakeLine(device, { echo: true }).handlers.set(2, fake.handle);
  // No routine poll within a test: what comes in comes from the start-up or drain().
  const acceptor = new CctalkCoinAcceptor({ bus, coins: COINS, pollIntervalMs: 60_000, reconnect: { initialMs: 10, maxMs: 40 } });
  const alarms = new Alarms();
  const flow = new CoinFlow(journal, acceptor, active, alarms, pino({ level: 'silent' }));
  t.teardown(() => acceptor.close());
  return { acceptor, flow, alarms };
}

const types = (j: Journal, id: string) => j.events(id).map((e) => e.type);
const unattributed = (j: Journal) =>
  j.eventsOfType('alarm.unattributed-coin').map((e) => e.data);

t.test('coins the acceptor took while the kiosk was down go to the transaction the crash left open', async (t) => {
  const { journal } = openJournal(t);
  const fake = new FakeAcceptor();
  fake.counter = 19;
  journal.startTransaction('k1', 'pay');
  journal.recordLookup('k1', { phone: '13800138000', amountDue: 500 });
  fake.event(1, 1); // 20: credited before the crash
  journal.coinAccepted('k1', yuan1, 20);
  // The crash: the acceptor stays enabled, and takes two more coins the dead runtime never read.
  fake.event(2, 1); // 21
  fake.event(0, 1); // 22: a reject
  fake.event(1, 1); // 23

  const { acceptor } = life(t, journal, fake);
  await acceptor.open();
  t.match(journal.transaction('k1'), { status: 'open', cashIn: 250, credited: 250 });
  const coins = journal.events('k1').filter((e) => e.type === 'coin.accepted');
  t.same(
    coins.map((e) => [e.data.counter, (e.data.coin as Coin).value]),
    [
      [20, 100],
      [21, 50],
      [23, 100],
    ],
  );
  t.equal(journal.coinCounter(), 23);
  t.same(unattributed(journal), []);

  const decisions = recoverOpenTransactions(journal, { validatorReady: true, noteInStacker: false });
  t.same(decisions, [{ txnId: 'k1', action: 'settled', credited: 250, returned: 0 }]);
  t.equal(journal.coinbox().reduce((a, c) => a + c.value * c.count, 0), 250, 'the journal\'s coin box holds every coin the device took');
  t.same(journal.verify(), []);
  journal.close();
});

t.test('no transaction open at the crash: the coins are recorded as unattributed, with their counter', async (t) => {
  const { journal } = openJournal(t);
  const fake = new FakeAcceptor();
  journal.startTransaction('k1', 'pay');
  fake.event(3, 1); // 1
  journal.coinAccepted('k1', { value: 10, currency: 'CNY', code: 3 }, 1);
  journal.settle('k1', { endReason: 'paid' });
  fake.event(1, 1); // 2

  const { acceptor } = life(t, journal, fake);
  await acceptor.open();
  t.same(unattributed(journal), [{ value: 100, currency: 'CNY', counter: 2 }]);
  t.match(journal.transaction('k1'), { status: 'completed', cashIn: 10 });
  t.equal(journal.coinCounter(), 2);

  // A coin the device takes later, in this life, with nobody taking cash, is no crash leftover.
  journal.startTransaction('k2', 'pay');
  fake.event(2, 1);
  await acceptor.drain();
  t.same(unattributed(journal).map((c) => c.counter), [2, 3]);
  t.match(journal.transaction('k2'), { cashIn: 0 });
  journal.close();
});

t.test('rejects move the journalled counter, so a restart does not count them as lost', async (t) => {
  const { journal } = openJournal(t);
  const fake = new FakeAcceptor();
  fake.counter = 40;
  const first = life(t, journal, fake);
  await first.acceptor.open();
  t.equal(journal.coinCounter(), 40, 'the baseline of the first start-up is journalled');
  for (let i = 0; i < 7; i++) fake.event(0, 2);
  await first.acceptor.drain();
  t.equal(journal.coinCounter(), 47);
  await first.acceptor.close();

  fake.event(1, 1);
  const second = life(t, journal, fake);
  await second.acceptor.open();
  t.same(unattributed(journal).map((c) => c.counter), [48]);
  t.same(second.alarms.raised, [], 'no loss');
  journal.close();
});

t.test('more than five events while the kiosk was down: the five in the buffer, and an alarm', async (t) => {
  const { journal } = openJournal(t);
  const fake = new FakeAcceptor();
  journal.startTransaction('k1', 'pay');
  fake.event(1, 1);
  journal.coinAccepted('k1', yuan1, 1);
  for (let i = 0; i < 8; i++) fake.event(1, 1);

  const { acceptor, alarms } = life(t, journal, fake);
  await acceptor.open();
  t.match(journal.transaction('k1'), { cashIn: 600 });
  t.ok(types(journal, 'k1').includes('alarm.coin-events-lost'));
  t.match(alarms.raised, [{ kind: 'coin-events-lost', source: 'coin-acceptor', severity: 'critical' }]);
  journal.close();
});

t.test('a coin dropped just before the close is credited to the closing transaction, not the next', async (t) => {
  const { journal } = openJournal(t);
  const fake = new FakeAcceptor();
  fake.counter = 7;
  let active: ActiveTxn | null = null;
  const { acceptor, flow } = life(t, journal, fake, () => active);
  await acceptor.open();
  await acceptor.enable([100, 50]);

  journal.startTransaction('k1', 'pay');
  active = closingTxn('k1');
  // Taken by the device, not yet read by the driver (its next poll would come after the close).
  fake.event(2, 1);
  await flow.closing('k1');
  t.equal(fake.master, 0, 'inhibited before the read');
  t.match(journal.transaction('k1'), { status: 'open', cashIn: 50 }, 'credited before the settle');
  journal.settle('k1', { endReason: 'customer-cancel-partial' });

  // After the settle, the same transaction is no owner any more; the next one is not taking cash.
  journal.startTransaction('k2', 'pay');
  active = closingTxn('k2');
  fake.event(1, 1);
  await acceptor.drain();
  t.match(journal.transaction('k1'), { status: 'completed', cashIn: 50 });
  t.match(journal.transaction('k2'), { cashIn: 0 });
  t.same(unattributed(journal), [{ value: 100, currency: 'CNY', counter: 9 }]);
  t.same(journal.verify(), []);
  journal.close();
});
