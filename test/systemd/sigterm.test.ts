import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { SimStack, type StackOptions } from '../../hw-sim/stack.js';
import { Journal, readKey } from '../../src/journal/index.js';

// `systemctl stop kiosk` sends SIGTERM to the runtime (dist/, built by `npm test`'s pretest) with a
// customer in the middle of paying. Whatever it was doing, no money may be lost: what went into the
// cash box is credited exactly once, the validator is left inhibited, and the next start closes
// the transaction.

interface TxnRow {
  id: string;
  status: string;
  end_reason: string | null;
  cash_in: number;
  credited: number;
  change_paid: number;
  change_owed: number;
}

function readJournal(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const txns = db.prepare('SELECT * FROM transactions ORDER BY created_at, rowid').all() as TxnRow[];
    const byTxn = new Map<string, string[]>();
    for (const e of db.prepare('SELECT txn_id, type FROM events WHERE txn_id IS NOT NULL ORDER BY seq').all() as { txn_id: string; type: string }[]) {
      byTxn.set(e.txn_id, [...(byTxn.get(e.txn_id) ?? []), e.type]);
    }
    const cashbox = Object.fromEntries((db.prepare('SELECT value, count FROM cashbox WHERE count > 0').all() as { value: number; count: number }[]).map((r) => [String(r.value), r.count]));
    return { txns, events: (id: string) => byTxn.get(id) ?? [], cashbox };
  } finally {
    db.close();
  }
}

function verify(path: string): string[] {
  const journal = Journal.open(path, { key: readKey(join(dirname(path), 'journal.key')) });
  try {
    return journal.verify();
  } finally {
    journal.close();
  }
}

