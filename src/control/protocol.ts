import { z } from 'zod';

/**
 * The local control protocol: one JSON object per line over a unix socket, one answer line per
 * request. The embedded launcher, the scenario runner and (later) the engineers' console use it;
 * the customer screen will use the HTTP API built on the same runtime calls.
 */
export const controlRequest = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('status') }),
  z.object({ cmd: z.literal('start'), service: z.enum(['pay', 'topup', 'lookup']) }),
  z.object({ cmd: z.literal('number'), phone: z.string().max(32) }),
  z.object({ cmd: z.literal('confirm') }),
  z.object({ cmd: z.literal('done') }),
  z.object({ cmd: z.literal('topup-offline') }),
  z.object({ cmd: z.literal('cancel') }),
  z.object({ cmd: z.literal('transactions'), limit: z.number().int().min(1).max(500).optional() }),
  z.object({ cmd: z.literal('transaction'), id: z.string().max(64) }),
  z.object({ cmd: z.literal('verify') }),
  z.object({ cmd: z.literal('forward-now') }),
  z.object({ cmd: z.literal('hoppers') }),
  /** A technician counted (or filled) a hopper: its level in coins. */
  z.object({ cmd: z.literal('hopper-level'), name: z.string().max(32), level: z.number().int().min(0).max(100_000) }),
]);

export type ControlRequest = z.infer<typeof controlRequest>;

export type ControlResponse = { ok: true; [k: string]: unknown } | { ok: false; error: string };
