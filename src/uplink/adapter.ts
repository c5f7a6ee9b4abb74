/**
 * What the runtime needs from the business side, whatever protocol the operator speaks. The
 * reference protocol is the envelope link (src/uplink/link/); an operator's own protocol is another
 * implementation of this interface, chosen by `server.adapter` (see adapters.ts).
 *
 * Contract:
 * - the adapter owns its connection: it reconnects by itself and reports 'up' and 'down';
 * - lookup() and deliver() fail with UplinkError; 'outcome-unknown' whenever the request may have
 *   reached the server without an answer coming back, 'unreachable' only when nothing was sent;
 * - deliver() sends the batch in the order given and returns the server's acknowledgements as
 *   received: some messages may have none (not delivered), an id may come twice, or be one the
 *   batch did not hold; the forwarder copes with all three;
 * - delivery must be idempotent by message id: the same message is re-sent until acknowledged.
 *   Reversals are outbox messages of kind 'reversal' and travel the same way as payments.
 */
import type { EventEmitter } from 'node:events';
import type { CardRead } from '../../drivers/types.js';
import type { OutboxKind } from './messages.js';
import type { LinkDown, LinkUp } from './link/session.js';

export type { LinkDown, LinkUp } from './link/session.js';

export interface AccountInfo {
  phone: string;
  holder?: string;
  /** In fen. */
  amountDue: number;
}

export interface OutboxMessage {
  messageId: string;
  kind: OutboxKind;
  payload: Record<string, unknown>;
}

export type DeliveryAck =
  | { messageId: string; status: 'accepted' | 'duplicate'; serverRef: string }
  | { messageId: string; status: 'refused'; error: string };

/** One online card authorisation (card-reader path). `requestId` is what a reversal names in `reverses`. */
export interface CardAuthorisationRequest {
  /** Unique per attempt, journalled before sending; the server de-duplicates by it. */
  requestId: string;
  txnId: string;
  phone: string;
  /** In fen. */
  amount: number;
}

export type CardAuthorisationAnswer =
  | { outcome: 'approved'; authCode: string; serverRef: string }
  | { outcome: 'declined'; reason: string };

export type AdapterEvents = { up: [LinkUp]; down: [LinkDown] };

/** A point of the journal's hash chain: an event's seq and hash. */
export interface ChainHeadRef {
  seq: number;
  hash: string;
}

/**
 * Rollback detection (issue 15): the head reported with each delivery, and the heads the server
 * answers with, checked against the journal (ChainWitness in src/management/).
 */
export interface ChainHeadWitness {
  report(): ChainHeadRef;
  serverSaw(server: string, heads: { chainHead?: ChainHeadRef | undefined; chainHeadBefore?: ChainHeadRef | undefined }): void;
}

export interface BusinessAdapter extends Pick<EventEmitter<AdapterEvents>, 'on' | 'off' | 'once'> {
  start(): void;
  stop(): Promise<void>;
  readonly up: boolean;
  /** Why the link is down, once a connection has been tried. */
  readonly down: LinkDown | undefined;
  /** Resolves true as soon as the link is up, false after `timeoutMs`. */
  waitUp(timeoutMs: number): Promise<boolean>;
  lookup(phone: string): Promise<AccountInfo>;
  deliver(batch: readonly OutboxMessage[]): Promise<DeliveryAck[]>;
  /**
   * Sends the card data (consumed from `read.sensitive`, which is wiped whatever happens) with the
   * request over the TLS link. Fails with UplinkError: 'outcome-unknown' when the request may have
   * reached the server (the caller must queue a reversal), 'unreachable' when nothing was sent (or
   * the server said it cannot serve now), 'rejected' when the server refused the request itself, so
   * that nothing was authorised (a reversal is then harmless, but not needed).
   */
  authoriseCard(request: CardAuthorisationRequest, read: CardRead): Promise<CardAuthorisationAnswer>;
}
