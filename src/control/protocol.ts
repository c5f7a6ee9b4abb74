import { z } from 'zod';
import { SERVICES } from '../domain/service.js';

/**
 * The local control protocol: one JSON object per line over a unix socket, one answer line per
 * request. The embedded launcher, the scenario runner and the engineers' console use it;
 * the customer screen uses the HTTP API (src/api) built on the same runtime calls.
 */
export const controlRequest = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('status') }),
  z.object({ cmd: z.literal('start'), service: z.enum(SERVICES) }),
  z.object({ cmd: z.literal('number'), phone: z.string().max(32) }),
  z.object({ cmd: z.literal('confirm') }),
  /** Pay the amount due by card instead of cash (at the review). */
  z.object({ cmd: z.literal('card') }),
  /** Pay the amount due with a mobile wallet (at the review): the customer's payment code, or the kiosk's QR code. */
  z.object({ cmd: z.literal('mobile'), mode: z.enum(['code', 'qr']) }),
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
  /** A technician put `add` coins into a hopper. */
  z.object({ cmd: z.literal('hopper-refill'), name: z.string().max(32), add: z.number().int().min(1).max(100_000), by: z.string().max(64) }),
  /**
   * The cash box was taken out and counted; `counted` maps face value (fen) to the number of notes
   * found. The journal compares it with its own counters; a difference raises an alarm. A new
   * empty box starts at zero.
   */
  z.object({
    cmd: z.literal('cash-collection'),
    by: z.string().max(64),
    counted: z.record(z.string().regex(/^\d{1,9}$/), z.number().int().min(0).max(1_000_000)),
  }),
  /** Print a receipt again: the given transaction, or the oldest one waiting in the reprint queue. */
  z.object({ cmd: z.literal('reprint'), id: z.string().max(64).optional() }),
  z.object({ cmd: z.literal('reprint-queue') }),
  z.object({ cmd: z.literal('out-of-service'), by: z.string().max(64), reason: z.string().max(200) }),
  z.object({ cmd: z.literal('in-service'), by: z.string().max(64) }),
  /**
   * The journal in use is accepted after a rollback was found (a replaced storage card): the heads
   * the servers saw are set aside and the terminal recovers into service again.
   */
  z.object({ cmd: z.literal('journal-rollback-accept'), by: z.string().max(64) }),
  /**
   * Test one device while the service runs: validator, coin-acceptor, hopper:<name>, printer,
   * card-reader, payment-terminal. `print: false`: no test page (kiosk diag without --print).
   */
  z.object({ cmd: z.literal('device-test'), device: z.string().max(64), print: z.boolean().optional() }),
  /** The running configuration with secrets masked. */
  z.object({ cmd: z.literal('config') }),
  /** The last lines the service logged (JSON objects), oldest first. */
  z.object({ cmd: z.literal('log-tail'), lines: z.number().int().min(1).max(1000).optional() }),
  /**
   * The engineers' console's lock-out, kept by the service in its journal so a restart of either
   * does not open it: `check` reads it, `failed` counts a failed login (and may lock, each lock
   * longer than the one before), `success` clears it. Answer: lockedUntil (epoch ms, 0 when open),
   * lockMs (the lock this failure started, or null).
   */
  z.object({ cmd: z.literal('console-lockout'), op: z.enum(['check', 'failed', 'success']) }),
  /** The engineers' console reports a login, a refusal or a command; the service journals it. */
  z.object({
    cmd: z.literal('audit'),
    who: z.string().max(64),
    action: z.string().max(200),
    ok: z.boolean(),
  }),
]);

export type ControlRequest = z.infer<typeof controlRequest>;

export type ControlResponse = { ok: true; [k: string]: unknown } | { ok: false; error: string };
