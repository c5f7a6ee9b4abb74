/**
 * The central consumer stores messages in batches (one commit each) and acknowledges each to the
 * broker only once its batch is committed: a consumer killed with a batch still open acknowledged
 * none of it, so the broker sends it all again, and what it sends twice is recognised by id.
 */
import t from 'tap';
import { until } from '../management/fixture.js';
import { KIOSK_A, brokerWorld, consumer } from './broker-fixture.js';

const alarm = (i: number) => ({
  alarms: [{ id: `batch-alarm-${i}`, action: 'raise', kind: `batch-${i}`, source: 'test', severity: 'warning', detail: `alarm ${i}`, at: new Date().toISOString() }],
});

t.test('a consumer killed before its batch is committed acknowledged none of it: back, it stores every message once', async (t) => {
  const w = await brokerWorld(t);
  // A batch that waits a minute: the kill is sure to come while it is open.
  const first = await consumer(t, w, 'a', { batch: { waitMs: 60_000, max: 1000 } });
  const kiosk = await w.client(KIOSK_A);
  const ids = Array.from({ length: 20 }, (_, i) => i);
  for (const i of ids) await kiosk.publishAsync(`kiosk/${KIOSK_A}/alarm`, JSON.stringify(alarm(i)), { qos: 1 });
  await until('all 20 received by the consumer, none stored', () => first.waiting() === 20);
  t.equal(first.records().alarms.filter((a) => a.kind.startsWith('batch-')).length, 0, 'nothing committed yet');
  await first.kill();

  // The same instance comes back with its session: the broker still holds the 20 unacknowledged.
  const back = await consumer(t, w, 'a');
  const stored = () => back.records().alarms.filter((a) => a.kind.startsWith('batch-'));
  await until('all 20 stored after the restart', () => stored().length === 20, 20_000);
  t.same(new Set(stored().map((a) => a.id)).size, 20, 'each alarm once, none lost');

  // The kiosk sends them again (it had no receipt): stored once still, counted as duplicates.
  for (const i of ids) await kiosk.publishAsync(`kiosk/${KIOSK_A}/alarm`, JSON.stringify(alarm(i)), { qos: 1 });
  await until('the resends seen', () => back.counts.duplicates === 20);
  t.equal(stored().length, 20, 'still one row per alarm id');
});

t.test('a burst is stored in batches and each message gets its receipt', async (t) => {
  const w = await brokerWorld(t);
  const c = await consumer(t, w, 'a', { batch: { waitMs: 20, max: 50 } });
  const receipts: string[] = [];
  const kiosk = await w.client(KIOSK_A, {}, (topic, payload) => {
    if (topic.endsWith('/receipt')) receipts.push(...((JSON.parse(payload.toString('utf8')) as { alarms?: string[] }).alarms ?? []));
  });
  await kiosk.subscribeAsync(`kiosk/${KIOSK_A}/receipt`, { qos: 1 });
  await Promise.all(Array.from({ length: 200 }, (_, i) => kiosk.publishAsync(`kiosk/${KIOSK_A}/alarm`, JSON.stringify(alarm(i)), { qos: 1 })));
  await until('200 receipts', () => receipts.length === 200, 20_000);
  t.equal(new Set(receipts).size, 200, 'one receipt per alarm id');
  t.equal(c.records().alarms.filter((a) => a.kind.startsWith('batch-')).length, 200, 'all stored');
  t.equal(c.waiting(), 0, 'nothing left waiting');
});

t.test('a malformed message in a batch is dropped alone; the rest of the batch is stored', async (t) => {
  const w = await brokerWorld(t);
  const c = await consumer(t, w, 'a', { batch: { waitMs: 200, max: 1000 } });
  const kiosk = await w.client(KIOSK_A);
  await kiosk.publishAsync(`kiosk/${KIOSK_A}/alarm`, JSON.stringify(alarm(1)), { qos: 1 });
  await kiosk.publishAsync(`kiosk/${KIOSK_A}/alarm`, '{"alarms": "not a list"}', { qos: 1 });
  await kiosk.publishAsync(`kiosk/${KIOSK_A}/alarm`, JSON.stringify(alarm(2)), { qos: 1 });
  await until('both good alarms stored', () => c.records().alarms.filter((a) => a.kind.startsWith('batch-')).length === 2);
  await until('nothing left waiting', () => c.waiting() === 0);
  t.pass();
});