async function startStack(t: Test, opts: Omit<StackOptions, 'dir'>) {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-sigterm-'));
  const stack = new SimStack({ dir, ...opts });
  t.teardown(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await stack.start();
  await stack.startRuntime();
  return { stack, journal: join(dir, 'journal.db') };
}

async function until(stack: SimStack, what: string, pred: (st: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = await stack.control({ cmd: 'status' }).catch(() => null);
    if (st?.ok && pred(st)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const terminalIs = (state: string) => (st: Record<string, unknown>) => (st.terminal as { state: string }).state === state;
const txnIs = (state: string) => (st: Record<string, unknown>) => (st.transaction as { state: string } | null)?.state.split('.')[0] === state;
const accepting = (st: Record<string, unknown>) => txnIs('cash')(st) && (st.validator as { accepting: boolean }).accepting;

/** A customer reaches the cash screen for `phone`. */
async function toCash(stack: SimStack, phone: string): Promise<void> {
  await until(stack, 'the terminal in service', terminalIs('inService'));
  for (const req of [{ cmd: 'start', service: 'pay' }, { cmd: 'number', phone }] as const) {
    const r = await stack.control(req);
    if (!r.ok) throw new Error(`${req.cmd}: ${r.error}`);
  }
  await until(stack, 'the review screen', txnIs('review'));
  await stack.control({ cmd: 'confirm' });
  await until(stack, 'the validator accepting', accepting);
}

/** SIGTERM, and the exit code the runtime ends with. */
async function sigterm(stack: SimStack): Promise<number | null> {
  const exited = stack.runtimeExited(60_000);
  await stack.killRuntime('SIGTERM');
  return exited;
}

/** The emulator's own account of its state, e.g. "state idle, status 0x1A, inhibited, ...". */
async function validatorState(stack: SimStack): Promise<string> {
  let line = '';
  const seen = stack.waitForDeviceLine('validator', (l) => ((line = l), l.startsWith('state ')), 5000);
  stack.deviceCommand('status');
  await seen;
  return line;
}

/** The second start: recovery closes what the stop parked; the server gets the payment once. */
async function restartAndSettle(t: Test, stack: SimStack, journal: string, cashIn: number): Promise<void> {
  await stack.startRuntime();
  await until(stack, 'the terminal in service after the restart', terminalIs('inService'));
  await until(stack, 'the outbox drained', (st) => (st.outbox as { pending: number }).pending === 0);
  t.equal(await sigterm(stack), 0, 'the second stop is clean too');
  const after = readJournal(journal);
  t.equal(after.txns.length, 1);
  const txn = after.txns[0]!;
  t.equal(txn.status, 'completed', 'the transaction is settled');
  t.equal(txn.cash_in, cashIn);
  t.equal(txn.cash_in, txn.credited + txn.change_paid + txn.change_owed, 'cash in = credited + change');
  t.equal(after.events(txn.id).filter((e) => e === 'note.stacked').length, Object.values(after.cashbox).reduce((a, b) => a + b, 0), 'each note in the box credited once');
  t.same(verify(journal), [], 'journal verify finds nothing wrong');
  const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as { payments: { amount: number }[] };
  t.same(records.payments.map((p) => p.amount), [txn.credited], 'the server holds the payment once');
}

t.test('SIGTERM after a note was credited: parked, validator inhibited, settled at the next start', async (t) => {
  const { stack, journal } = await startStack(t, { accounts: [{ phone: '13800138301', amountDue: 5000 }] });
  await toCash(stack, '13800138301');
  const credited = stack.waitForLog((e) => e.msg === 'note stacked and credited', 15_000);
  stack.deviceCommand('insert 2000');
  await credited;

  t.equal(await sigterm(stack), 0, 'the runtime exits 0 on SIGTERM');
  t.match(await validatorState(stack), /, inhibited,/, 'the validator was left inhibited');
  const parked = readJournal(journal);
  t.equal(parked.txns[0]?.cash_in, 2000, 'the credit is in the journal');
  t.same(parked.cashbox, { '2000': 1 });
  t.same(verify(journal), [], 'the parked journal verifies');

  await restartAndSettle(t, stack, journal, 2000);
});

t.test('SIGTERM while a note is being stacked: it is credited before the runtime exits', async (t) => {
  const { stack, journal } = await startStack(t, {
    accounts: [{ phone: '13800138302', amountDue: 5000 }],
    // Slow stacking keeps the note between Stack and VEND VALID when the signal arrives.
    emulatorTiming: { stackingMs: 1500 },
  });
  await toCash(stack, '13800138302');
  const escrowed = stack.waitForLog((e) => String(e.msg).startsWith('escrow decision: stack'), 15_000);
  stack.deviceCommand('insert 2000');
  await escrowed;

  t.equal(await sigterm(stack), 0, 'the runtime exits 0 on SIGTERM');
  const parked = readJournal(journal);
  const txn = parked.txns[0]!;
  const types = parked.events(txn.id);
  t.ok(types.includes('note.stacked'), 'the note was credited before the exit');
  t.notOk(types.includes('note.unresolved'), 'not left unresolved');
  t.equal(txn.cash_in, 2000);
  t.match(await validatorState(stack), /, inhibited,/, 'the validator was left inhibited');

  await restartAndSettle(t, stack, journal, 2000);
});

t.test('SIGTERM during a payout: the change is paid before the runtime exits', async (t) => {
  const { stack, journal } = await startStack(t, {
    accounts: [{ phone: '13800138303', amountDue: 3350 }],
    fitted: { hoppers: true },
  });
  await toCash(stack, '13800138303');
  const paying = stack.waitForLog((e) => e.msg === 'payout intended', 15_000);
  stack.deviceCommand('insert 5000');
  await paying;

  t.equal(await sigterm(stack), 0, 'the runtime exits 0 on SIGTERM');
  const done = readJournal(journal);
  const txn = done.txns[0]!;
  t.equal(txn.status, 'completed', 'settled by the running transaction, not left to recovery');
  t.equal(txn.change_paid, 1650, '16.50 change paid');
  t.equal(txn.change_owed, 0);
  t.equal(stack.coinsPaid.get('h100'), 16);
  t.equal(stack.coinsPaid.get('h50'), 1);
  t.same(verify(journal), [], 'journal verify finds nothing wrong');
});
