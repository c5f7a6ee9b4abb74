import { z } from 'zod';
import { EMULATED_VALIDATOR_MODELS } from '../devices/validators.js';
import { HOST_MODES } from '../host/business-link.js';
import { CARD_MODES } from '../host/card-authorisation.js';
import { WALLET_MODES } from '../host/wallet-gateway.js';
import { MANAGEMENT_MODES } from '../host/management.js';

const wait = z
  .object({
    /** The running transaction's state: a top-level name ('card') or a path to a substate ('card.authorising'). */
    txn: z.string().optional(),
    /** The running transaction shows this error to the customer (e.g. 'card-declined'). */
    txnError: z.string().optional(),
    /** How the terminal machine offers card payment now: by 'reader', by 'terminal', or 'none' (cash only). */
    card: z.enum(['reader', 'terminal', 'none']).optional(),
    /** The validator has been enabled for the running transaction. */
    accepting: z.literal(true).optional(),
    /** The terminal machine's state: inService, degraded, outOfService. */
    terminal: z.string().optional(),
    /** No transaction is running any more. */
    idle: z.literal(true).optional(),
    /** Every outbox message has been acknowledged by the server. */
    outboxEmpty: z.literal(true).optional(),
    /** A runtime log line whose message contains this text, logged from now on. */
    log: z.string().optional(),
    /** A runtime log line whose message contains this text, logged at any time since the runtime first started. */
    seen: z.string().optional(),
    /** A line a device's emulator reports that contains this text (e.g. 'idling'). */
    device: z.string().optional(),
    /** Which device `device` waits on (default the validator). */
    from: z.string().optional(),
    /** The runtime process has exited by itself (e.g. killed by its crash seam). */
    exit: z.literal(true).optional(),
    /** The reference server has received at least this many card authorisation requests. */
    serverCardRequests: z.number().int().positive().optional(),
    /** The management server holds a raised alarm of this kind. */
    alarm: z.string().optional(),
    /** The management server holds the clearing of an alarm of this kind. */
    alarmCleared: z.string().optional(),
    /** The management server holds the acknowledgement of a remote command of this type. */
    acked: z.string().optional(),
    /** A plain pause. */
    ms: z.number().int().positive().optional(),
    timeoutMs: z.number().int().positive().default(15_000),
  })
  .strict();

/**
 * The reference server: a fault mode (see hw-sim/host/business-link.ts), 'restart' (stopped and
 * started again on the same ports and database), or the certificate it presents.
 */
const serverStep = z.enum([...HOST_MODES, 'restart', 'wrong-certificate', 'right-certificate']);

const singleStep = z.union([
  z
    .object({
      customer: z.string().min(1),
      /**
       * The kiosk must refuse this: it answers with an error, or the running transaction shows this
       * error (the machine refuses some choices by staying where it is and telling the customer why).
       */
      refused: z.string().min(1).optional(),
      /** The runtime's crash seam fires inside this request: no answer is expected (wait for `exit` next). */
      crashes: z.literal(true).optional(),
    })
    .strict(),
  /** A line typed to a device emulator's standard input (default the validator). */
  z.object({ device: z.string().min(1), to: z.string().optional() }).strict(),
  z.object({ server: serverStep, delayMs: z.number().int().positive().optional() }).strict(),
  /** The reference server's card mode for this terminal (admin POST /_card); 'by-card' lets the test card numbers decide. */
  z.object({ serverCard: z.enum(CARD_MODES) }).strict(),
  /** The reference gateway's behaviour for every code ('by-code': the code decides) and its timings (admin POST /_wallet). */
  z
    .object({
      serverWallet: z
        .object({
          mode: z.enum(WALLET_MODES).optional(),
          confirmMs: z.number().int().nonnegative().optional(),
          orderTtlMs: z.number().int().positive().optional(),
          refuseRevokes: z.number().int().nonnegative().optional(),
        })
        .strict(),
    })
    .strict(),
  /** The customer's phone: 'pay-order' pays the newest order the kiosk showed as a QR code. */
  z.object({ phone: z.literal('pay-order') }).strict(),
  z.object({ wait }).strict(),
  /** The cash box taken out and counted, as the console's `collect` reports it: note value (fen) to notes found. */
  z.object({ collect: z.record(z.string().regex(/^\d{1,9}$/), z.number().int().nonnegative()), by: z.string().min(1).default('scenario') }).strict(),
  /** A remote command queued on the management server for this terminal, e.g. { "management": "out-of-service" }. */
  z.object({ management: z.string().min(1), args: z.record(z.string(), z.unknown()).optional(), by: z.string().min(1).optional() }).strict(),
  /** The management server's fault mode (see hw-sim/host/management.ts). */
  z.object({ managementServer: z.enum(MANAGEMENT_MODES), delayMs: z.number().int().positive().optional() }).strict(),
  /** Pull a device's cable (emulator stopped, pty gone), or plug a freshly powered one back. */
  z.object({ unplug: z.string().min(1) }).strict(),
  z.object({ replug: z.string().min(1) }).strict(),
  z
    .object({
      runtime: z.enum(['start', 'kill', 'stop']),
      /** With start: the runtime SIGKILLs itself right after journalling this event type. */
      crashAfter: z.string().optional(),
    })
    .strict(),
]);

