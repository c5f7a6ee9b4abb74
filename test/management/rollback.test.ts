import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';

// Issue 15, item 2: an older copy of the journal put back whole is a sound chain by itself. The
// servers saw a later head: the kiosk must find out from their answers and refuse to serve, and the
// reference servers must record it. Against the real runtime (dist/, `npm run build`).

const dir = mkdtempSync(join(tmpdir(), 'kiosk-rollback-'));
const stack = new SimStack({ dir, config: { api: { port: 0 } } });
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

/** Waits for two more heartbeats: at least one was sent, and answered, after this call. */
async function heartbeats(what: string): Promise<void> {
  const count = () => stack.host.management!.records().heartbeats[0]?.count ?? 0;
  const from = count();
  await until(what, () => (count() >= from + 2 ? true : undefined));
}

const intent = (screen: string, body: unknown) =>
  fetch(new URL('api/intent', screen), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test('the rollback is remembered: after a restart the kiosk refuses customers before any server answers', async (t) => {
  // Neither server answers now: only what the kiosk itself kept can hold it out of service.
  stack.host.setMode('down');
  stack.host.management!.setMode('refuse');
  const alarmAgain = stack.waitForLog((e) => e.msg === 'the journal is not the one the servers saw: out of service', 30_000);
  const screen = await stack.startRuntimeWithScreen();
  const seen = new Set<string>();
  const st = await until('the boot to end', async () => {
    const s = await status();
    seen.add(s.terminal.state);
    return ['booting', 'recovering', 'selfTest', 'evaluating'].includes(s.terminal.state) ? undefined : s;
  });
  t.equal(st.terminal.state, 'outOfService.bootFailed', 'out of service from the first moment');
  t.match(st.terminal.reason, /journal rolled back: the (management|business) server saw event \d+/);
  await alarmAgain;
  for (let i = 0; i < 10; i++) {
    seen.add((await status()).terminal.state);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.notOk(seen.has('inService') || seen.has('degraded'), `never in service (${[...seen].join(', ')})`);
  const res = await intent(screen, { type: 'start', service: 'pay' });
  t.equal(res.status, 409, "the screen's API refuses to start a payment");
  t.notOk((await stack.control({ cmd: 'start', service: 'topup' })).ok, 'the control socket refuses too');

  // The servers are back, still keeping the later head they saw: still out of service.
  stack.host.setMode('ok');
  stack.host.management!.setMode('ok');
  await heartbeats('heartbeats answered');
  t.equal((await status()).terminal.state, 'outOfService.bootFailed');

  // The storage card was replaced on purpose: the engineer accepts the journal in use.
  const accepted = await stack.control({ cmd: 'journal-rollback-accept', by: 'engineer wang' });
  t.ok(accepted.ok, 'the engineer accepts the journal');
  t.match(accepted, { accepted: [{ seq: Number, hash: String, server: String }] });
  const back = await until('back in service', async () => {
    const s = await status();
    return s.terminal.state === 'inService' ? s : undefined;
  });
  t.equal(back.terminal.reason, null);
  const started = await intent(screen, { type: 'start', service: 'topup' });
  t.equal(started.status, 200, 'a customer is served again');
  t.equal((await intent(screen, { type: 'cancel' })).status, 200);

  // The servers still keep the old head until their operator resets it: the kiosk no longer
  // counts it against the journal it accepted.
  await heartbeats('heartbeats after the acceptance');
  t.equal((await status()).terminal.state, 'inService', 'the accepted head is not a rollback any more');

  // The operator's side: both reference servers forget the terminal's heads.
  const reset = await fetch(new URL('_chain-heads/reset?terminal=SIM-0001', stack.host.url), { method: 'POST' });
  t.equal(reset.status, 200);
  t.match(await reset.json(), { terminal: 'SIM-0001', forgotten: { business: Number, management: Number } });
  const missing = await fetch(new URL('_chain-heads/reset', stack.host.url), { method: 'POST' });
  t.equal(missing.status, 400, 'the terminal must be named');
  await heartbeats('heartbeats after the reset');
  t.equal((await status()).terminal.state, 'inService');

  // And after a restart it serves from the start.
  await stack.killRuntime('SIGTERM');
  await stack.startRuntimeWithScreen();
  await until('in service after a restart', async () => ((await status()).terminal.state === 'inService' ? true : undefined));
  await stack.killRuntime('SIGTERM');
});
