/**
 * Two consumer instances share one management database (docs/management-mqtt.md). Each store
 * method that reads and then writes must take the write lock first: a deferred transaction whose
 * snapshot the other process moved on is told "database is locked" at once, and the consumer drops
 * the message it was storing. Two processes (the built store in dist/) store alarms and
 * acknowledgements into one file at the same time; none of their calls may fail.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ManagementStore } from '../../hw-sim/host/management-store.js';
import { repoRoot } from '../../hw-sim/stack.js';

const WORKER = `
import { ManagementStore } from ${JSON.stringify(join(repoRoot(), 'dist/hw-sim/host/management-store.js'))};
const [db, who, n] = process.argv.slice(2);
const store = new ManagementStore(db);
let failed = 0;
let first = '';
for (let i = 0; i < Number(n); i++) {
  try {
    store.storeAlarms('K-' + who, [{ id: who + '-' + i, action: 'raise', kind: 'k', source: 's', severity: 'warning', detail: '', at: new Date().toISOString() }]);
    const c = store.queueCommand({ terminalId: 'K-' + who, type: 'in-service' });
    store.commandsToSend('K-' + who, 0);
    store.acknowledge('K-' + who, c.id, { ok: true, result: {} });
  } catch (e) {
    failed++;
    first ||= e.message;
  }
}
store.close();
console.log(JSON.stringify({ failed, first }));
`;

t.test('two processes storing into one management database at once: no call fails', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-store-shared-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'central.db');
  new ManagementStore(db).close();
  const worker = join(dir, 'worker.mjs');
  writeFileSync(worker, WORKER);
  const runs = ['a', 'b'].map((who) => {
    const p = spawn(process.execPath, [worker, db, who, '400'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    return once(p, 'exit').then(() => JSON.parse(out) as { failed: number; first: string });
  });
  for (const r of await Promise.all(runs)) t.same(r, { failed: 0, first: '' }, 'no call refused');
  const records = new ManagementStore(db);
  t.teardown(() => records.close());
  t.equal(records.records().alarms.length, 800, 'every alarm stored');
  t.equal(records.records().commands.filter((c) => c.ackedAt !== null).length, 800, 'every acknowledgement stored');
});
