import { z } from 'zod';

const fen = (what: string) =>
  z.number({ error: `${what} must be a whole number of fen` }).int(`${what} must be a whole number of fen`).nonnegative();
const ms = z.number().int().positive();

/**
 * The whole configuration. Every key is documented in the README; `.strict()` everywhere so that a
 * misspelt key is an error rather than a silently ignored setting.
 */
export const configSchema = z
  .object({
    terminalId: z.string().min(1).default('KIOSK-0001'),
    /** Folder for the journal and the control socket unless they are given explicitly. */
    dataDir: z.string().min(1).default('var'),
    journal: z
      .object({ path: z.string().min(1).optional() })
      .strict()
      .default({}),
    validator: z
      .object({
        /** Driver folder name under drivers/, e.g. 'id003'. */
        model: z.string().min(1).default('id003'),
        port: z.string().min(1),
        pollIntervalMs: z.number().int().min(50).max(1000).default(150),
        /** How long boot waits for the validator before going on without it. */
        bootWaitMs: ms.default(10_000),
      })
      .strict(),
    server: z
      .object({
        baseUrl: z.url(),
        timeoutMs: ms.default(5000),
        /** How often the link to the server is probed when nothing else is being sent. */
        probeIntervalMs: ms.default(5000),
      })
      .strict(),
    forwarder: z
      .object({
        batchSize: z.number().int().min(1).max(1000).default(20),
        idleMs: ms.default(1000),
        backoffInitialMs: ms.default(1000),
        backoffMaxMs: ms.default(60_000),
      })
      .strict()
      .default({ batchSize: 20, idleMs: 1000, backoffInitialMs: 1000, backoffMaxMs: 60_000 }),
    limits: z
      .object({
        maxNote: fen('limits.maxNote').default(10_000),
        maxOverpay: fen('limits.maxOverpay').default(5_000),
        maxTopup: fen('limits.maxTopup').default(50_000),
      })
      .strict()
      .default({ maxNote: 10_000, maxOverpay: 5_000, maxTopup: 50_000 }),
    timeouts: z
      .object({
        inputMs: ms.default(60_000),
        lookupMs: ms.default(10_000),
        cashMs: ms.default(90_000),
      })
      .strict()
      .default({ inputMs: 60_000, lookupMs: 10_000, cashMs: 90_000 }),
    control: z
      .object({ socket: z.string().min(1).optional() })
      .strict()
      .default({}),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;

/** The configuration with every path resolved. */
export type Config = Parsed & { journal: { path: string }; control: { socket: string } };
