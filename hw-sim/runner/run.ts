import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Journal, readKey } from '../../src/journal/index.js';
import type { ControlRequest, ControlResponse } from '../../src/control/protocol.js';
import { requestFromWords } from '../../src/control/words.js';
import { SimStack, type ValidatorModel } from '../stack.js';
import { scenarioSchema, type Scenario, type Step } from './scenario.js';
import { journalOrderProblems, managementProblems, queueRemoteCommand, waitForManagement } from './management.js';
import { cardProblems, setServerCardMode, waitForServerCards, type CardRecords } from './cards.js';
import { serverClaimProblems, slipProblems, type ClaimRecords } from './claims.js';
import { payOrder, setServerWallet, walletProblems } from './wallet.js';

export interface ScenarioResult {
  name: string;
  file: string;
  ok: boolean;
  failures: string[];
  durationMs: number;
  folder?: string;
}

export async function runScenarioFiles(files: string[], opts: { json: boolean; keep: boolean; validator?: ValidatorModel }): Promise<boolean> {
  let allOk = true;
  for (const file of files) {
    const result = await runScenarioFile(file, opts.keep, opts.validator);
    allOk &&= result.ok;
    if (opts.json) {
      console.log(JSON.stringify(result));
    } else {
      console.log(`${result.ok ? 'PASS' : 'FAIL'}  ${result.name}  (${basename(file)}, ${(result.durationMs / 1000).toFixed(1)} s)`);
      for (const f of result.failures) console.log(`      - ${f}`);
      if (result.folder) console.log(`      files kept in ${result.folder}`);
    }
  }
  return allOk;
}

