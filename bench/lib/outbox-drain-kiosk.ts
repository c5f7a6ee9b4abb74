/**
 * The kiosk's end of the outbox-drain benchmark, as a process of its own so its memory is its own:
 * the journal, the business adapter on the mutual-TLS link and the forwarder, exactly as the
 * runtime wires them. It reports on standard output, one JSON object a line:
 *   { event: 'up' | 'down' | 'drained' | 'first-after-reconnect', at, ... }
 * and stops on SIGTERM.
 */
// First, as in the runtime (src/run-kiosk.ts): the young generation stays small.
import '../../src/young-generation.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Journal, readKey } from '../../src/journal/index.js';
import { EnvelopeAdapter } from '../../src/uplink/link/envelope-adapter.js';
import { Forwarder } from '../../src/uplink/forwarder.js';
import { loadTlsMaterial } from '../../src/tls/material.js';

const { values: a } = parseArgs({
  options: {
    journal: { type: 'string' },
    'journal-key': { type: 'string' },
    port: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    batch: { type: 'string' },
  },
});

function memory(): { rss: number; hwm: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const say = (event: string, more: Record<string, unknown> = {}): void => {
  process.stdout.write(JSON.stringify({ event, at: Date.now(), ...more }) + '\n');
};

const journal = Journal.open(a.journal!, { key: readKey(a['journal-key']!) });
const adapter = new EnvelopeAdapter({
  host: '127.0.0.1',
  port: Number(a.port),
  serverName: 'localhost',
  tls: loadTlsMaterial({ ca: a.ca!, cert: a.cert!, key: a.key! }),
  timeoutMs: 10_000,
  probeIntervalMs: 5000,
  // The defaults of the configuration.
  backoff: { initialMs: 1000, maxMs: 60_000 },
});
const forwarder = new Forwarder({ outbox: journal, adapter, batchSize: Number(a.batch), idleMs: 50, backoff: { initialMs: 1000, maxMs: 60_000 } });

let ups = 0;
let reconnected = false;
let sent = 0;
/** The outbox is being emptied: 'drained' is said once it is. */
let draining = false;
const samples: number[] = [];
adapter.on('up', () => {
  ups += 1;
  reconnected = ups > 1;
  if (reconnected) draining = true;
  say('up');
});
adapter.on('down', (d) => say('down', { reason: d.reason }));
forwarder.on('sent', () => {
  if (reconnected) {
    reconnected = false;
    say('first-after-reconnect');
  }
  sent += 1;
  if (sent % 1000 === 0) samples.push(memory().rss);
});
// One index look-up each time, however long the backlog.
setInterval(() => {
  if (!draining || journal.outboxOldestPendingAt() !== null) return;
  draining = false;
  say('drained', { sent, ...memory(), samples: samples.splice(0) });
}, 50);

process.once('SIGTERM', () => {
  void forwarder.stop().then(async () => {
    await adapter.stop();
    journal.close();
    process.exit(0);
  });
});

adapter.start();
await adapter.waitUp(30_000);
say('start', memory());
draining = true;
forwarder.start();
