import { v7 as uuidv7 } from 'uuid';
import { fromCallback, fromPromise } from 'xstate';
import type { CodeRead, CodeScanner } from '../../drivers/scanner/contract.js';
import type {
  MobileMode,
  MobileProgress,
  MobileResult,
  QueryMobileInput,
  QueryMobileOutput,
  RevokeMobileInput,
  RevokeMobileOutput,
  StartMobileInput,
  StopMobile,
} from '../../states/transaction.js';
import { maskWalletCode, walletByPrefix } from '../domain/wallet.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import { UplinkError, type MobileAnswer, type MobileLink } from '../uplink/index.js';
import { isDown } from './health.js';

type SendBack = (event: MobileProgress | MobileResult) => void;

export interface MobilePaymentsOptions {
  journal: Journal;
  /** The 2D scanner; absent: no payment code can be taken (the kiosk's QR may still be offered). */
  scanner: CodeScanner | undefined;
  /** The business adapter's wallet services; absent: no wallet payment at all. */
  link: MobileLink | undefined;
  /** The revoke just queued goes out now. */
  forwardNow: () => void;
  /** Resolves true once the business link is up (recovery asks the gateway before deciding). */
  waitUp: (timeoutMs: number) => Promise<boolean>;
  /** How long recovery waits for the link before it revokes without asking. */
  recoveryWaitMs: number;
  log: Logger;
}

/**
 * The effects of a wallet payment: the transaction machine's startMobile, queryMobile and
 * revokeMobile actors. Every outcome is journalled before the machine hears of it, and the
 * journal refuses to credit a payment whose revoke was decided, which is what keeps "revoked or
 * credited, never both" when a late answer crosses the decision. The scanner is enabled only while
 * the startMobile actor waits for a code; the code itself goes from the scanner's holder straight
 * into the gateway request and is wiped there.
 */
export class MobilePayments {
  constructor(private readonly o: MobilePaymentsOptions) {}

  /** The wallet modes a transaction may offer now: a code needs a usable scanner; both need the link. */
  offered(online: boolean): MobileMode[] {
    if (!this.o.link || !online) return [];
    const scanner = this.o.scanner;
    return scanner && !isDown(scanner.status()) ? ['code', 'qr'] : ['qr'];
  }

  /** The startMobile actor of one transaction. */
  startActor() {
    return fromCallback<StopMobile, StartMobileInput>(({ input, sendBack, receive }) =>
      input.mode === 'qr' ? this.byOrder(input, sendBack) : this.byCode(input, sendBack, receive),
    );
  }

  queryActor() {
    return fromPromise<QueryMobileOutput, QueryMobileInput>(async ({ input }) => {
      const link = this.o.link;
      if (!link || input.paymentId === '') return { outcome: 'unknown' };
      let answer: MobileAnswer;
      try {
        answer = await link.queryMobile({ paymentId: input.paymentId, txnId: input.id });
      } catch (e) {
        this.o.log.info({ txn: input.id, payment: input.paymentId, err: (e as Error).message }, 'wallet query told nothing');
        return { outcome: 'unknown' };
      }
      return this.record(input.id, input.paymentId, answer);
    });
  }

  /** Decides the revoke (journal and outbox, one write) unless the payment was credited first. */
  revokeActor() {
    return fromPromise<RevokeMobileOutput, RevokeMobileInput>(async ({ input }) => {
      const a = this.o.journal.mobile.attempts(input.id).find((x) => x.paymentId === input.paymentId);
      if (!a) return { outcome: 'revoked' };
      if (a.status === 'paid') return { outcome: 'paid' };
      if (a.status === 'requested') this.revoke(input.id, input.paymentId, input.reason);
      return { outcome: 'revoked' };
    });
  }

