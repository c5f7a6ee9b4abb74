import { z } from 'zod';

/**
 * The catalogue of journal events: every type the kiosk writes, with the shape of its data. A
 * writer names a type from here and must give its payload; a reader that asks for a type gets its
 * payload typed, and checked against the schema, since the JSON on disk is outside the compiler's
 * reach. A reader gets the data as stored once it fits: keys a schema does not name are kept, so
 * that reading never drops what an older or newer writer added.
 */

const cash = z.object({ value: z.number().int(), currency: z.string(), code: z.number().int() });
const counts = z.record(z.string(), z.number().int());
const terminalReversal = z.object({
  requestId: z.string(),
  receiptNo: z.number().int(),
  amount: z.number().int(),
  code: z.string(),
  detail: z.string(),
});
const cardMethod = z.enum(['reader', 'terminal']);
const mobileMode = z.enum(['code', 'qr']);
const mobilePayment = z.object({ paymentId: z.string(), amount: z.number().int() });
const head = z.object({ seq: z.number().int(), hash: z.string() });

/** Written only by the journal's own money methods: append() refuses them. */
const JOURNAL_OWNED = {
  'txn.started': z.object({ service: z.enum(['pay', 'topup', 'lookup']) }),
  'txn.lookup': z.object({
    phone: z.string(),
    amountDue: z.number().int().nullable(),
    holder: z.string().optional(),
    offline: z.boolean().optional(),
  }),
  'txn.settled': z.object({
    endReason: z.string(),
    cashIn: z.number().int(),
    credited: z.number().int(),
    changeDue: z.number().int(),
    cardIn: z.number().int().optional(),
    mobileIn: z.number().int().optional(),
    claimCode: z.string().optional(),
  }),
  'txn.cancelled': z.object({ reason: z.string() }),
  /** Written in the same commit as each outbox row: binds its payload (SHA-256 of the stored JSON) to the chain. */
  'outbox.queued': z.object({
    messageId: z.string(),
    kind: z.string(),
    digest: z.string().regex(/^[0-9a-f]{64}$/),
    /** 'migration': a row queued before version 6, bound as it stood at the upgrade. */
    bound: z.literal('migration').optional(),
  }),
  /** A server saw a later or different head than this journal's: the durable mark that keeps the kiosk out of service. */
  'journal.rollback-detected': z.object({ server: z.string(), serverHead: head, ownHead: head, reason: z.string() }),
  /** An engineer accepted the journal in use (a replaced storage card): the heads the servers saw are set aside. */
  'journal.rollback-accepted': z.object({
    by: z.string(),
    peer: z.object({ uid: z.number().int(), user: z.string(), pid: z.number().int() }).optional(),
    accepted: z.array(head.extend({ server: z.string() })),
  }),
  'txn.reversal': z.object({ messageId: z.string(), reverses: z.string(), amount: z.number().int(), reason: z.string() }),
  'note.escrowed': z.object({ note: cash }),
  'note.stacked': z.object({ note: cash, via: z.string().optional() }),
  'note.returned': z.object({ note: cash, reason: z.string() }),
  'coin.accepted': z.object({ coin: cash, counter: z.number().int().optional() }),
  'payout.intended': z.object({
    payout: z.number().int(),
    hopper: z.string(),
    coinValue: z.number().int(),
    count: z.number().int(),
    eventBefore: z.number().int(),
  }),
  'payout.started': z.object({ payout: z.number().int(), hopper: z.string(), event: z.number().int() }),
  'payout.done': z.object({
    payout: z.number().int(),
    hopper: z.string(),
    coinValue: z.number().int(),
    count: z.number().int(),
    paid: z.number().int(),
    unpaid: z.number().int(),
    amountPaid: z.number().int(),
    via: z.string(),
  }),
  'hopper.level': z.object({
    hopper: z.string(),
    coinValue: z.number().int(),
    level: z.number().int(),
    previous: z.number().int().nullable(),
    reason: z.string(),
  }),
  'hopper.refill': z.object({
    hopper: z.string(),
    coinValue: z.number().int(),
    added: z.number().int(),
    previous: z.number().int(),
    level: z.number().int(),
    by: z.string(),
  }),
  'cashbox.collected': z.object({
    by: z.string(),
    currency: z.string(),
    expected: counts,
    counted: counts,
    difference: counts,
    expectedTotal: z.number().int(),
    countedTotal: z.number().int(),
    ok: z.boolean(),
    /** The unresolved-note claims this count confirmed (their notes were found in the box). */
    confirmedClaims: z.array(z.string()).optional(),
  }),
  'alarm.cash-difference': z.object({
    by: z.string(),
    collection: z.number().int(),
    difference: counts,
    expectedTotal: z.number().int(),
    countedTotal: z.number().int(),
    shortBy: z.number().int(),
  }),
  'note.unresolved': z.object({ value: z.number().int(), why: z.string(), claimId: z.string().optional() }),
  'claim.opened': z.object({
    claimId: z.string(),
    reason: z.enum(['note-unresolved', 'change-owed']),
    amount: z.number().int(),
    claimCode: z.string(),
    denomination: z.number().int().optional(),
  }),
  'claim.confirmed': z.object({ claimId: z.string(), collection: z.number().int(), denomination: z.number().int() }),
  'change.credited': z.object({ claimId: z.string(), amount: z.number().int(), claimCode: z.string() }),
  'slip.printed': z.object({ reprint: z.boolean() }),
  'slip.failed': z.object({ reason: z.string() }),
  'receipt.printed': z.object({ reprint: z.boolean() }),
  'receipt.failed': z.object({ reason: z.string() }),
  'card.requested': z.object({
    requestId: z.string(),
    method: cardMethod,
    amount: z.number().int(),
    maskedPan: z.string().optional(),
  }),
  'card.approved': z.object({
    requestId: z.string(),
    method: cardMethod,
    amount: z.number().int(),
    authCode: z.string().optional(),
    serverRef: z.string().optional(),
    receiptNo: z.number().int().optional(),
    trace: z.number().int().optional(),
    terminalId: z.string().optional(),
    cardName: z.string().optional(),
  }),
  'card.declined': z.object({ requestId: z.string(), reason: z.string() }),
  'card.unknown': z.object({
    requestId: z.string(),
    method: cardMethod,
    reason: z.string(),
    reversal: z.enum(['server', 'terminal', 'none']),
    withdrawn: z.number().int(),
    receiptNo: z.number().int().optional(),
  }),
  'card.reversed': terminalReversal,
  'card.reversal-refused': terminalReversal,
  'alarm.card-unresolved': z.object({
    requestId: z.string(),
    amount: z.number().int(),
    reason: z.string(),
    detail: z.string(),
  }),
  'alarm.card-reversal-refused': terminalReversal,
  /** Before the code (or the order) leaves the kiosk: the masked code only, never the full code. */
  'mobile.requested': mobilePayment.extend({
    mode: mobileMode,
    wallet: z.string(),
    maskedCode: z.string().optional(),
  }),
  /** The credit point of a wallet payment. */
  'mobile.paid': mobilePayment.extend({ gatewayRef: z.string().optional() }),
  'mobile.failed': z.object({ paymentId: z.string(), reason: z.string() }),
  /** Not known to be paid when the kiosk gave up: written with its revoke (or close) in the outbox. */
  'mobile.unknown': z.object({ paymentId: z.string(), reason: z.string(), revokeMessageId: z.string() }),
  /** The gateway said paid after the kiosk decided to revoke: never credited, the revoke stands. */
  'mobile.paid-after-revoke': z.object({ paymentId: z.string(), gatewayRef: z.string().optional() }),
  /** The gateway acknowledged the revoke (or the close). */
  'mobile.revoked': z.object({ paymentId: z.string(), revokeMessageId: z.string(), serverRef: z.string() }),
} as const;

