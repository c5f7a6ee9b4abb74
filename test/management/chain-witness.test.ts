import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import type { Alarm, AlarmSink } from '../../src/alarms/sink.js';
import { Journal } from '../../src/journal/index.js';
import { ChainWitness } from '../../src/management/index.js';
import { ACKNOWLEDGE_EVERY_MS } from '../../src/management/chain-witness.js';
import { testKey } from '../journal/keys.js';

// Issue 15, item 2: the witness's checks that need no server. The head a server confirmed is kept
// in the journal and checked at boot; a rollback found is journalled, so a restart stays out of
// service until an engineer accepts the journal in use.

class Sink implements AlarmSink {
  readonly raised: Alarm[] = [];
  readonly cleared: string[] = [];
  raise(a: Alarm): void {
    this.raised.push(a);
  }
  clear(kind: string, source: string): void {
    this.cleared.push(`${kind}/${source}`);
  }
}

const silent = pino({ level: 'silent' });
const BOGUS = 'f'.repeat(64);

function witnessOf(journal: Journal) {
  const sink = new Sink();
  const rolled: string[] = [];
  const witness = new ChainWitness(journal, sink, silent, (r) => rolled.push(r));
  return { sink, rolled, witness };
}

function withEvents(path: string, n: number): Journal {
  const j = Journal.open(path, { key: testKey });
  for (let i = 0; i < n; i++) j.append(null, 'device.test', { device: 'printer', ok: true });
  return j;
}

t.test('boot check: a confirmed head the journal holds passes', async (t) => {
  const j = withEvents(join(t.testdir(), 'j.db'), 3);
  t.teardown(() => j.close());
  j.acknowledgeHead(j.chainHead(), 'management');
  const k = witnessOf(j);
  t.equal(k.witness.failure(), null);
  t.same(k.sink.raised, []);
  t.same(k.rolled, []);
});

t.test('boot check: a confirmed head above the journal\'s end is a rollback, journalled as a mark', async (t) => {
  const j = withEvents(join(t.testdir(), 'j.db'), 3);
  t.teardown(() => j.close());
  const own = j.chainHead();
  j.acknowledgeHead({ seq: own.seq + 5, hash: BOGUS }, 'business');
  const k = witnessOf(j);
  const why = k.witness.failure();
  t.equal(why, `journal rolled back: the business server saw event ${own.seq + 5}, but the journal ends at event ${own.seq}`);
  t.same(k.rolled, [why]);
  t.match(k.sink.raised, [{ kind: 'journal-rollback', source: 'journal', severity: 'critical', detail: why }]);
  t.match(j.unresolvedRollback(), { server: 'business', serverHead: { seq: own.seq + 5, hash: BOGUS }, reason: why });
  t.match(j.eventsOfType('journal.rollback-detected'), [{ data: { server: 'business', ownHead: own } }]);
});

t.test('boot check: a confirmed head with another hash at a seq the journal holds is a fork', async (t) => {
  const j = withEvents(join(t.testdir(), 'j.db'), 3);
  t.teardown(() => j.close());
  j.acknowledgeHead({ seq: 2, hash: BOGUS }, 'management');
  const k = witnessOf(j);
  t.equal(k.witness.failure(), 'journal forked: event 2 differs from the one the management server saw');
  t.equal(k.rolled.length, 1);
});

t.test('a rollback a server showed is durable: the next start refuses service before any server answers', async (t) => {
  const path = join(t.testdir(), 'j.db');
  const first = withEvents(path, 3);
  const k1 = witnessOf(first);
  const head = first.chainHead();
  k1.witness.serverSaw('management', { chainHeadBefore: { seq: head.seq + 40, hash: BOGUS }, chainHead: { seq: head.seq + 40, hash: BOGUS } });
  t.match(k1.witness.failure(), /journal rolled back: the management server saw event/);
  first.close();

  const again = Journal.open(path, { key: testKey });
  t.teardown(() => again.close());
  const k2 = witnessOf(again);
  t.match(k2.witness.failure(), /journal rolled back: the management server saw event \d+.*found before this start/);
  t.equal(k2.rolled.length, 1, 'the terminal is told at once');
  t.match(k2.sink.raised, [{ kind: 'journal-rollback', severity: 'critical' }], 'the alarm is raised again');
  t.equal(again.eventsOfType('journal.rollback-detected').length, 1, 'the mark is not written twice');
});