  /**
   * Recovery's first step: each wallet request a crash left without an outcome is queried; paid is
   * journalled (the credit point; the settle that follows closes the transaction once), anything
   * else is revoked. Without the link in time it is revoked without asking.
   */
  async recoverUnresolved(): Promise<void> {
    const { journal, link, log } = this.o;
    const open = journal.mobile.unresolved();
    if (open.length === 0) return;
    const up = link !== undefined && (await this.o.waitUp(this.o.recoveryWaitMs));
    for (const a of open) {
      let answer: MobileAnswer | undefined;
      if (up) {
        answer = await link.queryMobile({ paymentId: a.paymentId, txnId: a.txnId }).catch((e: Error) => {
          log.warn({ txn: a.txnId, payment: a.paymentId, err: e.message }, 'recovery: wallet query told nothing');
          return undefined;
        });
      }
      if (answer?.outcome === 'paid' && journal.mobile.paid(a.txnId, { paymentId: a.paymentId, gatewayRef: answer.gatewayRef }) === 'credited') {
        log.warn({ txn: a.txnId, payment: a.paymentId }, 'recovery: the wallet payment was paid; the transaction settles');
        continue;
      }
      this.revoke(a.txnId, a.paymentId, 'recovery');
    }
  }

  /** Every wallet request of the transaction without an outcome is revoked (a transaction closed while its actor was gone). */
  abandonOpen(txnId: string, reason: string): void {
    for (const a of this.o.journal.mobile.attempts(txnId)) {
      if (a.status === 'requested') this.revoke(txnId, a.paymentId, reason);
    }
  }

  private revoke(txnId: string, paymentId: string, reason: string): void {
    const m = this.o.journal.mobile.unknown(txnId, { paymentId, reason });
    this.o.log.warn({ txn: txnId, payment: paymentId, reason, action: m.action }, `wallet payment not known paid: ${m.action} queued`);
    this.o.forwardNow();
  }

  // ------------------------------------------------------------------ the customer's payment code

  private byCode(input: StartMobileInput, sendBack: SendBack, receive: (fn: (e: StopMobile) => void) => void) {
    const { scanner, link, journal, log } = this.o;
    if (!scanner || !link) {
      sendBack({ type: 'MOBILE_RESULT', outcome: 'unavailable', reason: scanner ? 'no wallet link' : 'no scanner' });
      return;
    }
    let phase: 'waiting' | 'sent' | 'done' = 'waiting';
    const onCode = (read: CodeRead): void => {
      if (phase !== 'waiting') {
        read.sensitive.wipe();
        return;
      }
      const wallet = walletByPrefix(read.masked.slice(0, 2), read.length);
      if (!wallet) {
        read.sensitive.wipe();
        sendBack({ type: 'MOBILE_PROGRESS', stage: 'unknown-wallet' });
        return;
      }
      phase = 'sent';
      // One code per payment: the scanner goes off before the code leaves the kiosk.
      scanner.disable().catch((e: Error) => log.error({ err: e.message }, 'could not disable the scanner'));
      const paymentId = uuidv7();
      const maskedCode = maskWalletCode(read.masked, read.length);
      try {
        journal.mobile.requested(input.id, { paymentId, mode: 'code', wallet, amount: input.amount, maskedCode });
      } catch (e) {
        read.sensitive.wipe();
        log.error({ txn: input.id, err: (e as Error).message }, 'wallet request not journalled: nothing sent');
        sendBack({ type: 'MOBILE_RESULT', outcome: 'unavailable', reason: 'journal' });
        return;
      }
      sendBack({ type: 'MOBILE_PROGRESS', stage: 'requesting', paymentId, maskedCode });
      const phone = journal.transaction(input.id)?.phone ?? '';
      log.info({ txn: input.id, payment: paymentId, wallet, maskedCode }, 'wallet charge sent');
      link
        .chargeByCode({ paymentId, txnId: input.id, phone, amount: input.amount, wallet }, read.sensitive)
        .then(
          (answer) => sendBack(this.record(input.id, paymentId, answer)),
          (e: unknown) => sendBack(this.chargeFailed(input.id, paymentId, e)),
        )
        .catch((e: Error) => log.error({ txn: input.id, err: e.message }, 'wallet charge outcome not journalled'));
    };
    const onBadScan = (): void => {
      if (phase === 'waiting') sendBack({ type: 'MOBILE_PROGRESS', stage: 'unknown-wallet' });
    };
    scanner.on('code', onCode);
    scanner.on('bad-scan', onBadScan);
    scanner.enable().catch((e: Error) => {
      log.error({ err: e.message }, 'could not enable the scanner');
      if (phase === 'waiting') {
        phase = 'done';
        sendBack({ type: 'MOBILE_RESULT', outcome: 'unavailable', reason: 'scanner' });
      }
    });
    sendBack({ type: 'MOBILE_PROGRESS', stage: 'show-code' });
    receive(() => {
      if (phase !== 'waiting') return;
      phase = 'done';
      sendBack({ type: 'MOBILE_RESULT', outcome: 'cancelled' });
    });
    return () => {
      if (phase === 'waiting') phase = 'done';
      scanner.off('code', onCode);
      scanner.off('bad-scan', onBadScan);
      scanner.disable().catch((e: Error) => log.error({ err: e.message }, 'could not disable the scanner'));
    };
  }

