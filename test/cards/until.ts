import type { SimStack } from '../../hw-sim/stack.js';

/** Polls `probe` until it gives a value; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The kiosk's `status` answer, or a thrown error when it refused. */
export async function kioskStatus<S>(stack: SimStack): Promise<S> {
  const r = await stack.control({ cmd: 'status' });
  if (!r.ok) throw new Error(String(r.error));
  return r as unknown as S;
}

/** Waits until the terminal serves and offers card payment by `method`. */
export function cardOffered(stack: SimStack, method: 'reader' | 'terminal'): Promise<true> {
  return until(`card payment by ${method} to be offered`, async () => {
    const s = await kioskStatus<{ terminal: { state: string; card: string | null } }>(stack);
    return ['inService', 'degraded'].includes(s.terminal.state) && s.terminal.card === method ? true : undefined;
  });
}