/** `validator` runs the scenario against that validator protocol's emulator instead of ID-003. */
export async function runScenarioFile(file: string, keep: boolean, validator?: ValidatorModel): Promise<ScenarioResult> {
  const started = Date.now();
  let scenario: Scenario;
  try {
    scenario = scenarioSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (e) {
    return { name: basename(file), file, ok: false, failures: [`cannot read the scenario: ${(e as Error).message}`], durationMs: 0 };
  }
  const folder = mkdtempSync(join(tmpdir(), 'kiosk-scenario-'));
  const logLines: string[] = [];
  const failures = await runScenario(scenario, folder, logLines, scenario.validator ?? validator).catch((e: Error) => [`scenario aborted: ${e.message}`]);
  writeFileSync(join(folder, 'runtime.log'), logLines.join('\n') + '\n');
  const ok = failures.length === 0;
  if (!keep && ok) rmSync(folder, { recursive: true, force: true });
  const result: ScenarioResult = { name: scenario.name, file, ok, failures, durationMs: Date.now() - started };
  if (keep || !ok) result.folder = folder;
  return result;
}

async function runScenario(s: Scenario, folder: string, logLines: string[], validator: ValidatorModel | undefined): Promise<string[]> {
  const stack = new SimStack({
    dir: folder,
    ...(validator ? { validatorModel: validator } : {}),
    hostPort: 0,
    ...(s.accounts ? { accounts: s.accounts } : {}),
    ...(s.config ? { config: s.config } : {}),
    ...(s.emulator ? { emulatorTiming: s.emulator } : {}),
    ...(s.fit ? { fitted: s.fit } : {}),
    onRuntimeLog: (e) => logLines.push(JSON.stringify(e)),
    onDeviceLine: (device, line) => logLines.push(`[${device}] ${line}`),
  });
  try {
    await stack.start();
    await stack.startRuntime(s.crashAfter ? { KIOSK_CRASH_AFTER: s.crashAfter } : {});
    for (const [i, step] of s.steps.entries()) {
      try {
        await runStep(stack, step, logLines);
      } catch (e) {
        return [`step ${i + 1} ${JSON.stringify(step)}: ${(e as Error).message}`];
      }
    }
    let terminal: string | null = null;
    if (stack.runtimeRunning) {
      const st = await stack.control({ cmd: 'status' });
      if (st.ok) terminal = (st.terminal as { state: string }).state;
      await stack.killRuntime('SIGTERM');
    }
    const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as { payments: Record<string, unknown>[] } & CardRecords & ClaimRecords;
    // Read before check() opens the journal for writing.
    const undelivered = pendingOutbox(join(folder, 'journal.db'));
    const failures = check(s, join(folder, 'journal.db'), records.payments, terminal, stack.receiptsDir);
    if (s.expect.management) failures.push(...managementProblems(s.expect.management, stack.host.management?.records()));
    if (s.expect.journalOrder) failures.push(...journalOrderProblems(join(folder, 'journal.db'), s.expect.journalOrder));
    if (s.expect.delivered) failures.push(...deliveryProblems(join(folder, 'journal.db'), records.payments, undelivered));
    if (s.expect.server) {
      failures.push(...cardProblems(s.expect.server, records), ...serverClaimProblems(s.expect.server, records), ...(await walletProblems(stack, s.expect.server)));
    }
    failures.push(...slipProblems(join(folder, 'journal.db'), stack.receiptsDir, s.expect.slips));
    for (const [hopper, want] of Object.entries(s.expect.hopperPaid ?? {})) {
      const got = stack.coinsPaid.get(hopper) ?? 0;
      if (got !== want) failures.push(`hopper ${hopper} dropped ${got} coin(s), expected ${want}`);
    }
    return failures;
  } finally {
    await stack.stop();
  }
}

async function runStep(stack: SimStack, step: Step, logLines: readonly string[]): Promise<void> {
  if ('repeat' in step) {
    for (let round = 1; round <= step.repeat; round++) {
      for (const [i, inner] of step.steps.entries()) {
        try {
          await runStep(stack, inner, logLines);
        } catch (e) {
          throw new Error(`round ${round}, step ${i + 1} ${JSON.stringify(inner)}: ${(e as Error).message}`);
        }
      }
    }
  } else if ('customer' in step) {
    if (step.crashes) {
      // The request's own journal write is the crash point: the connection closes instead of answering.
      await stack.control(customerRequest(step.customer)).catch(() => undefined);
      return;
    }
    const res = await stack.control(customerRequest(step.customer));
    if (step.refused !== undefined) await expectRefusal(stack, res, step.refused);
    else if (!res.ok) throw new Error(`the kiosk refused: ${res.error}`);
  } else if ('device' in step) {
    stack.deviceCommand(step.device, step.to);
  } else if ('server' in step) {
    if (step.server === 'restart') await stack.restartHost();
    else if (step.server === 'wrong-certificate') await stack.serverCertificate('wrong');
    else if (step.server === 'right-certificate') await stack.serverCertificate('right');
    else stack.host.setMode(step.server, step.delayMs);
  } else if ('serverCard' in step) {
    await setServerCardMode(stack, step.serverCard);
  } else if ('serverWallet' in step) {
    await setServerWallet(stack, step.serverWallet);
  } else if ('phone' in step) {
    await payOrder(stack);
  } else if ('management' in step) {
    queueRemoteCommand(stack, step);
  } else if ('managementServer' in step) {
    stack.host.management?.setMode(step.managementServer, step.delayMs);
  } else if ('collect' in step) {
    const res = await stack.control({ cmd: 'cash-collection', by: step.by, counted: step.collect });
    if (!res.ok) throw new Error(`the kiosk refused the collection: ${res.error}`);
  } else if ('unplug' in step) {
    await stack.unplug(step.unplug);
  } else if ('replug' in step) {
    await stack.replug(step.replug);
  } else if ('runtime' in step) {
    if (step.runtime === 'start') await stack.startRuntime(step.crashAfter ? { KIOSK_CRASH_AFTER: step.crashAfter } : {});
    else await stack.killRuntime(step.runtime === 'kill' ? 'SIGKILL' : 'SIGTERM');
  } else {
    await runWait(stack, step.wait, logLines);
  }
}

/** The kiosk answered with an error, or the running transaction now shows `error` to the customer. */
async function expectRefusal(stack: SimStack, res: ControlResponse, error: string): Promise<void> {
  if (!res.ok) {
    if (!String(res.error).includes(error)) throw new Error(`the kiosk refused with ${JSON.stringify(res.error)}, expected ${JSON.stringify(error)}`);
    return;
  }
  const st = await stack.control({ cmd: 'status' });
  const txn = st.ok ? (st.transaction as { state: string; error: string | null } | null) : null;
  if (txn?.error !== error) {
    throw new Error(`expected the refusal ${JSON.stringify(error)}; the transaction is ${txn ? `${txn.state}, error ${JSON.stringify(txn.error)}` : 'not running'}`);
  }
}

function customerRequest(line: string): ControlRequest {
  const [word = '', arg] = line.trim().split(/\s+/, 2);
  return requestFromWords(word, arg);
}

type Wait = Extract<Step, { wait: unknown }>['wait'];

async function runWait(stack: SimStack, w: Wait, logLines: readonly string[]): Promise<void> {
  if (w.ms) {
    await sleep(w.ms);
    return;
  }
  if (w.exit) {
    await stack.runtimeExited(w.timeoutMs);
    return;
  }
  if (w.device) {
    const text = w.device;
    await stack.waitForDeviceLine(w.from ?? 'validator', (line) => line.includes(text), w.timeoutMs, { recent: true });
    return;
  }
  if (w.seen) {
    const text = w.seen;
    // Both synchronous: no log line can arrive between the look back and the wait.
    const logged = logLines.some((l) => l.startsWith('{') && String((JSON.parse(l) as { msg?: unknown }).msg).includes(text));
    if (!logged) await stack.waitForLog((e) => String(e.msg).includes(text), w.timeoutMs);
    return;
  }
  if (w.log) {
    const text = w.log;
    await stack.waitForLog((e) => String(e.msg).includes(text), w.timeoutMs);
    return;
  }
  if (await waitForManagement(stack, w)) return;
  if (await waitForServerCards(stack, w)) return;
  const deadline = Date.now() + w.timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const st = await stack.control({ cmd: 'status' }).catch(() => null);
    if (st?.ok) {
      const txn = st.transaction as { state: string; error: string | null } | null;
      const { state: terminal, card } = st.terminal as { state: string; card: string | null };
      const outbox = st.outbox as { pending: number };
      last = `transaction ${txn ? `${txn.state} (error ${String(txn.error)})` : 'none'}, terminal ${terminal} (card ${String(card)}), outbox ${outbox.pending}`;
      const txnOk = w.txn === undefined || (txn !== null && (txn.state === w.txn || txn.state.startsWith(`${w.txn}.`)));
      const txnErrorOk = w.txnError === undefined || txn?.error === w.txnError;
      const cardOk = w.card === undefined || (card ?? 'none') === w.card;
      const terminalOk = w.terminal === undefined || terminal.split('.')[0] === w.terminal;
      const idleOk = w.idle === undefined || txn === null;
      const outboxOk = w.outboxEmpty === undefined || outbox.pending === 0;
      const acceptingOk = w.accepting === undefined || (st.validator as { accepting: boolean }).accepting;
      if (txnOk && txnErrorOk && cardOk && terminalOk && idleOk && outboxOk && acceptingOk) return;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${w.timeoutMs} ms (last seen: ${last || 'no answer'})`);
}

interface TxnRecord {
  id: string;
  service: string;
  phone: string | null;
  amount_due: number | null;
  status: string;
  end_reason: string | null;
  cash_in: number;
  card_in: number;
  mobile_in: number;
  credited: number;
  change_paid: number;
  change_owed: number;
}

/** Reads the journal file directly (not through the runtime) and compares it with what was expected. */
function check(
  s: Scenario,
  journalPath: string,
  payments: Record<string, unknown>[],
  terminal: string | null,
  receiptsDir: string,
): string[] {
  const failures: string[] = [];
  const db = new Database(journalPath, { readonly: true });
  try {
    const txns = db.prepare('SELECT * FROM transactions ORDER BY created_at, rowid').all() as TxnRecord[];
    const eventsOf = db.prepare('SELECT type FROM events WHERE txn_id = ? ORDER BY seq');
    const allTypes = new Set((db.prepare('SELECT DISTINCT type FROM events').all() as { type: string }[]).map((r) => r.type));

    for (const t of txns) {
      if (t.status === 'open') failures.push(`transaction ${t.id} is still open`);
      if (t.cash_in + t.card_in + t.mobile_in !== t.credited + t.change_paid + t.change_owed) {
        failures.push(
          `transaction ${t.id}: cash in ${t.cash_in} + card in ${t.card_in} + mobile in ${t.mobile_in} ≠ credited ${t.credited} + change paid ${t.change_paid} + change owed ${t.change_owed}`,
        );
      }
    }
    const exp = s.expect;
    if (exp.transactions) {
      if (txns.length !== exp.transactions.length) failures.push(`expected ${exp.transactions.length} transaction(s), the journal has ${txns.length}`);
      exp.transactions.forEach((want, i) => {
        const got = txns[i];
        if (!got) return;
        const fields: [string, unknown, unknown][] = [
          ['service', want.service, got.service],
          ['phone', want.phone, got.phone],
          ['status', want.status, got.status],
          ['endReason', want.endReason, got.end_reason],
          ['cashIn', want.cashIn, got.cash_in],
          ['cardIn', want.cardIn, got.card_in],
          ['mobileIn', want.mobileIn, got.mobile_in],
          ['credited', want.credited, got.credited],
          ['changePaid', want.changePaid, got.change_paid],
          ['changeOwed', want.changeOwed, got.change_owed],
          ['amountDue', want.amountDue, got.amount_due],
        ];
        for (const [name, w, g] of fields) {
          if (w !== undefined && w !== g) failures.push(`transaction ${i + 1}: ${name} is ${JSON.stringify(g)}, expected ${JSON.stringify(w)}`);
        }
        const types = (eventsOf.all(got.id) as { type: string }[]).map((r) => r.type);
        if (want.events && !isSubsequence(want.events, types)) {
          failures.push(`transaction ${i + 1}: events [${types.join(', ')}] do not contain [${want.events.join(', ')}] in order`);
        }
        for (const banned of want.noEvents ?? []) {
          if (types.includes(banned)) failures.push(`transaction ${i + 1}: unexpected event ${banned}`);
        }
      });
    }
    if (exp.cashbox) {
      const rows = db.prepare('SELECT value, count FROM cashbox').all() as { value: number; count: number }[];
      const got = Object.fromEntries(rows.filter((r) => r.count > 0).map((r) => [String(r.value), r.count]));
      if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(exp.cashbox))) {
        failures.push(`cash box is ${JSON.stringify(got)}, expected ${JSON.stringify(exp.cashbox)}`);
      }
    }
    if (exp.coinbox) {
      const rows = db.prepare('SELECT value, count FROM coinbox').all() as { value: number; count: number }[];
      const got = Object.fromEntries(rows.filter((r) => r.count > 0).map((r) => [String(r.value), r.count]));
      if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(exp.coinbox))) {
        failures.push(`coin box is ${JSON.stringify(got)}, expected ${JSON.stringify(exp.coinbox)}`);
      }
    }
    for (const type of exp.journalEvents ?? []) {
      if (!allTypes.has(type)) failures.push(`the journal has no ${type} event`);
    }
  } finally {
    db.close();
  }
  const journal = Journal.open(journalPath, { key: readKey(join(dirname(journalPath), 'journal.key')) });
  try {
    for (const problem of journal.verify()) failures.push(`journal verify: ${problem}`);
    for (const problem of journal.claimProblems()) failures.push(`claims: ${problem}`);
  } finally {
    journal.close();
  }
  if (s.expect.server) {
    const want = s.expect.server.payments;
    const resent = payments.reduce((n, p) => n + Number(p.duplicates ?? 0), 0);
    const atLeast = s.expect.server.duplicatesAtLeast;
    if (atLeast !== undefined && resent < atLeast) failures.push(`the server answered ${resent} resend(s) 'duplicate', expected at least ${atLeast}`);
    if (want && payments.length !== want.length) failures.push(`the server holds ${payments.length} payment(s), expected ${want.length}`);
    want?.forEach((w, i) => {
      const got = payments[i];
      if (!got) return;
      for (const [k, v] of Object.entries(w)) {
        if (got[k] !== v) failures.push(`server payment ${i + 1}: ${k} is ${JSON.stringify(got[k])}, expected ${JSON.stringify(v)}`);
      }
    });
  }
  if (s.expect.receipts) {
    const text = readReceipts(receiptsDir);
    for (const want of s.expect.receipts) if (!text.includes(want)) failures.push(`no printed receipt contains ${JSON.stringify(want)}`);
  }
  if (s.expect.terminal && terminal?.split('.')[0] !== s.expect.terminal) failures.push(`terminal is ${terminal ?? 'not running'}, expected ${s.expect.terminal}`);
  return failures;
}

function pendingOutbox(journalPath: string): number {
  const db = new Database(journalPath, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE acked_at IS NULL').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Each settled payment of the journal at the server exactly once, with its amount, and nothing else. */
function deliveryProblems(journalPath: string, payments: Record<string, unknown>[], undelivered: number): string[] {
  const problems: string[] = [];
  if (undelivered > 0) problems.push(`${undelivered} message(s) still in the outbox`);
  const db = new Database(journalPath, { readonly: true });
  let settled: { id: string; credited: number }[];
  let journalOrder: string[];
  try {
    // Owed change credited to the account travels as its claim message, not in the payment.
    settled = db
      .prepare(
        `SELECT id, credited - COALESCE((SELECT SUM(amount) FROM claims c WHERE c.txn_id = t.id AND c.status = 'credited'), 0) AS credited
         FROM transactions t WHERE status = 'completed' AND credited > 0 ORDER BY created_at, rowid`,
      )
      .all() as { id: string; credited: number }[];
    journalOrder = (db.prepare(`SELECT txn_id FROM outbox WHERE kind = 'payment' ORDER BY seq`).all() as { txn_id: string }[]).map((r) => r.txn_id);
  } finally {
    db.close();
  }
  const serverOrder = payments.map((p) => String(p.txnId)).filter((id) => journalOrder.includes(id));
  if (serverOrder.join() !== journalOrder.join()) problems.push('the server received the payments in another order than the journal settled them');
  const held = new Map<string, Record<string, unknown>[]>();
  for (const p of payments) held.set(String(p.txnId), [...(held.get(String(p.txnId)) ?? []), p]);
  for (const t of settled) {
    const rows = held.get(t.id) ?? [];
    if (rows.length !== 1) problems.push(`transaction ${t.id}: the server holds ${rows.length} payment(s) for it, expected exactly 1`);
    else if (rows[0]!.amount !== t.credited) problems.push(`transaction ${t.id}: the server holds ${String(rows[0]!.amount)}, the journal credited ${t.credited}`);
    held.delete(t.id);
  }
  for (const txnId of held.keys()) problems.push(`the server holds a payment for ${txnId}, which the journal did not settle`);
  return problems;
}

function readReceipts(dir: string): string {
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

function isSubsequence(want: string[], got: string[]): boolean {
  let i = 0;
  for (const g of got) if (g === want[i]) i++;
  return i === want.length;
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