export const stepSchema = z.union([
  singleStep,
  /** The same steps `repeat` times over, e.g. dozens of payments. */
  z.object({ repeat: z.number().int().min(1).max(1000), steps: z.array(singleStep).min(1) }).strict(),
]);

const txnExpect = z
  .object({
    service: z.string().optional(),
    phone: z.string().optional(),
    status: z.enum(['open', 'completed', 'cancelled']).optional(),
    endReason: z.string().optional(),
    cashIn: z.number().int().optional(),
    /** Taken by card and not reversed (fen). */
    cardIn: z.number().int().optional(),
    /** Paid by a mobile wallet and credited (fen). */
    mobileIn: z.number().int().optional(),
    credited: z.number().int().optional(),
    changePaid: z.number().int().optional(),
    changeOwed: z.number().int().optional(),
    amountDue: z.number().int().nullable().optional(),
    /** Event types that must appear in this transaction's journal, in this order (others may be between). */
    events: z.array(z.string()).optional(),
    /** Event types that must not appear. */
    noEvents: z.array(z.string()).optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    accounts: z.array(z.object({ phone: z.string(), amountDue: z.number().int().nonnegative(), holder: z.string().optional() }).strict()).optional(),
    /** Merged over the generated runtime configuration (limits, timeouts…). */
    config: z.record(z.string(), z.unknown()).optional(),
    /** Timing of the validator emulator, e.g. a long stackingMs to act in the middle of a stack. */
    emulator: z
      .object({
        acceptingMs: z.number().int().positive().optional(),
        stackingMs: z.number().int().positive().optional(),
        stackedMs: z.number().int().positive().optional(),
        returningMs: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /**
     * A scenario about one validator protocol (e.g. an eSSP key renegotiation) names it and runs
     * only against that emulator; others run against whichever validator the runner is given.
     */
    validator: z.enum(EMULATED_VALIDATOR_MODELS).optional(),
    /** Optional devices fitted to this kiosk (the validator always is). */
    fit: z
      .object({
        coins: z.boolean().optional(),
        hoppers: z.boolean().optional(),
        printer: z.boolean().optional(),
        /** A magnetic stripe reader emulator of this kind (device 'card-reader'); its card data goes to the reference server. */
        cardReader: z.enum(['keyboard', 'vendor']).optional(),
        /** A ZVT payment terminal emulator on loopback TCP (device 'zvt'). */
        zvt: z.boolean().optional(),
        /** A 2D code scanner emulator (device 'scanner'): keyboard mode on a socket, or serial answering its commands. */
        scanner: z.enum(['keyboard', 'serial']).optional(),
      })
      .strict()
      .optional(),
    /** Crash seam for the first start of the runtime. */
    crashAfter: z.string().optional(),
    steps: z.array(stepSchema).min(1),
    expect: z
      .object({
        transactions: z.array(txnExpect).optional(),
        cashbox: z.record(z.string(), z.number().int()).optional(),
        server: z
          .object({
            /** The payments the server holds, in order (absent: not checked). */
            payments: z
              .array(
                z
                  .object({
                    phone: z.string().optional(),
                    amount: z.number().int().optional(),
                    service: z.string().optional(),
                    cardIn: z.number().int().optional(),
                  })
                  .strict(),
              )
              .optional(),
            /** At least this many resends were answered 'duplicate' (the de-duplication was exercised). */
            duplicatesAtLeast: z.number().int().positive().optional(),
            /**
             * For every transaction the server saw a card for: approved − reversed = what the payments
             * say the reader's card paid, and no authorisation is both paid for and reversed.
             */
            cardBalanced: z.literal(true).optional(),
            /** How many card authorisations the server approved (reversed or not). */
            cardApproved: z.number().int().nonnegative().optional(),
            /** How many of the approved authorisations were reversed. */
            cardReversed: z.number().int().nonnegative().optional(),
            /** How many card authorisations the server declined. */
            cardDeclined: z.number().int().nonnegative().optional(),
            /** For every transaction the gateway saw: paid − revoked = what its payment says the wallet paid. */
            walletBalanced: z.literal(true).optional(),
            /** Wallet payments the gateway kept (paid and not given back). */
            walletPaid: z.number().int().nonnegative().optional(),
            /** Wallet payments revoked or orders closed. */
            walletRevoked: z.number().int().nonnegative().optional(),
            /** The claims the server holds, in order (absent: not checked). */
            claims: z
              .array(
                z
                  .object({
                    reason: z.enum(['note-unresolved', 'change-owed']).optional(),
                    status: z.enum(['open', 'confirmed', 'credited']).optional(),
                    amount: z.number().int().optional(),
                    denomination: z.number().int().optional(),
                    phone: z.string().optional(),
                  })
                  .strict(),
              )
              .optional(),
            /** Prepaid balances of the server's accounts at the end, by phone number (fen). */
            balances: z.record(z.string(), z.number().int()).optional(),
            /** The kinds of the anomalies the server recorded, in order (absent: not checked). */
            anomalies: z.array(z.string()).optional(),
          })
          .strict()
          .optional(),
        terminal: z.string().optional(),
        /** Coins in the coin box by value (fen): count. */
        coinbox: z.record(z.string(), z.number().int()).optional(),
        /** Text that must appear in the printed receipts (all receipt files joined). */
        receipts: z.array(z.string()).optional(),
        /** The fault slips the printer printed: how many, and text each expected one shows. */
        slips: z.object({ count: z.number().int().nonnegative().optional(), contain: z.array(z.string()).optional() }).strict().optional(),
        /** Coins each simulated hopper paid out in total, by hopper name. */
        hopperPaid: z.record(z.string(), z.number().int()).optional(),
        /** Journal event types (any transaction, or none) that must appear somewhere. */
        journalEvents: z.array(z.string()).optional(),
        /** Journal event types that must appear in this order across the whole journal (others may be between). */
        journalOrder: z.array(z.string()).optional(),
        /** What the management server holds at the end. */
        management: z
          .object({
            /** Alarm messages received, each `count` times (default once: no duplicate records). */
            alarms: z
              .array(
                z
                  .object({
                    kind: z.string(),
                    source: z.string().optional(),
                    action: z.enum(['raise', 'clear']).default('raise'),
                    count: z.number().int().nonnegative().default(1),
                  })
                  .strict(),
              )
              .optional(),
            /** Remote commands acknowledged, with their outcome and (part of) their result. */
            commands: z
              .array(z.object({ type: z.string(), ok: z.boolean().default(true), result: z.record(z.string(), z.unknown()).optional() }).strict())
              .optional(),
          })
          .strict()
          .optional(),
        /**
         * Store and forward is done: the outbox is empty, and the server holds each settled payment
         * of the journal exactly once, with the credited amount, and nothing else.
         */
        delivered: z.literal(true).optional(),
      })
      .strict(),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;
export type Step = z.infer<typeof stepSchema>;
