/** The scenario runner's side of wallet payments: the customer's phone, the gateway's admin calls and its balance. */
import type { SimStack } from '../stack.js';
import type { WalletBalance, WalletPaymentRecord } from '../host/wallet-gateway.js';
import type { Scenario } from './scenario.js';

interface WalletState {
  payments: WalletPaymentRecord[];
  balance: WalletBalance[];
}

async function walletState(stack: SimStack): Promise<WalletState> {
  const res = await fetch(`${stack.host.url}/_wallet`);
  if (!res.ok) throw new Error(`the reference server's wallet state: ${res.status}`);
  return (await res.json()) as WalletState;
}

/** The gateway's behaviour and timings, through the admin endpoint as an operator's harness would set them. */
export async function setServerWallet(stack: SimStack, settings: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${stack.host.url}/_wallet`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
  if (!res.ok) throw new Error(`the reference server refused the wallet settings: ${res.status} ${await res.text()}`);
}

/** The customer's phone pays the newest order shown as a QR code (waiting for one to exist). */
export async function payOrder(stack: SimStack, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const order = (await walletState(stack)).payments.filter((p) => p.mode === 'qr' && p.behaviour === 'order').at(-1);
    if (order) {
      const res = await fetch(`${stack.host.url}/_wallet/pay-order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ paymentId: order.paymentId }),
      });
      if (!res.ok) throw new Error(`paying the order: ${res.status} ${await res.text()}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`no order to pay after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * For every transaction the gateway saw: paid − revoked = what the kiosk's payment says the
 * wallet paid (0 when none), and the counts of payments paid and revoked the scenario expects.
 */
export async function walletProblems(stack: SimStack, want: NonNullable<Scenario['expect']['server']>): Promise<string[]> {
  if (!want.walletBalanced && want.walletPaid === undefined && want.walletRevoked === undefined) return [];
  const { payments, balance } = await walletState(stack);
  const problems: string[] = [];
  if (want.walletBalanced) {
    for (const b of balance) {
      if (!b.ok) problems.push(`transaction ${b.txnId}: the gateway kept ${b.paid - b.revoked} fen (paid ${b.paid}, revoked ${b.revoked}), the payment says ${b.settled}`);
    }
  }
  const paid = payments.filter((p) => p.paid > 0 && p.revoked === 0).length;
  const revoked = payments.filter((p) => p.status === 'revoked' || p.status === 'closed').length;
  if (want.walletPaid !== undefined && paid !== want.walletPaid) problems.push(`the gateway kept ${paid} wallet payment(s), expected ${want.walletPaid}`);
  if (want.walletRevoked !== undefined && revoked !== want.walletRevoked) problems.push(`the gateway revoked or closed ${revoked} wallet payment(s), expected ${want.walletRevoked}`);
  return problems;
}
