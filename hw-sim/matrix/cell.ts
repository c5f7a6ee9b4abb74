import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInService } from '../soak/customer.js';
import { SimStack } from '../stack.js';
import { accountFor, type Ledger } from './accounting.js';
import type { Fault } from './faults.js';
import { control, PLAN, WAIT_MS, type Step } from './steps.js';

/** What one cell of the matrix observed. */
export interface CellResult {
  fault: string;
  step: string;
  /** The terminal's state once the fault had struck (or been given time to). */
  terminalDuring: string;
  /** The terminal's state once the fault was cleared and the transaction over. */
  terminalAfter: string;
  /** The runtime reported the fault (device status, power-up or link down) within the hold. */
  noticed: boolean;
  /** The kiosk refused to start the payment (idle column only). */
  refused: string | null;
  ledger: Ledger;
  /** Money not accounted for; empty when every fen is. */
  violations: string[];
  /** The run itself went wrong (a step never came); the cell says so instead of an outcome. */
  error: string | null;
  durationMs: number;
  /** Kept when the cell failed, for a look at the journal and the logs. */
  folder?: string;
}

/** How long the fault is left alone for the runtime to notice it before the customer carries on. */
const HOLD_MS = 5000;
/** How long the customer carries on with the fault present before a technician clears it. */
const FAULTED_MS = 25_000;
/** A note put in before the kiosk was known to take it gets this long to be stacked or handed back. */
const NOTE_MS = 10_000;

/** Short timeouts so that a payment the fault left stranded ends by itself within the cell. */
const CONFIG = { timeouts: { inputMs: 15_000, lookupMs: 5000, cashMs: 8000 } };

/**
 * One cell: a fresh kiosk with every device fitted, a payment driven to `step`, `fault` injected,
 * the customer carrying on as far as the kiosk lets them, the fault cleared once the transaction is
 * over, then the money checked against the journal, the emulators and the reference server.
 */
export async function runCell(fault: Fault, step: Step, opts: { keep?: boolean } = {}): Promise<CellResult> {
  const started = Date.now();
  const folder = mkdtempSync(join(tmpdir(), 'kiosk-matrix-'));
  const logLines: string[] = [];
  const deviceLines: { device: string; line: string }[] = [];
  const stack = new SimStack({
    dir: folder,
    fitted: { coins: true, hoppers: true, printer: true },
    accounts: [{ phone: PLAN.phone, amountDue: PLAN.amountDue }],
    // Long enough to strike while the note is on its way to the cash box.
    emulatorTiming: { stackingMs: 2000 },
    config: CONFIG,
    onRuntimeLog: (e) => logLines.push(JSON.stringify(e)),
    onDeviceLine: (device, line) => {
      deviceLines.push({ device, line });
      logLines.push(`[${device}] ${line}`);
    },
  });
  const result: CellResult = {
    fault: fault.id,
    step: step.id,
    terminalDuring: '',
    terminalAfter: '',
    noticed: false,
    refused: null,
    ledger: { transactions: [], receipts: {}, alarms: [], unresolvedNotes: 0, unattributedNotes: 0, emulatorCashbox: 0, journalCashbox: 0, coinsDropped: 0, coinsAccepted: 0 },
    violations: [],
    error: null,
    durationMs: 0,
  };
  let cleared = false;
  let present = true;
  try {
    await stack.start();
    await startInService(stack);
    // A fault typed while the validator still initialises would be masked by its start-up.
    await stack.waitForDeviceLine('validator', (l) => l.startsWith('initialized'), WAIT_MS, { recent: true });
    let id = await step.reach(stack);
    // Noticing may come after the hold (the transaction ended first), but only while the fault lasts.
    const noticed = stack.waitForLog((e) => present && noticedBy(fault, e), FAULTED_MS).then(
      () => (result.noticed = true),
      () => undefined,
    );
    await fault.inject(stack);
    await Promise.race([noticed, transactionOver(stack, id, HOLD_MS)]).catch(() => undefined);
    result.terminalDuring = await terminalState(stack);
    if (step.id === 'idle') {
      const r = await stack.control({ cmd: 'start', service: 'pay' });
      if (r.ok) id = String(r.id);
      else result.refused = r.error;
    }
    const open = () => validatorOpen(deviceLines);
    if (id) await carryOn(stack, open, Date.now() + FAULTED_MS);
    present = false;
    if (fault.clear) await fault.clear(stack);
    cleared = true;
    if (id) await carryOn(stack, open, Date.now() + 2 * FAULTED_MS);
    result.terminalAfter = await settled(stack);
    await outboxDrained(stack).catch((e: Error) => result.violations.push(e.message));
    await stack.killRuntime('SIGTERM');
    const account = await accountFor(folder, stack, deviceLines);
    result.ledger = account.ledger;
    result.violations.push(...account.violations);
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    if (!cleared && fault.clear) await fault.clear(stack).catch(() => undefined);
    await stack.stop().catch(() => undefined);
    result.durationMs = Date.now() - started;
    const failed = result.error !== null || result.violations.length > 0;
    if (failed || opts.keep) {
      writeFileSync(join(folder, 'cell.log'), logLines.join('\n') + '\n');
      result.folder = folder;
    } else {
      rmSync(folder, { recursive: true, force: true });
    }
  }
  return result;
}

