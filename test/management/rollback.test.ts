import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';

// Issue 15, item 2: an older copy of the journal put back whole is a sound chain by itself. The
// servers saw a later head: the kiosk must find out from their answers and refuse to serve, and the
// reference servers must record it. Against the real runtime (dist/, `npm run build`).

const dir = mkdtempSync(join(tmpdir(), 'kiosk-rollback-'));
const stack = new SimStack({ dir });
t.teardown(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});
const journal = join(dir, 'journal.db');

type Status = { terminal: { state: string; reason: string | null } };
type Head = { seq: number; hash: string };

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function status(): Promise<Status> {
  const st = await stack.control({ cmd: 'status' });
  if (!st.ok) throw new Error(st.error);
  return st as unknown as Status;
}

/** The head the management server last heard from the kiosk. */
function reportedHead(): Head | undefined {
  const hb = stack.host.management!.records().heartbeats[0];
  return hb?.last.chainHead as Head | undefined;
}

await stack.start();

t.test('a journal put back to an older copy: the servers notice, the kiosk stays out of service', async (t) => {
  await stack.startRuntime();
  await until('in service', async () => ((await status()).terminal.state === 'inService' ? true : undefined));
  const old = await until('a heartbeat with the chain head', () => reportedHead());
  await stack.killRuntime('SIGTERM');
  copyFileSync(journal, `${journal}.old`);

  // The kiosk goes on working: an engineer's visit adds events, and the servers hear of them.
  await stack.startRuntime();
  // Many events, so that the events the rolled-back kiosk writes while booting stay below them.
  for (let i = 0; i < 15; i++) {
    t.ok((await stack.control({ cmd: 'out-of-service', by: 'engineer', reason: 'check' })).ok);
    t.ok((await stack.control({ cmd: 'in-service', by: 'engineer' })).ok);
  }
  const target = (await until('the events written', async () => {
    const r = await stack.control({ cmd: 'status' });
    return r.ok ? r : undefined;
  })) && old.seq + 30;
  const later = await until('a later head reported', () => {
    const h = reportedHead();
    return h && h.seq > target ? h : undefined;
  });
  await stack.killRuntime('SIGTERM');

  // The attack: the older file put back whole (WAL and shared memory files gone with it).
  copyFileSync(`${journal}.old`, journal);
  rmSync(`${journal}-wal`, { force: true });
  rmSync(`${journal}-shm`, { force: true });

  await stack.startRuntime();
  const st = await until('the kiosk to refuse service', async () => {
    const s = await status();
    return s.terminal.state === 'outOfService.bootFailed' ? s : undefined;
  });
  t.match(st.terminal.reason, new RegExp(`journal rolled back: the (management|business) server saw event ${later.seq}`));
  t.notOk((await stack.control({ cmd: 'start', service: 'topup' })).ok, 'no customer is served');

  const serverAlarm = await until('the management server to raise its own alarm', () =>
    stack.host.management!.records().alarms.find((a) => a.kind === 'chain-rolled-back' && a.source === 'server'),
  );
  t.match(serverAlarm, { severity: 'critical', detail: new RegExp(`ending at event \\d+; it reported event ${later.seq} before`) });
  const kioskAlarm = await until("the kiosk's own alarm to reach the management server", () =>
    stack.host.management!.records().alarms.find((a) => a.kind === 'journal-rollback' && a.action === 'raise'),
  );
  t.match(kioskAlarm, { severity: 'critical', source: 'journal' });

  // A retry runs recovery again, which checks the journal again: still out of service.
  await stack.killRuntime('SIGTERM');
});
