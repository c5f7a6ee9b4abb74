import type { ControlRequest } from '../../src/control/protocol.js';
import type { SimStack } from '../stack.js';

/** One cash payment: the bill the server reports, then what the customer puts in. */
export interface Payment {
  kind: string;
  amountDue: number;
  /** Notes in the order they go in, each after the one before is stacked. */
  notes: number[];
  /** Coins dropped before the notes. */
  coins: number[];
}

/** What a payment should end as, from its plan alone. */
export interface Expected {
  cashIn: number;
  credited: number;
  changePaid: number;
}

export function expectedOf(p: Payment): Expected {
  const cashIn = sum(p.notes) + sum(p.coins);
  return { cashIn, credited: p.amountDue, changePaid: cashIn - p.amountDue };
}

/**
 * The payments the soak and the RSS benchmark repeat, by the devices they need. The change is kept
 * to one coin per hopper so that the hoppers' coin rate does not set the pace.
 */
export function paymentMix(fitted: { coins: boolean; hoppers: boolean }): Payment[] {
  const mix: Payment[] = [
    { kind: 'one note', amountDue: 5000, notes: [5000], coins: [] },
    { kind: 'two notes', amountDue: 3000, notes: [2000, 1000], coins: [] },
  ];
  if (fitted.coins) mix.push({ kind: 'note and coins', amountDue: 1150, notes: [1000], coins: [100, 50] });
  if (fitted.hoppers) mix.push({ kind: 'change in coins', amountDue: 4850, notes: [5000], coins: [] });
  return mix;
}

/** Generous: these bound a stuck payment, they do not measure anything. */
const STEP_MS = 30_000;

/**
 * Starts the runtime and waits until the terminal is in service: the control socket opens during
 * recovery already, and a payment started then would be closed by that recovery.
 */
export async function startInService(stack: SimStack, timeoutMs = 60_000): Promise<void> {
  const inService = watch(stack.waitForLog((e) => e.msg === 'terminal in service', timeoutMs));
  await stack.startRuntime();
  await inService;
}

/**
 * A customer at the simulated kiosk, driven through the control socket and the emulators' inputs,
 * waiting on the runtime's log lines and the emulators' reports rather than on fixed pauses.
 */
export class Customer {
  private serial = 0;

  constructor(
    private readonly stack: SimStack,
    /** Each payment gets its own phone number, so a late posting of one never changes another's bill. */
    private readonly phonePrefix = '139',
  ) {}

  /** Runs one payment to its end; resolves with the transaction id. */
  async pay(p: Payment): Promise<string> {
    const stack = this.stack;
    const phone = `${this.phonePrefix}${String(++this.serial).padStart(8, '0')}`;
    await this.setBill(phone, p.amountDue);
    const id = String((await this.control({ cmd: 'start', service: 'pay' })).id);
    const review = this.log(id, (msg) => msg === 'transaction review');
    await this.control({ cmd: 'number', phone });
    await review;

    const accepting = [watch(stack.waitForDeviceLine('validator', (l) => l.includes('inhibit off'), STEP_MS))];
    if (p.coins.length > 0) accepting.push(watch(stack.waitForDeviceLine('coin', (l) => l.includes('master enabled'), STEP_MS)));
    await this.control({ cmd: 'confirm' });
    await Promise.all(accepting);

    // Cash goes in one piece at a time; the payment can only end after the last piece, so the
    // wait for its end starts there (a long payment would outlast a wait started earlier).
    const pieces = [...p.coins.map((value) => ({ device: 'coin', value })), ...p.notes.map((value) => ({ device: 'validator', value }))];
    let ended: Promise<void> | undefined;
    for (const [i, { device, value }] of pieces.entries()) {
      if (i === pieces.length - 1) ended = this.log(id, (msg) => /^transaction (completed|cancelled):/.test(msg));
      const taken =
        device === 'coin'
          ? watch(stack.waitForDeviceLine('coin', (l) => l.startsWith(`coin ${value} fen accepted`), STEP_MS))
          : watch(stack.waitForDeviceLine('validator', (l) => l === `stacked ${value} fen`, STEP_MS));
      stack.deviceCommand(`insert ${value}`, device);
      // The last note's "stacked" may come after the payment ended: only the end is waited for then.
      if (i < pieces.length - 1) await taken;
    }
    await ended;
    return id;
  }

  /** Tops up every hopper whose estimated level fell below `below`, in the emulator and the journal alike. */
  async refillHoppers(below: number, add: number): Promise<void> {
    const res = await this.control({ cmd: 'hoppers' });
    for (const h of res.hoppers as { name: string; level: number }[]) {
      if (h.level >= below) continue;
      const filled = watch(this.stack.waitForDeviceLine(h.name, (l) => l.startsWith('refill:'), STEP_MS));
      this.stack.deviceCommand(`refill ${add}`, h.name);
      await filled;
      await this.control({ cmd: 'hopper-refill', name: h.name, add, by: 'soak' });
    }
  }

  private async setBill(phone: string, amountDue: number): Promise<void> {
    const res = await fetch(`${this.stack.host.url}/_accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone, amountDue }),
    });
    if (!res.ok) throw new Error(`the reference server refused the account ${phone}: ${res.status} ${await res.text()}`);
  }

  private async control(req: ControlRequest): Promise<Record<string, unknown>> {
    const res = await this.stack.control(req);
    if (!res.ok) throw new Error(`the kiosk refused ${req.cmd}: ${res.error}`);
    return res;
  }

  private log(txn: string, match: (msg: string) => boolean): Promise<void> {
    return watch(this.stack.waitForLog((e) => e.txn === txn && match(String(e.msg)), STEP_MS));
  }
}

/** A wait registered before the action that ends it; awaited later, so a failure meanwhile is not unhandled. */
function watch(wait: Promise<void>): Promise<void> {
  wait.catch(() => undefined);
  return wait;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
