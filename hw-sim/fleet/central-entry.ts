/**
 * One instance of the reference management consumer (hw-sim/host/management-mqtt.ts) in its own
 * process, for the fleet: killing the instance is then a real SIGKILL, and its memory and CPU are
 * not counted as the simulated kiosks'. The parent (central.ts) asks it over IPC to queue commands.
 *
 *   node central-entry.js <broker url> <db file> <ca> <cert> <key> <instance>
 */
import { readFileSync } from 'node:fs';
import { startManagementConsumer } from '../host/management-mqtt.js';

export type CentralRequest = { ask: number; terminalId: string };
export type CentralReply = { ready: true } | { ask: number; id: string } | { ask: number; error: string };

const [url, dbPath, ca, cert, key, instance] = process.argv.slice(2);
if (!url || !dbPath || !ca || !cert || !key || !instance) throw new Error('usage: central-entry <url> <db> <ca> <cert> <key> <instance>');
const send = (m: CentralReply) => process.send?.(m);

const consumer = await startManagementConsumer({
  url,
  dbPath,
  instance,
  tls: { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) },
  log: { info: () => undefined, warn: (o: unknown, msg?: string) => process.stderr.write(`${msg ?? ''} ${JSON.stringify(o)}\n`) },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

process.on('message', (m: CentralRequest) => {
  void (async () => {
    // Both instances write the one SQLite file; a write that meets the other's is told 'busy' at
    // once rather than waited for, so the operator's "send" is tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        // 'in-service' is a real command a real kiosk runs (and may safely run again); the light kiosks acknowledge any.
        send({ ask: m.ask, id: consumer.queueCommand({ terminalId: m.terminalId, type: 'in-service', by: 'fleet' }).id });
        return;
      } catch (e) {
        if (!/database is locked|SQLITE_BUSY/.test((e as Error).message) || attempt >= 20) {
          send({ ask: m.ask, error: (e as Error).message });
          return;
        }
        await sleep(10 * attempt);
      }
    }
  })();
});
process.once('SIGTERM', () => void consumer.close().then(() => process.exit(0)));
send({ ready: true });
