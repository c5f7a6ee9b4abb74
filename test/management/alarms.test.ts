import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Journal } from '../../src/journal/index.js';
import type { Alarm, AlarmSink } from '../../src/alarms/sink.js';
import { AlarmBook, deviceAlarms, journalChainAlarm, managementTarget } from '../../src/management/index.js';
import { LogCapture } from './fixture.js';

class RecordingSink implements AlarmSink {
  readonly calls: string[] = [];
  raise(a: Alarm): void {
    this.calls.push(`raise ${a.kind} ${a.source} ${a.severity} ${a.detail}`);
  }
  clear(kind: string, source: string): void {
    this.calls.push(`clear ${kind} ${source}`);
  }
}

t.test('device statuses: faults and offline raise, the cash box removed has its own alarm, well again clears', async (t) => {
  const sink = new RecordingSink();
  deviceAlarms(sink, 'validator', { health: 'fault', code: 'stacker-open', detail: 'cash box removed' });
  deviceAlarms(sink, 'validator', { health: 'fault', code: 'jam-acceptor', detail: 'note jammed' });
  deviceAlarms(sink, 'printer', { health: 'offline', code: 'no-answer', detail: 'no answer' });
  deviceAlarms(sink, 'hopper:h50', { health: 'degraded', code: 'low', detail: 'low level' });
  deviceAlarms(sink, 'printer', { health: 'offline', code: 'closed', detail: 'closed by the host' });
  t.same(sink.calls, [
    'raise stacker-removed validator critical cash box removed',
    'clear device-fault validator',
    'clear stacker-removed validator',
    'raise device-fault validator critical fault: jam-acceptor: note jammed',
    'clear stacker-removed printer',
    'raise device-fault printer warning offline: no-answer: no answer',
    'clear stacker-removed hopper:h50',
    'clear device-fault hopper:h50',
  ]);
});

t.test('the alarm book: one message per raise or clear, a changed severity raises again, bad alarms refused', async (t) => {
  const dir = t.testdir();
  const journal = Journal.open(join(dir, 'journal.db'), { key: Buffer.alloc(32, 7) });
  t.teardown(() => journal.close());
  const capture = new LogCapture();
  const book = new AlarmBook(journal, capture.logger());
  let queued = 0;
  const off = book.onQueued(() => queued++);
  book.raise({ kind: 'disk-low', source: 'journal', severity: 'warning', detail: '9% free' });
  book.raise({ kind: 'disk-low', source: 'journal', severity: 'warning', detail: '8% free' });
  book.raise({ kind: 'disk-low', source: 'journal', severity: 'critical', detail: '2% free' });
  book.clear('disk-low', 'journal');
  t.equal(queued, 3);
  t.same(
    book.undelivered(10).map((m) => [m.action, m.severity, m.detail]),
    [
      ['raise', 'warning', '9% free'],
      ['raise', 'critical', '2% free'],
      ['clear', 'critical', '2% free'],
    ],
  );
  t.equal((capture.text.match(/alarm raised: disk-low/g) ?? []).length, 2, 'logged once per raise, not per repeat');
  t.equal((capture.text.match(/alarm cleared: disk-low/g) ?? []).length, 1);
  const ids = book.undelivered(10).map((m) => m.id);
  t.equal(new Set(ids).size, 3, 'each message its own id');
  book.delivered([ids[0]!, 'not-an-id']);
  t.equal(book.undelivered(10).length, 2);
  off();
  book.raise({ kind: 'x', source: 'y', severity: 'warning', detail: '' });
  t.equal(queued, 3, 'no listener after unsubscribing');
  t.throws(() => book.raise({ kind: '', source: 'y', severity: 'warning', detail: 'd' }), /kind must be a non-empty string/);
  t.throws(() => book.raise({ kind: 'k', source: 'y', severity: 'fatal' as 'warning', detail: 'd' }), /severity/);
  t.equal(journal.verifyChain().ok, true, 'alarm events join the hash chain');
});

t.test('journal hash chain broken at boot: an alarm; intact: cleared', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'journal.db');
  const key = Buffer.alloc(32, 9);
  const journal = Journal.open(path, { key });
  const book = new AlarmBook(journal, new LogCapture().logger());
  journal.append(null, 'operator.in-service', { by: 'n1' });
  journalChainAlarm(journal, book);
  t.same(book.active(), []);
  journal.close();

  const attacker = new BetterSqlite3(path);
  attacker.exec('DROP TRIGGER events_no_update');
  attacker.prepare(`UPDATE events SET data = '{"by":"n2"}' WHERE type = 'operator.in-service'`).run();
  attacker.close();

  const again = Journal.open(path, { key });
  t.teardown(() => again.close());
  const book2 = new AlarmBook(again, new LogCapture().logger());
  journalChainAlarm(again, book2);
  t.match(book2.active(), [{ kind: 'journal-chain', source: 'journal', severity: 'critical', detail: /hash chain broken at event \d+/ }]);
});

t.test('the management target defaults to the business server host and its name', async (t) => {
  const config = parseConfig(
    { validator: { port: '/dev/null' }, server: { host: 'boss.example', port: 9000 }, management: { port: 8481 } },
    'test',
    '/tmp',
  ) as Config & { management: NonNullable<Config['management']> };
  t.same(managementTarget(config), { host: 'boss.example', port: 8481, serverName: 'boss.example', timeoutMs: 10_000 });
  t.same(config.management, {
    transport: 'https',
    port: 8481,
    heartbeatMs: 30_000,
    countersMs: 300_000,
    timeoutMs: 10_000,
    mqtt: { sessionExpiryS: 7 * 86_400, keepaliveS: 30, reconnectMs: 2000 },
  });
  config.management.host = '10.0.0.9';
  config.management.serverName = 'tms.example';
  t.same(managementTarget(config), { host: '10.0.0.9', port: 8481, serverName: 'tms.example', timeoutMs: 10_000 });
});
