import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { A, B, UpdateWorld, until } from './fixture.js';

// Issue 19, items 2 and 5: an update requested in the middle of a payment waits for it. The kiosk
// goes out of service with the reason `updating`, the customer's top-up (a note already in) ends
// normally, and only then is `current` switched. Against the real runtime (dist/).

// Real processes on a shared machine: several starts, downloads and restarts of the kiosk.
t.setTimeout(400_000);
const w = new UpdateWorld();
t.teardown(() => w.tearDown());
// The customer's own time-outs are longer than the test, so the payment stays open however long a
// loaded machine takes to download and unpack B: only the test ends it.
await w.setUp({}, { cashMs: 600_000, inputMs: 600_000 });
const sup = w.startKiosk();
await w.inService(A);

t.test('an update asked for mid-payment switches only after the payment ended', async (t) => {
  const published = await w.publish(await w.pack(B));
  // A loaded machine can leave the validator briefly unready: start once cash is taken.
  const started = await until('a top-up started', async () => {
    const r = await w.stack.control({ cmd: 'start', service: 'topup' });
    return r.ok ? r : undefined;
  }, 120_000);
  t.ok(started.ok, JSON.stringify(started));
  const id = String(started.id);
  // A known account is reviewed and confirmed; an unknown one is topped up offline.
  const next = sup.waitFor<Record<string, unknown>>('log', (e) => e.msg === 'transaction review' || e.msg === 'transaction lookupFailed', 60_000);
  t.ok((await w.stack.control({ cmd: 'number', phone: '13900000019' })).ok);
  const at = await next;
  const accepting = w.stack.waitForDeviceLine('validator', (l) => l.includes('inhibit off'), 60_000);
  t.ok((await w.stack.control(at.msg === 'transaction review' ? { cmd: 'confirm' } : { cmd: 'topup-offline' })).ok);
  await accepting;
  const stacked = w.stack.waitForDeviceLine('validator', (l) => l === 'stacked 1000 fen', 60_000);
  w.stack.deviceCommand('insert 1000');
  await stacked;

  // A refusal (a download that failed, say), or a switch because the payment had already ended,
  // ends the wait at once and fails the next assertion with what the kiosk did instead.
  const waiting = sup.waitFor<Record<string, unknown>>(
    'log',
    (e) => e.msg === 'update waits for the transaction under way' || /^(remote command update refused|switched to the new release)/.test(String(e.msg)),
    240_000,
  );
  w.requestUpdate(published);
  const waited = await waiting;
  t.equal(waited.msg, 'update waits for the transaction under way');
  t.equal(waited.transaction, id);
  const st = await w.stack.control({ cmd: 'status' });
  t.match((st as unknown as { terminal: { reason: string } }).terminal.reason, /updating/, 'out of service for the update');
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(readlinkSync(join(w.root, 'current')), `releases/${A}`, 'no switch while the payment is open');

  const ended = sup.waitFor<Record<string, unknown>>('log', (e) => typeof e.msg === 'string' && /^transaction (completed|cancelled)/.test(e.msg), 30_000);
  t.ok((await w.stack.control({ cmd: 'done' })).ok);
  t.match((await ended).msg, /^transaction completed/);
  await w.inService(B, 120_000);
  t.equal(readlinkSync(join(w.root, 'current')), `releases/${B}`);
  // B reads the payment A finished, from the same journal.
  const txn = await w.stack.control({ cmd: 'transaction', id });
  t.ok(txn.ok);
  t.match(txn.transaction, { status: 'completed', cashIn: 1000, credited: 1000, changeOwed: 0 }, 'the payment ended whole: cash in = credited');
});
