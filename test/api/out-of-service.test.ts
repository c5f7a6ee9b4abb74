import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';

// The attack: an engineer takes the kiosk out of service (`kiosk ctl out-of-service`, the screen
// shows maintenance), and a customer (or anyone on the screen's API) starts a payment anyway. Run
// against the real runtime (dist/, built by `npm run build`) with the emulated validator.

const PHONE = '13800138077';
const dir = mkdtempSync(join(tmpdir(), 'kiosk-oos-'));
const stack = new SimStack({ dir, accounts: [{ phone: PHONE, amountDue: 5000, holder: 'Zhang San' }], config: { api: { port: 0 } } });
t.teardown(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

await stack.start();
const screenUrl = await stack.startRuntimeWithScreen();

type Status = {
  terminal: { state: string };
  validator: { accepting: boolean };
  transaction: { state: string } | null;
  lastTransaction: { status: string; cashIn: number } | null;
};

async function status(): Promise<Status> {
  const st = await stack.control({ cmd: 'status' });
  if (!st.ok) throw new Error(st.error);
  return st as unknown as Status;
}

async function until(what: string, pred: (st: Status) => boolean, timeoutMs = 20_000): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await status();
    if (pred(st)) return st;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(st.terminal)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const intent = (body: unknown) =>
  fetch(new URL('api/intent', screenUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

await until('in service', (s) => s.terminal.state === 'inService');

t.test('out of service by an engineer: neither the screen nor the control socket starts a payment', async (t) => {
  const out = await stack.control({ cmd: 'out-of-service', by: 'engineer', reason: 'cash collection' });
  t.ok(out.ok);
  await until('out of service', (s) => s.terminal.state === 'outOfService.operator');

  for (const service of ['pay', 'topup'] as const) {
    const res = await intent({ type: 'start', service });
    t.equal(res.status, 409, `the screen's API refuses to start ${service}`);
    t.match(((await res.json()) as { error: string }).error, /not available now/);
    const ctl = await stack.control({ cmd: 'start', service });
    t.notOk(ctl.ok, `the control socket refuses to start ${service}`);
  }
  const st = await status();
  t.equal(st.transaction, null, 'no transaction runs');
  t.equal(st.validator.accepting, false, 'the validator stays inhibited');

  t.ok((await stack.control({ cmd: 'in-service', by: 'engineer' })).ok);
  await until('back in service', (s) => s.terminal.state === 'inService');
});

t.test('a transaction that took nothing yet is cancelled when the engineer takes the kiosk out', async (t) => {
  t.equal((await intent({ type: 'start', service: 'pay' })).status, 200, 'in service a payment starts');
  t.equal((await intent({ type: 'number', phone: PHONE })).status, 200);
  await until('the review', (s) => s.transaction?.state === 'review');

  t.ok((await stack.control({ cmd: 'out-of-service', by: 'engineer', reason: 'hopper refill' })).ok);
  const st = await until('the transaction to end', (s) => s.transaction === null);
  t.equal(st.lastTransaction?.status, 'cancelled');
  t.equal((await intent({ type: 'confirm' })).status, 409, 'the confirm that would enable the validator comes too late');
  t.equal((await status()).validator.accepting, false, 'the validator stays inhibited');

  t.ok((await stack.control({ cmd: 'in-service', by: 'engineer' })).ok);
  await until('back in service', (s) => s.terminal.state === 'inService');
});

t.test('out of service by a remote command: the screen cannot start a payment either', async (t) => {
  stack.host.management!.queueCommand({ terminalId: 'SIM-0001', type: 'out-of-service', by: 'ops', args: { reason: 'audit' } });
  await until('out of service', (s) => s.terminal.state === 'outOfService.operator');
  t.equal((await intent({ type: 'start', service: 'pay' })).status, 409);
  t.notOk((await stack.control({ cmd: 'start', service: 'topup' })).ok);
  t.equal((await status()).validator.accepting, false, 'the validator stays inhibited');
});