/** Facts the rest of the kiosk journals through Journal.append(). */
const APPENDED = {
  'note.rejected': z.object({ reason: z.string(), code: z.number().int() }),
  'note.stray-returned': z.object({ value: z.number().int(), currency: z.string(), why: z.string() }),
  'note.ack-resent': z.object({ value: z.number().int() }),
  'alarm.unattributed-note': z.object({ value: z.number().int().nullable() }),
  'alarm.unattributed-coin': z.object({ value: z.number().int(), currency: z.string(), counter: z.number().int() }),
  'alarm.coin-events-lost': z.object({ count: z.number().int() }),
  'device.coin-counter': z.object({ counter: z.number().int() }),
  'device.power-up': z.object({ device: z.string(), bill: z.enum(['none', 'acceptor', 'stacker']) }),
  'device.status': z.object({
    device: z.string(),
    health: z.enum(['ok', 'degraded', 'fault', 'offline']),
    code: z.string(),
    detail: z.string(),
  }),
  'device.test': z.object({ device: z.string(), ok: z.boolean() }),
  'terminal.state': z.object({
    state: z.string(),
    reason: z.string().nullable(),
    services: z.array(z.enum(['pay', 'topup', 'lookup'])),
  }),
  'terminal.receipt': z.object({ lines: z.array(z.string()) }),
  'txn.lookup-failed': z.object({ error: z.string() }),
  'recovery.decision': z.discriminatedUnion('action', [
    z.object({
      txnId: z.string(),
      action: z.literal('settled'),
      credited: z.number().int(),
      returned: z.number().int(),
      unresolved: z.number().int().optional(),
    }),
    z.object({
      txnId: z.string(),
      action: z.literal('card-reversed'),
      requestId: z.string(),
      was: z.enum(['requested', 'approved']),
      reversal: z.enum(['server', 'terminal', 'none']),
    }),
    z.object({
      txnId: z.string(),
      action: z.literal('mobile-revoked'),
      paymentId: z.string(),
      was: z.literal('requested'),
    }),
    z.object({ txnId: z.string(), action: z.literal('cancelled'), unresolved: z.number().int().optional() }),
    z.object({ txnId: z.string(), action: z.literal('deferred'), why: z.string() }),
  ]),
  'recovery.payout': z.object({ payout: z.number().int(), decided: z.boolean() }),
  'operator.in-service': z.object({ by: z.string() }),
  'operator.out-of-service': z.object({ by: z.string(), reason: z.string() }),
  'console.audit': z.object({
    who: z.string(),
    action: z.string(),
    ok: z.boolean(),
    /** Who really sent it: the peer of the control connection (SO_PEERCRED). */
    peer: z.object({ uid: z.number().int(), user: z.string(), pid: z.number().int() }).optional(),
  }),
  /** The console's lock-out after each change: the service restores it from the last one. */
  'console.lockout': z.object({
    failures: z.number().int(),
    locks: z.number().int(),
    /** ISO time; null when not locked. */
    lockedUntil: z.string().nullable(),
    /** The lock this change started, in milliseconds. */
    lockMs: z.number().int().optional(),
  }),
  'alarm.raised': z.object({
    id: z.string(),
    kind: z.string(),
    source: z.string(),
    severity: z.enum(['warning', 'critical']),
    detail: z.string(),
  }),
  'alarm.cleared': z.object({ id: z.string(), kind: z.string(), source: z.string() }),
  'remote.command': z.object({
    id: z.string(),
    type: z.string(),
    by: z.string(),
    args: z.record(z.string(), z.unknown()),
    resumed: z.literal(true).optional(),
  }),
  'remote.command.done': z.object({
    id: z.string(),
    type: z.string(),
    by: z.string(),
    ok: z.boolean(),
    result: z.record(z.string(), z.unknown()),
  }),
  // Software updates (src/update/): the switch to a new release, its health check passed, and a
  // rollback to the release before it, journalled by the release that runs afterwards.
  'update.switched': z.object({ from: z.string(), to: z.string(), command: z.string().nullable() }),
  'update.good': z.object({ version: z.string(), from: z.string() }),
  'update.rolled-back': z.object({ from: z.string(), to: z.string(), reason: z.string(), command: z.string().nullable() }),
} as const;

