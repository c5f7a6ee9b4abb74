import { z } from 'zod';
import { CARD_READERS, PAYMENT_TERMINALS, SCANNERS, VALIDATORS, modelNames } from '../../drivers/registry.js';

const fen = (what: string) =>
  z.number({ error: `${what} must be a whole number of fen` }).int(`${what} must be a whole number of fen`).nonnegative();
const ms = z.number().int().positive();

/** What every validator model's section has; each model adds its own keys (its descriptor's options). */
const validatorCommon = {
  port: z.string().min(1),
  pollIntervalMs: z.number().int().min(50).max(1000).default(150),
  /** How long boot waits for the validator before going on without it. */
  bootWaitMs: ms.default(10_000),
};
/**
 * The `validator` section: one form per model of drivers/registry.ts VALIDATORS, chosen by `model`
 * (the first model when absent), so a model's own keys are accepted only with that model.
 */
const validatorSection = z.discriminatedUnion(
  'model',
  VALIDATORS.map((d, i) =>
    z.object({ model: i === 0 ? z.literal(d.model).default(d.model) : z.literal(d.model), ...validatorCommon, ...d.options.shape }).strict(),
  ) as unknown as [ValidatorForm, ...ValidatorForm[]],
);
type ValidatorForm = (typeof VALIDATORS)[number] extends infer D
  ? D extends { model: infer M extends string; options: z.ZodObject<infer S> }
    ? z.ZodObject<{ model: z.ZodLiteral<M> | z.ZodDefault<z.ZodLiteral<M>> } & typeof validatorCommon & S, z.core.$strict>
    : never
  : never;

/**
 * The canonical zones are looked up in ICU's list first: building a formatter to try the name maps
 * ~8 MB of ICU's locale data into an idle kiosk that formats no time. Aliases (UTC, Etc/…) still
 * take the formatter's answer.
 */