/** The runtime's own word that the fault struck: its device's status, a power-up, or the link. */
function noticedBy(fault: Fault, e: Record<string, unknown>): boolean {
  if (fault.runtimeDevice === null) return e.msg === 'link to the central server is down';
  if (e.device !== fault.runtimeDevice) return fault.runtimeDevice === 'validator' && e.msg === 'validator reports a power-up';
  return typeof e.health === 'string' && e.health !== 'ok';
}

/** Resolves once the transaction is over, or after `timeoutMs` either way. */
async function transactionOver(stack: SimStack, id: string | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (id !== null && (await current(stack)) === null) return;
    await sleep(100);
  }
}

interface RunningTxn {
  state: string;
  service: string;
  credited: number;
  amountDue: number | null;
}

async function status(stack: SimStack): Promise<Record<string, unknown>> {
  return control(stack, { cmd: 'status' });
}

async function current(stack: SimStack): Promise<RunningTxn | null> {
  return (await status(stack)).transaction as RunningTxn | null;
}

async function terminalState(stack: SimStack): Promise<string> {
  return String(((await status(stack)).terminal as { state: string }).state);
}

/**
 * Whether the validator takes notes now, as a customer sees it (the bezel lit), from what its
 * emulator was last told: the runtime's own flag misses an enable the driver applied late, after
 * the device came back from a power cut.
 */
function validatorOpen(lines: readonly { device: string; line: string }[]): boolean {
  for (let i = lines.length - 1; i >= 0; i--) {
    const { device, line } = lines[i]!;
    if (device !== 'validator') continue;
    if (line === 'host: inhibit off (accepting enabled)') return true;
    if (line === 'host: inhibit on (disabled)' || line.startsWith('power up') || line === 'initializing') return false;
  }
  return false;
}

/**
 * The customer goes on with the payment as far as the kiosk lets them: enters the number, takes
 * the offline top-up when the look-up fails, confirms, puts notes in while the validator is open.
 * Whatever the kiosk then does by itself (time-outs, settling, change, receipt) it is left to do.
 */
async function carryOn(stack: SimStack, open: () => boolean, deadline: number): Promise<void> {
  const done = new Set<string>();
  const once = async (what: string, req: Parameters<SimStack['control']>[0]): Promise<void> => {
    if (done.has(what)) return;
    done.add(what);
    await stack.control(req);
  };
  let notes = 0;
  while (Date.now() < deadline) {
    const st = await status(stack);
    const txn = st.transaction as RunningTxn | null;
    if (txn === null) return;
    const top = txn.state.split('.')[0];
    if (top === 'number') await once('number', { cmd: 'number', phone: PLAN.phone });
    else if (top === 'lookupFailed') await once('offline', { cmd: 'topup-offline' });
    else if (top === 'review') await once('confirm', { cmd: 'confirm' });
    else if (top === 'cash') {
      const wants = txn.service === 'pay' ? txn.credited < (txn.amountDue ?? 0) : notes < PLAN.notes;
      if (wants && open() && notes < PLAN.notes + 2) {
        let refused = false;
        const outcome = stack.waitForDeviceLine(
          'validator',
          (l) => (refused = l.startsWith('error: insert')) || /^(stacked|returned|gave back)|lost in the path/.test(l),
          NOTE_MS,
        );
        stack.deviceCommand(`insert ${PLAN.note}`);
        await outcome.catch(() => undefined);
        // A validator still powering up does not take the note: the customer tries again shortly.
        if (refused) await sleep(500);
        else notes++;
        continue;
      }
      if (!wants && txn.service === 'topup') await once('done', { cmd: 'done' });
    }
    await sleep(100);
  }
}

/** Waits for the terminal to be back in service; resolves with the state it is in by then. */
async function settled(stack: SimStack): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let state = await terminalState(stack);
  while (state !== 'inService' && Date.now() < deadline) {
    await sleep(200);
    state = await terminalState(stack);
  }
  return state;
}

async function outboxDrained(stack: SimStack): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const st = await status(stack);
    const pending = (st.outbox as { pending: number }).pending;
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} message(s) still in the outbox ${WAIT_MS / 1000} s after the fault was cleared`);
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
