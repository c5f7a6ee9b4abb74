import t from 'tap';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { devHostTls } from '../../hw-sim/host/dev-tls.js';
import { startHost } from '../../hw-sim/host/server.js';
import type { Alarm, AlarmSink } from '../../src/alarms/sink.js';
import { Journal } from '../../src/journal/index.js';
import { ChainWitness } from '../../src/management/index.js';
import { EnvelopeAdapter } from '../../src/uplink/link/envelope-adapter.js';
import { loadTlsMaterial } from '../../src/tls/material.js';
import { testKey } from '../journal/keys.js';

// Issue 15, item 2 on the business link: each delivery carries the journal's chain head, the
// reference server keeps the highest per terminal and answers with it; a kiosk whose journal was
// put back to an older copy is an anomaly on the server and a critical alarm on the kiosk.

class Sink implements AlarmSink {
  readonly raised: Alarm[] = [];
  raise(a: Alarm): void {
    this.raised.push(a);
  }
  clear(): void {}
}

const note = { value: 5000, currency: 'CNY', code: 0x66 };

t.test('deliveries carry the head; an older journal is caught by the server and by the kiosk', async (t) => {
  const dir = t.testdir();
  const { tls, files } = await devHostTls(join(dir, 'pki'), 'T-0001');
  const host = await startHost({ port: 0, tls, dbPath: join(dir, 'host.db') });
  t.teardown(() => host.close());
  const path = join(dir, 'journal.db');

  const kiosk = (journal: Journal) => {
    const sink = new Sink();
    const rolled: string[] = [];
    const witness = new ChainWitness(journal, sink, pino({ level: 'silent' }), (r) => rolled.push(r));
    const adapter = new EnvelopeAdapter(
      {
        host: '127.0.0.1',
        port: host.port,
        serverName: 'localhost',
        tls: loadTlsMaterial({ ca: files.ca, cert: files.clientCert, key: files.clientKey }),
        timeoutMs: 2000,
        probeIntervalMs: 60_000,
        backoff: { initialMs: 10, maxMs: 40 },
        hello: { terminalId: 'T-0001' },
      },
      witness,
    );
    t.teardown(() => adapter.stop());
    adapter.start();
    return { sink, rolled, witness, adapter };
  };
  const pay = async (j: Journal, k: ReturnType<typeof kiosk>, id: string) => {
    j.startTransaction(id, 'pay');
    j.recordLookup(id, { phone: '13800138000', amountDue: 5000 });
    j.noteStacked(id, note);
    j.settle(id, { endReason: 'paid' });
    await k.adapter.waitUp(5000);
    const pending = j.outboxPending(10).map((r) => ({ messageId: r.messageId, kind: r.kind as 'payment', payload: r.payload }));
    j.markSentAll((await k.adapter.deliver(pending)).map((a) => ({ messageId: a.messageId, result: { ok: true } })));
  };

  const first = Journal.open(path, { key: testKey });
  const k1 = kiosk(first);
  await pay(first, k1, 'A');
  const acked = first.acknowledgedHead();
  t.match(acked, { server: 'business' }, 'the kiosk keeps the head the server confirmed');
  first.close();
  await k1.adapter.stop();
  copyFileSync(path, `${path}.old`);

  const second = Journal.open(path, { key: testKey });
  const k2 = kiosk(second);
  await pay(second, k2, 'B');
  const later = second.chainHead();
  t.same(k2.rolled, []);
  second.close();
  await k2.adapter.stop();

  copyFileSync(`${path}.old`, path);
  const back = Journal.open(path, { key: testKey });
  t.teardown(() => back.close());
  const k3 = kiosk(back);
  t.equal(k3.witness.failure(), null, 'the old file alone looks sound');
  await pay(back, k3, 'C');
  // The old file wrote as many events for C as the newer one had for B: the same seq, another hash.
  t.match(k3.rolled, [`journal forked: event ${later.seq} differs from the one the business server saw`]);
  t.match(k3.sink.raised, [{ kind: 'journal-rollback', source: 'journal', severity: 'critical' }]);
  t.match(k3.witness.failure(), /journal forked/, 'and it stays failed');
  t.match(host.records().anomalies, [{ kind: 'chain-forked', detail: new RegExp(`reports event ${later.seq} with hash`) }]);

});