export const EVENT_SCHEMAS = { ...JOURNAL_OWNED, ...APPENDED } as const;

type Schemas = typeof EVENT_SCHEMAS;

export type EventType = keyof Schemas;
/** The types only the journal's own methods write. */
export type OwnedEventType = keyof typeof JOURNAL_OWNED;
/** The types anyone may write through Journal.append(). */
export type AppendType = keyof typeof APPENDED;

/** What a writer gives for each type (optional keys may be left out). */
export type EventPayloads = { [K in EventType]: z.input<Schemas[K]> };

export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as readonly EventType[];
export const APPEND_TYPES = Object.keys(APPENDED) as readonly AppendType[];
const OWNED = new Set<string>(Object.keys(JOURNAL_OWNED));

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_SCHEMAS, type);
}

/** `type === want`, with `want` checked against the catalogue: for readers that compare stored types. */
export function isType<T extends EventType>(type: string, want: T): type is T {
  return type === want;
}

export function isOwnedType(type: string): type is OwnedEventType {
  return OWNED.has(type);
}

/** An event as stored: any type the journal ever wrote, its data as parsed from JSON. */
export interface JournalEvent {
  seq: number;
  txnId: string | null;
  type: string;
  data: Record<string, unknown>;
  at: string;
}

/** An event of one catalogue type, its data checked against the type's schema. */
export interface TypedEvent<T extends EventType> {
  seq: number;
  txnId: string | null;
  type: T;
  data: EventPayloads[T];
  at: string;
}

/**
 * Checks stored data against its type's schema; throws naming the event when it does not fit, so
 * that a reader never goes on with a payload of the wrong shape.
 */
export function parsePayload<T extends EventType>(type: T, data: unknown, where = ''): EventPayloads[T] {
  const r = EVENT_SCHEMAS[type].safeParse(data);
  if (!r.success) {
    const first = r.error.issues[0];
    const path = first && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
    throw new Error(`journal: event "${type}"${where} does not fit its schema${path}: ${first?.message ?? 'invalid'}`);
  }
  return data as EventPayloads[T];
}

/** Narrows an event read from the journal to one catalogue type, checking its data. */
export function asTyped<T extends EventType>(e: JournalEvent, type: T): TypedEvent<T> {
  if (e.type !== type) throw new Error(`journal: event ${e.seq} is "${e.type}", not "${type}"`);
  return { ...e, type, data: parsePayload(type, e.data, ` (event ${e.seq})`) };
}

/** True when `e` is of `type`; its data is then checked and typed. */
export function isEvent<T extends EventType>(e: JournalEvent, type: T): e is JournalEvent & TypedEvent<T> {
  if (e.type !== type) return false;
  parsePayload(type, e.data, ` (event ${e.seq})`);
  return true;
}