function isTimeZone(tz: string): boolean {
  if (Intl.supportedValuesOf('timeZone').includes(tz)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * The whole configuration. Every key is documented in the README; `.strict()` everywhere so that a
 * misspelt key is an error rather than a silently ignored setting.
 */
export const configSchema = z
  .object({
    terminalId: z.string().min(1).default('KIOSK-0001'),
    /** The IANA time zone every time a person reads is shown in (receipts, the launcher, diag), with its offset. */
    timeZone: z
      .string()
      .min(1)
      .refine((tz) => isTimeZone(tz), 'an IANA time zone name, e.g. Asia/Shanghai or UTC')
      .default('Asia/Shanghai'),
    /** Folder for the journal and the control socket unless they are given explicitly. */
    dataDir: z.string().min(1).default('var'),
    journal: z
      .object({
        path: z.string().min(1).optional(),
        /**
         * The terminal secret that keys the journal's hash chain; created (mode 0600) when missing.
         * Default: journal.key beside the journal.
         */
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** The engineers' serial console. */
    console: z
      .object({
        /** Accounts: `pin` is a hash made by `kiosk console hash-pin` (scrypt), never the PIN itself. */
        engineers: z
          .array(
            z
              .object({
                name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case name, up to 32 characters'),
                pin: z
                  .string()
                  .regex(/^scrypt\$/, 'a hash from `kiosk console hash-pin`, starting with scrypt$')
                  .meta({ secret: true }),
              })
              .strict(),
          )
          .default([]),
        /** Failed logins in a row before the console locks. */
        maxFailures: z.number().int().min(1).max(100).default(5),
        lockoutMs: ms.default(300_000),
        /** An idle session is logged out after this long. */
        idleMs: ms.default(300_000),
      })
      .strict()
      .default({ engineers: [], maxFailures: 5, lockoutMs: 300_000, idleMs: 300_000 }),
    validator: validatorSection,
    /** A ccTalk coin acceptor; absent when none is fitted (notes only). */
    coinAcceptor: z
      .object({
        model: z.string().min(1).default('cctalk'),
        port: z.string().min(1),
        address: z.number().int().min(1).max(255).default(2),
      })
      .strict()
      .optional(),
    /** Coin hoppers that pay change; none means the excess is credited to the account. */
    hoppers: z
      .array(
        z
          .object({
            /** Short name used in the journal and on the console, e.g. 'h100'. */
            name: z.string().regex(/^[a-z0-9-]{1,32}$/, 'lower-case letters, digits and dashes'),
            model: z.string().min(1).default('cctalk'),
            port: z.string().min(1),
            address: z.number().int().min(1).max(255).default(3),
            coinValue: fen('hoppers[].coinValue').positive(),
            /** Dispense security: the hopper's serial number bytes, or 8 bytes after a cipher key request. */
            securityMode: z.enum(['serial', 'zero8']).default('serial'),
          })
          .strict(),
      )
      .default([])
      .refine((hs) => new Set(hs.map((h) => h.name)).size === hs.length, 'hopper names must be unique'),
    change: z
      .object({
        /** Coins kept back below each hopper's estimated level when planning change. */
        reserve: z.number().int().min(0).max(1000).default(3),
        /**
         * Change the hoppers could not pay: 'claim' (paid by staff against the claim code) or
         * 'credit-account' (credited to the phone account at once, as a top-up message).
         */
        owed: z.enum(['claim', 'credit-account']).default('claim'),
      })
      .strict()
      .default({ reserve: 3, owed: 'claim' }),
    recovery: z
      .object({
        /**
         * After a restart, change that no hopper was ever told to pay is paid when recovery runs
         * within this long of the settlement (the customer is likely still there); later it stays owed.
         */
        resumePayoutWithinMs: z.number().int().min(0).max(3_600_000).default(60_000),
      })
      .strict()
      .default({ resumePayoutWithinMs: 60_000 }),
    /** The receipt printer; absent when none is fitted. */
    printer: z
      .object({
        model: z.string().min(1).default('escpos'),
        transport: z.enum(['serial', 'lp', 'usb']),
        /** Serial device or /dev/usb/lp0; not used for 'usb'. */
        port: z.string().min(1).optional(),
        baudRate: z.number().int().positive().default(9600),
        vendorId: z.number().int().min(0).max(0xffff).optional(),
        productId: z.number().int().min(0).max(0xffff).optional(),
        width: z.union([z.literal(32), z.literal(42), z.literal(48)]).default(42),
        /**
         * Wait after sending a receipt before asking the status (the printer answers status at once,
         * so a roll that runs out at the end of the receipt shows only once the paper got there).
         */
        settleMs: z.number().int().min(0).max(10_000).default(1500),
      })
      .strict()
      .refine((p) => p.transport === 'usb' || p.port !== undefined, { message: 'port is required for serial and lp printers', path: ['port'] })
      .optional(),
    /** A magnetic-stripe card reader (card data goes to the business server for authorisation). */
    cardReader: z
      .object({
        /** 'hid-keyboard' (keyboard wedge) or 'hid-vendor' (vendor reports); see drivers/registry.ts. */
        model: z.enum(modelNames(CARD_READERS)),
        /** A hidraw path (best a udev symlink), `usb:VVVV:PPPP`, or `socket:PATH` for the emulator. */
        device: z.string().regex(/^(socket:.+|usb:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}|\/.+)$/, 'a /dev path, usb:VVVV:PPPP or socket:PATH'),
      })
      .strict()
      .optional(),
    /**
     * A 2D code scanner for wallet payment codes; absent when none is fitted. 'hid-keyboard' (USB HID
     * keyboard mode) or 'serial' (USB CDC-ACM or a UART, serial-trigger commands); see drivers/scanner/.
     */
    scanner: z
      .object({
        model: z.enum(modelNames(SCANNERS)),
        /** Keyboard mode: a hidraw path, `usb:VVVV:PPPP` or `socket:PATH`; serial mode: the serial device. */
        device: z.string().regex(/^(socket:.+|usb:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}|\/.+)$/, 'a /dev path, usb:VVVV:PPPP or socket:PATH'),
        /** Longest code taken; a payment code is 18 digits. */
        maxLength: z.number().int().min(8).max(512).default(64),
        /** A code whose end (Enter, CR) does not come within this quiet time is a bad scan. */
        partialTimeoutMs: z.number().int().min(20).max(5000).default(300),
        // The serial model's own keys (all optional); the refinement below refuses them on any other model.
        ...SCANNERS.find((d) => d.model === 'serial')!.options.shape,
      })
      .strict()
      .refine((s) => s.model === 'serial' || (s.baudRate === undefined && s.ack === undefined), {
        message: 'baudRate and ack are for the serial model only',
        path: ['model'],
      })
      .refine((s) => s.model !== 'serial' || s.device.startsWith('/'), {
        message: 'a serial scanner is on a /dev path',
        path: ['device'],
      })
      .optional(),
    /** A certified payment terminal driven over ZVT (it reads the card and takes the PIN itself). */
    paymentTerminal: z
      .object({
        model: z.enum(modelNames(PAYMENT_TERMINALS)).default('zvt'),
        transport: z.enum(['tcp', 'serial']),
        host: z.string().min(1).optional(),
        tcpPort: z.number().int().min(1).max(65535).default(20007),
        /** Serial device, for transport 'serial'. */
        port: z.string().min(1).optional(),
        baudRate: z.number().int().positive().default(9600),
        /** The terminal's six-digit password. */
        password: z.string().regex(/^\d{6}$/, 'six digits').default('000000').meta({ secret: true }),
        /** ISO 4217 numeric currency code. */
        currency: z.number().int().min(1).max(999).default(156),
        ackTimeoutMs: ms.optional(),
        /** Longest silence of the terminal while a command runs (card, PIN, host). */
        idleTimeoutMs: ms.optional(),
        commandTimeoutMs: ms.optional(),
        abortWaitMs: ms.optional(),
        healthIntervalMs: z.number().int().min(0).optional(),
        /** How often a terminal reversal that got no answer is tried again. */
        reversalRetryMs: ms.default(30_000),
      })
      .strict()
      .refine((p) => (p.transport === 'tcp' ? p.host !== undefined : p.port !== undefined), {
        message: 'host is required for tcp, port for serial',
        path: ['transport'],
      })
      .optional(),
    receipt: z
      .object({
        /** The operator's name printed at the top of each receipt. */
        operator: z.string().min(1).max(64).default('示例电信 自助缴费'),
        /** The operator's service number, printed on fault slips and shown with them. */
        serviceNumber: z.string().min(1).max(32).default('10000'),
      })
      .strict()
      .default({ operator: '示例电信 自助缴费', serviceNumber: '10000' }),
    /**
     * Mutual TLS for both links to the central side. `cert`/`key` are this kiosk's certificate and
     * key; `ca` is the only authority trusted for the servers' certificates (pinned). Defaults:
     * the files `kiosk-sim pki init` writes in <dataDir>/pki.
     */
    tls: z
      .object({
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** The business server: one long-lived mutual-TLS connection (see docs/business-link.md). */
    server: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535),
        /** The name the server's certificate must carry; default: host. */
        serverName: z.string().min(1).optional(),
        /** The protocol spoken on the link (src/uplink/adapters.ts). */
        adapter: z.enum(['envelope']).default('envelope'),
        /** Per request, and for connecting. */
        timeoutMs: ms.default(5000),
        /** A link quiet for this long is probed with an echo. */
        probeIntervalMs: ms.default(5000),
      })
      .strict(),
    forwarder: z
      .object({
        batchSize: z.number().int().min(1).max(1000).default(20),
        idleMs: ms.default(1000),
        backoffInitialMs: ms.default(1000),
        backoffMaxMs: ms.default(60_000),
        /** Alarm when the oldest unsent message is older than this. */
        alarmBacklogAgeMs: ms.default(3_600_000),
        /** Critical alarm when a card reversal is still unsent after this long. */
        alarmReversalAgeMs: ms.default(600_000),
        /** Alarm when the journal's file system has less free space than this. */
        alarmDiskFreeBytes: z.number().int().nonnegative().default(200 * 1024 * 1024),
        /** How often those two are looked at. */
        monitorIntervalMs: ms.default(30_000),
      })
      .strict()
      .default({
        batchSize: 20,
        idleMs: 1000,
        backoffInitialMs: 1000,
        backoffMaxMs: 60_000,
        alarmBacklogAgeMs: 3_600_000,
        alarmReversalAgeMs: 600_000,
        alarmDiskFreeBytes: 200 * 1024 * 1024,
        monitorIntervalMs: 30_000,
      }),
    /**
     * The management link (heartbeats, counters, alarms, remote commands), mutual TLS with the
     * `tls` files. Absent: no management link; alarms are still journalled.
     */
    management: z
      .object({
        /** 'https': short requests to the management server; 'mqtt': MQTT 5 through a broker at host:port. */
        transport: z.enum(['https', 'mqtt']).default('https'),
        /** Default: the business server's host. */
        host: z.string().min(1).optional(),
        port: z.number().int().min(1).max(65535),
        /** The name the server's certificate must carry; default: host. */
        serverName: z.string().min(1).optional(),
        heartbeatMs: ms.default(30_000),
        countersMs: ms.default(300_000),
        timeoutMs: ms.default(10_000),
        /** The MQTT session (with transport 'mqtt'; ignored otherwise). */
        mqtt: z
          .object({
            /** How long the broker keeps this kiosk's session (subscriptions, queued commands) while it is away. */
            sessionExpiryS: z.number().int().min(60).max(0xffff_fffe).default(7 * 86_400),
            keepaliveS: z.number().int().min(5).max(3600).default(30),
            /** The wait before reconnecting after the broker was lost. */
            reconnectMs: ms.default(2000),
          })
          .strict()
          .default({ sessionExpiryS: 7 * 86_400, keepaliveS: 30, reconnectMs: 2000 }),
      })
      .strict()
      .optional(),
    /**
     * Signed A/B software updates (docs/updates.md), asked for by the management link's `update`
     * command. Absent: the kiosk refuses that command.
     */
    update: z
      .object({
        /** The operator's TUF root metadata (root.json from `kiosk-sim release keys`): the keys every update must be signed with. */
        trustedRoot: z.string().min(1),
        /** Base URL of the TUF metadata; default: https://<management host>:<port>/v1/updates/metadata/. */
        metadataUrl: z.string().url().optional(),
        /** How long a new release has, from the switch, to reach service with the management link up before it is rolled back. */
        healthMs: ms.default(180_000),
        /** Starts of a new release on trial before it is rolled back (a crash loop). */
        maxStarts: z.number().int().min(1).max(20).default(3),
        /** Download rate cap in bytes per second; absent: no cap. */
        bytesPerSec: z.number().int().positive().optional(),
        /** A download request with no answer for this long is dropped and resumed. */
        timeoutMs: ms.default(30_000),
        /** Reconnections of one download attempt after a dropped connection. */
        retries: z.number().int().min(0).max(100).default(5),
      })
      .strict()
      .optional(),
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
        /** Card payment: the customer presenting the card or answering the terminal. */
        cardMs: ms.default(60_000),
        /** Card payment: the authorisation once sent; past it the outcome is unknown and reversed. */
        cardAuthMs: ms.default(60_000),
        /** How long a fault slip (what the kiosk owes the customer, with the claim code) stays on the screen. */
        slipScreenMs: ms.default(120_000),
        /** Wallet payment: the customer showing the payment code under the scanner. */
        mobileScanMs: ms.default(60_000),
        /** Wallet payment: the gateway's answer to the charge; past it the kiosk starts querying. */
        mobileChargeMs: ms.default(10_000),
        /** Wallet payment: pause between queries while the customer confirms on the phone. */
        mobileQueryIntervalMs: ms.default(3_000),
        /** Wallet payment: how long the kiosk queries before it revokes what is not known paid. */
        mobileQueryLimitMs: ms.default(45_000),
        /** The kiosk's QR code: how long the customer has to pay it before the order is closed. */
        mobileQrMs: ms.default(120_000),
      })
      .strict()
      .default({
        inputMs: 60_000,
        lookupMs: 10_000,
        cashMs: 90_000,
        cardMs: 60_000,
        cardAuthMs: 60_000,
        slipScreenMs: 120_000,
        mobileScanMs: 60_000,
        mobileChargeMs: 10_000,
        mobileQueryIntervalMs: 3_000,
        mobileQueryLimitMs: 45_000,
        mobileQrMs: 120_000,
      }),
    control: z
      .object({
        /** The service's own socket (mode 0600): the launcher, `kiosk ctl`, the scenarios. Default: <dataDir>/kiosk.sock. */
        socket: z.string().min(1).optional(),
        /**
         * The engineers' console's socket (mode 0660): the service asks the kernel who connected and
         * lets users other than its own send only the engineers' commands. Default: <dataDir>/console.sock.
         */
        consoleSocket: z.string().min(1).optional(),
        /** The group given the console's socket (name or number); default: the folder's (set-group-id) or the service's. */
        consoleGroup: z.union([z.string().min(1), z.number().int().min(0)]).optional(),
      })
      .strict()
      .default({}),
    /** The customer's screen and its local API on 127.0.0.1; absent: no screen is served. */
    api: z
      .object({ port: z.number().int().min(0).max(65535).default(8400) })
      .strict()
      .optional(),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;

/** The configuration with every path resolved. */
export type Config = Parsed & {
  journal: { path: string; keyFile: string };
  server: { serverName: string };
  control: { socket: string; consoleSocket: string };
  tls: { ca: string; cert: string; key: string };
};