t.test('an engineer accepts the journal in use: the mark is resolved and the old heads no longer count', async (t) => {
  const path = join(t.testdir(), 'j.db');
  const j = withEvents(path, 3);
  t.teardown(() => j.close());
  const old = { seq: j.chainHead().seq + 40, hash: BOGUS };
  j.acknowledgeHead(old, 'business');
  const k = witnessOf(j);
  t.ok(k.witness.failure());
  const other = { seq: 50, hash: 'e'.repeat(64) };
  k.witness.serverSaw('management', { chainHeadBefore: other });
  k.witness.serverSaw('management', { chainHeadBefore: other });

  const peer = { uid: 1001, user: 'kiosk-console', pid: 4242 };
  const accepted = k.witness.accept('wang', peer);
  t.same(accepted, [{ server: 'business', ...old }, { server: 'management', ...other }], 'the heads of both servers marked since the last acceptance, each once');
  t.equal(k.witness.failure(), null, 'service may resume');
  t.same(k.sink.cleared, ['journal-rollback/journal']);
  t.equal(j.unresolvedRollback(), undefined);
  t.equal(j.acknowledgedHead(), undefined, 'the confirmed head of the old file is forgotten');
  t.match(j.eventsOfType('journal.rollback-accepted'), [{ data: { by: 'wang', peer, accepted } }], 'journalled with who did it');
  t.ok(j.verifyChain().ok);

  // A server that still keeps the old head answers with it: no longer a rollback.
  k.witness.serverSaw('business', { chainHeadBefore: old, chainHead: old });
  t.equal(k.witness.failure(), null);
  t.equal(j.acknowledgedHead(), undefined, 'an accepted head is not kept as confirmed');
  // After a restart too.
  const k2 = witnessOf(j);
  k2.witness.serverSaw('business', { chainHeadBefore: old, chainHead: old });
  k2.witness.serverSaw('management', { chainHeadBefore: other });
  t.equal(k2.witness.failure(), null);
  // Any other head the journal does not hold is a new rollback.
  k2.witness.serverSaw('business', { chainHead: { seq: old.seq + 1, hash: BOGUS } });
  t.match(k2.witness.failure(), /journal rolled back/);
  t.ok(j.unresolvedRollback(), 'marked again');
});

t.test('confirmed heads are journalled at most once per ACKNOWLEDGE_EVERY_MS: a heartbeat a second is not an fsync a second', async (t) => {
  const dir = t.testdir();
  const j = withEvents(join(dir, 'j.db'), 3);
  t.teardown(() => j.close());
  let now = 0;
  const witness = new ChainWitness(j, new Sink(), silent, () => undefined, () => now);
  const commits = () => j.chainHead().seq;
  witness.serverSaw('management', { chainHead: j.chainHead() });
  t.same(j.acknowledgedHead()?.seq, 3, 'the first answer is kept at once');
  let writes = 0;
  const acknowledge = j.acknowledgeHead.bind(j);
  j.acknowledgeHead = (head, server) => {
    writes++;
    acknowledge(head, server);
  };
  for (let beat = 1; beat < 10; beat++) {
    now = beat * 1000;
    j.append(null, 'device.test', { device: 'printer', ok: true });
    witness.serverSaw('management', { chainHead: j.chainHead() });
  }
  t.equal(writes, 0, 'nine heartbeats within the interval journal nothing more');
  t.equal(j.acknowledgedHead()?.seq, 3);
  now = ACKNOWLEDGE_EVERY_MS;
  j.append(null, 'device.test', { device: 'printer', ok: true });
  witness.serverSaw('management', { chainHead: j.chainHead() });
  t.equal(writes, 1, 'the first answer after the interval is journalled');
  t.equal(j.acknowledgedHead()?.seq, commits(), 'with the newest head');
});