  // ------------------------------------------------------------------ the kiosk's QR code

  private byOrder(input: StartMobileInput, sendBack: SendBack) {
    const { link, journal, log } = this.o;
    if (!link) {
      sendBack({ type: 'MOBILE_RESULT', outcome: 'unavailable', reason: 'no wallet link' });
      return;
    }
    const paymentId = uuidv7();
    try {
      journal.mobile.requested(input.id, { paymentId, mode: 'qr', wallet: 'any', amount: input.amount });
    } catch (e) {
      log.error({ txn: input.id, err: (e as Error).message }, 'wallet order not journalled: nothing sent');
      sendBack({ type: 'MOBILE_RESULT', outcome: 'unavailable', reason: 'journal' });
      return;
    }
    sendBack({ type: 'MOBILE_PROGRESS', stage: 'scan-qr', paymentId });
    const phone = journal.transaction(input.id)?.phone ?? '';
    link
      .createOrder({ paymentId, txnId: input.id, phone, amount: input.amount })
      .then(
        (order) => {
          sendBack({ type: 'MOBILE_PROGRESS', stage: 'scan-qr', paymentId, qr: { codeUrl: order.codeUrl, expiresAt: order.expiresAt } });
          sendBack({ type: 'MOBILE_RESULT', outcome: 'confirming' });
        },
        (e: unknown) => sendBack(this.chargeFailed(input.id, paymentId, e)),
      )
      .catch((e: Error) => log.error({ txn: input.id, err: e.message }, 'wallet order outcome not journalled'));
  }

  // ------------------------------------------------------------------ outcomes

  /** Journals what the gateway answered and says what the machine should hear. */
  private record(txnId: string, paymentId: string, answer: MobileAnswer): MobileResult & QueryMobileOutput {
    const { journal, log } = this.o;
    const a = journal.mobile.attempts(txnId).find((x) => x.paymentId === paymentId);
    if (answer.outcome === 'paid') {
      const r = journal.mobile.paid(txnId, { paymentId, gatewayRef: answer.gatewayRef });
      if (r === 'revoke-stands') {
        log.warn({ txn: txnId, payment: paymentId }, 'wallet paid after the revoke was decided: not credited, the revoke stands');
        return { type: 'MOBILE_RESULT', outcome: 'revoked' };
      }
      return { type: 'MOBILE_RESULT', outcome: 'paid' };
    }
    if (a?.status === 'revoking' || a?.status === 'revoked') return { type: 'MOBILE_RESULT', outcome: 'revoked' };
    if (answer.outcome === 'failed') {
      if (a?.status === 'requested') journal.mobile.failed(txnId, { paymentId, reason: answer.reason });
      return { type: 'MOBILE_RESULT', outcome: 'failed', reason: answer.reason };
    }
    return { type: 'MOBILE_RESULT', outcome: 'confirming' };
  }

  /** A charge or an order that failed: certain nothing was charged, or not known. */
  private chargeFailed(txnId: string, paymentId: string, e: unknown): MobileResult {
    const kind = e instanceof UplinkError ? e.kind : 'outcome-unknown';
    this.o.log.warn({ txn: txnId, payment: paymentId, kind, err: (e as Error).message }, 'wallet request failed');
    if (kind === 'unreachable' || kind === 'rejected') {
      const a = this.o.journal.mobile.attempts(txnId).find((x) => x.paymentId === paymentId);
      if (a?.status === 'requested') this.o.journal.mobile.failed(txnId, { paymentId, reason: `not-sent: ${kind}` });
      return { type: 'MOBILE_RESULT', outcome: 'unavailable', reason: kind };
    }
    return { type: 'MOBILE_RESULT', outcome: 'unknown', reason: kind };
  }
}
