import type { SimStack } from '../stack.js';

/** The bill every matrix payment pays: two 50 yuan notes for 83.50 leave 16.50 in change (16 + 1 coins). */
export const PLAN = { phone: '13800138099', amountDue: 8350, note: 5000, notes: 2, change: 1650 } as const;

/** Bounds a wait for something the kiosk or an emulator does by itself; never what makes a cell pass. */
export const WAIT_MS = 20_000;

/**
 * A moment in one payment at which a fault strikes. `reach` drives a fresh, in-service kiosk's
 * payment there and resolves with the transaction id (null while no transaction runs yet).
 */
export interface Step {
  id: string;
  label: string;
  reach(stack: SimStack): Promise<string | null>;
}

export async function control(stack: SimStack, req: Parameters<SimStack['control']>[0]): Promise<Record<string, unknown>> {
  const res = await stack.control(req);
  if (!res.ok) throw new Error(`the kiosk refused ${req.cmd}: ${res.error}`);
  return res;
}

/** A wait registered before the action that ends it; awaited later, so a failure meanwhile is not unhandled. */
export function watch(wait: Promise<void>): Promise<void> {
  wait.catch(() => undefined);
  return wait;
}

function txnLog(stack: SimStack, id: string, msg: string): Promise<void> {
  return watch(stack.waitForLog((e) => e.txn === id && e.msg === msg, WAIT_MS));
}

async function started(stack: SimStack): Promise<string> {
  return String((await control(stack, { cmd: 'start', service: 'pay' })).id);
}

async function inReview(stack: SimStack): Promise<string> {
  const id = await started(stack);
  const review = txnLog(stack, id, 'transaction review');
  await control(stack, { cmd: 'number', phone: PLAN.phone });
  await review;
  return id;
}

async function takingCash(stack: SimStack): Promise<string> {
  const id = await inReview(stack);
  const accepting = watch(stack.waitForDeviceLine('validator', (l) => l.includes('inhibit off'), WAIT_MS));
  await control(stack, { cmd: 'confirm' });
  await accepting;
  return id;
}

/** Puts a note in and waits until the validator reports `until` for it. */
async function insertNote(stack: SimStack, until: 'stacking' | 'stacked'): Promise<void> {
  const seen = watch(stack.waitForDeviceLine('validator', (l) => l === `${until} ${PLAN.note} fen`, WAIT_MS));
  stack.deviceCommand(`insert ${PLAN.note}`);
  await seen;
}

async function partlyPaid(stack: SimStack): Promise<string> {
  const id = await takingCash(stack);
  const credited = txnLog(stack, id, 'note stacked and credited');
  await insertNote(stack, 'stacked');
  await credited;
  return id;
}

async function lastNoteIn(stack: SimStack, until: (id: string) => Promise<void>): Promise<string> {
  const id = await partlyPaid(stack);
  const reached = until(id);
  stack.deviceCommand(`insert ${PLAN.note}`);
  await reached;
  return id;
}

/** The columns of the matrix, in the order a payment goes through them. */
export const STEPS: readonly Step[] = [
  { id: 'idle', label: 'idle (no transaction)', reach: async () => null },
  { id: 'number', label: 'number / look-up', reach: started },
  { id: 'review', label: 'review', reach: inReview },
  { id: 'cash', label: 'cash waiting', reach: takingCash },
  {
    id: 'escrow',
    label: 'note in escrow / stacking',
    reach: async (stack) => {
      const id = await takingCash(stack);
      await insertNote(stack, 'stacking');
      return id;
    },
  },
  { id: 'partial', label: 'after first note (partial)', reach: partlyPaid },
  {
    id: 'change',
    label: 'change payout',
    reach: (stack) => lastNoteIn(stack, () => watch(stack.waitForDeviceLine('h100', (l) => l.startsWith('paid coin 2/'), WAIT_MS))),
  },
  { id: 'receipt', label: 'receipt printing', reach: (stack) => lastNoteIn(stack, (id) => txnLog(stack, id, 'transaction printing')) },
];

export function stepById(id: string): Step {
  const s = STEPS.find((x) => x.id === id);
  if (!s) throw new Error(`unknown step '${id}' (known: ${STEPS.map((x) => x.id).join(', ')})`);
  return s;
}
