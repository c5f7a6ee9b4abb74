/**
 * The simulator's test wallet codes: which behaviour the reference payment gateway plays for a
 * payment code, chosen by the code itself so a scenario, the panel and the scanner emulator's
 * console can pick one without an admin call. A code is 18 digits: the wallet's prefix (2 digits),
 * then the behaviour (2 digits), then 14 digits of anything. The gateway reads the behaviour; the
 * kiosk reads only the prefix, as it would in the field.
 */
import { randomInt } from 'node:crypto';

/** Wallets by prefix, as the real ones split them: 10–15 one wallet, 25–30 another, 62 UnionPay. */
export const TEST_WALLETS = {
  wechat: '13',
  alipay: '28',
  unionpay: '62',
  /** No wallet uses it: the kiosk must refuse the code before asking the gateway. */
  unknown: '99',
} as const;
export type TestWallet = keyof typeof TEST_WALLETS;

export const WALLET_BEHAVIOURS = {
  'paid': '00',
  /** The customer confirms with a password on the phone; the gateway says "confirming" until then. */
  'paid-after-confirm': '01',
  'failed-insufficient-balance': '02',
  'failed-code-expired': '03',
  'failed-code-used': '04',
  /** The gateway never answers the charge. */
  'no-answer': '05',
  /** The gateway takes the money, and its answer is lost on the way back. */
  'answer-lost-after-paying': '06',
  /** Confirming until the kiosk sends its revoke; the payment then completes just before the revoke is processed. */
  'paid-after-revoke-sent': '07',
  /** Confirming for ever: the kiosk's query limit runs out and it revokes. */
  'confirming-forever': '08',
} as const;
export type WalletBehaviour = keyof typeof WALLET_BEHAVIOURS;

/** A fresh code (each payment code is single-use) for a wallet and a behaviour. */
export function walletCode(behaviour: WalletBehaviour, wallet: TestWallet = 'wechat'): string {
  let rest = '';
  for (let i = 0; i < 14; i++) rest += String(randomInt(10));
  return TEST_WALLETS[wallet] + WALLET_BEHAVIOURS[behaviour] + rest;
}

/** The behaviour a code asks the reference gateway for; 'paid' when the two digits name none. */
export function behaviourOf(code: string): WalletBehaviour {
  const digits = code.slice(2, 4);
  const found = (Object.keys(WALLET_BEHAVIOURS) as WalletBehaviour[]).find((b) => WALLET_BEHAVIOURS[b] === digits);
  return found ?? 'paid';
}
