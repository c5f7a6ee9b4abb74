/**
 * What the wallet payment flow needs from the business side (issue 17): charge a scanned payment
 * code, ask what became of a payment or an order, and create an order to show as a QR code. A
 * revoke (or an order's close) is an outbox message of kind 'mobile-revoke', delivered like a
 * payment and acknowledged by the server only once the gateway has done it.
 */
import type { SensitiveCode } from '../../drivers/scanner/contract.js';

export interface MobileChargeRequest {
  /** Unique per attempt, journalled before sending: the gateway's out-trade number. */
  paymentId: string;
  txnId: string;
  phone: string;
  /** In fen. */
  amount: number;
  wallet: string;
}

/**
 * paid: the money is the operator's. failed: no money moved (reason from the gateway).
 * confirming: the customer is confirming on the phone (or the gateway is still working): ask again.
 */
export type MobileAnswer =
  | { outcome: 'paid'; gatewayRef: string }
  | { outcome: 'failed'; reason: string }
  | { outcome: 'confirming' };

export interface MobileOrderRequest {
  paymentId: string;
  txnId: string;
  phone: string;
  amount: number;
}

export interface MobileOrder {
  paymentId: string;
  /** What the QR code on the screen encodes. */
  codeUrl: string;
  /** ISO time after which the gateway no longer takes a payment for it. */
  expiresAt: string;
}

/**
 * Implemented by a business adapter whose operator takes wallet payments. Every method fails with
 * UplinkError as BusinessAdapter's do: 'outcome-unknown' when the request may have reached the
 * gateway (the caller queries, then revokes), 'unreachable' when nothing was sent.
 */
export interface MobileLink {
  /** Sends the code (consumed from `code`, which is wiped whatever happens) with the request. */
  chargeByCode(request: MobileChargeRequest, code: SensitiveCode): Promise<MobileAnswer>;
  queryMobile(q: { paymentId: string; txnId: string }): Promise<MobileAnswer>;
  createOrder(request: MobileOrderRequest): Promise<MobileOrder>;
}

export function hasMobileLink(adapter: object): adapter is MobileLink {
  return 'chargeByCode' in adapter && 'queryMobile' in adapter && 'createOrder' in adapter;
}
