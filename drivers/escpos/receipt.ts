/**
 * The kiosk's payment receipt, in Chinese with English labels for visitors. Pure layout: the
 * amounts come from the journal as integer fen and are only formatted here, never computed with
 * fractions.
 */
import type { Receipt, ReceiptLine } from '../types.js';
import type { PaperWidth } from './encoder.js';
import { formatTime } from '../time.js';

export { DEFAULT_TIME_ZONE, formatTime } from '../time.js';

export interface ReceiptData {
  /** Operator shown at the top, e.g. '中国移动 China Mobile'. */
  operator: string;
  terminalId: string;
  at: Date;
  txnId: string;
  /** What was paid, e.g. '话费充值 Mobile top-up'. */
  service: string;
  /** Account phone number; printed masked. */
  phone: string;
  /** The bill's amount in fen, null for an open top-up. */
  amountDue: number | null;
  /** Face value in fen of every note taken, one entry per note. */
  notes: number[];
  /** Face value in fen of every coin taken, one entry per coin. */
  coins: number[];
  credited: number;
  changePaid: number;
  changeOwed: number;
  /** Code the customer shows to be paid the change owed. */
  claimCode?: string;
  /** A card payment: the masked card number only, and what the authoriser gave. */
  card?: ReceiptCard;
  /** A mobile wallet payment: the masked payment code only, and the gateway's reference. */
  mobile?: ReceiptMobile;
  /** Printed after a crash or power cut, from the journal. */
  recovered?: boolean;
  /** Printed again on the customer's request. */
  reprint?: boolean;
  /** IANA time zone of the printed time (the configuration's `timeZone`); Asia/Shanghai when absent. */
  timeZone?: string;
}

export interface ReceiptCard {
  amount: number;
  /** First 6 / last 4 digits at most (reader path); the terminal prints its own card lines. */
  maskedPan?: string;
  authCode?: string;
  receiptNo?: number;
  /** The payment terminal's own receipt lines. */
  terminalLines?: string[];
}

export interface ReceiptMobile {
  amount: number;
  /** 'wechat', 'alipay', 'unionpay', or 'any' for the kiosk's QR. */
  wallet: string;
  /** First 2 / last 4 digits at most of a scanned code; absent for the kiosk's QR. */
  maskedCode?: string;
  gatewayRef?: string;
}

const WALLET_NAMES: Record<string, string> = { wechat: '微信支付 WeChat Pay', alipay: '支付宝 Alipay', unionpay: '云闪付 UnionPay' };

export interface LayoutOptions {
  /** Characters per line, for the rules between sections. Default 32 (fits every paper width). */
  width?: PaperWidth;
}


function checkFen(fen: number, what: string): void {
  if (!Number.isSafeInteger(fen) || fen < 0) {
    throw new RangeError(`${what} must be a non-negative integer number of fen, got ${fen}`);
  }
}

/** Integer fen → '￥50.00', by digits: no division, so no rounding can creep in. */
export function formatFen(fen: number): string {
  checkFen(fen, 'amount');
  const digits = String(fen).padStart(3, '0');
  return `\uffe5${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** '13800138000' → '138****8000'; shorter numbers keep only their last 4 digits. */
export function maskPhone(phone: string): string {
  const p = phone.replace(/[\s-]/g, '');
  if (p.length >= 11) return p.slice(0, 3) + '*'.repeat(p.length - 7) + p.slice(-4);
  if (p.length > 4) return '*'.repeat(p.length - 4) + p.slice(-4);
  return '*'.repeat(p.length);
}

/** Counts per face value, highest value first: '￥50.00 x 2'. */
export function summarizeCash(values: readonly number[]): string[] {
  const counts = new Map<number, number>();
  for (const v of values) {
    checkFen(v, 'face value');
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[0] - a[0]).map(([v, n]) => `${formatFen(v)} x ${n}`);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function buildReceipt(data: ReceiptData, opts: LayoutOptions = {}): Receipt {
  checkFen(data.credited, 'credited');
  checkFen(data.changePaid, 'changePaid');
  checkFen(data.changeOwed, 'changeOwed');
  if (data.amountDue !== null) checkFen(data.amountDue, 'amountDue');

  const rule: ReceiptLine = { text: '-'.repeat(opts.width ?? 32) };
  const lines: ReceiptLine[] = [
    { text: data.operator, align: 'center', emphasis: true },
    { text: '缴费凭条 PAYMENT RECEIPT', align: 'center', emphasis: true },
  ];
  if (data.recovered) lines.push({ text: '** 补发凭条 RECOVERED RECEIPT **', align: 'center', emphasis: true });
  if (data.reprint) lines.push({ text: '** 重打凭条 REPRINT **', align: 'center', emphasis: true });
  lines.push(
    rule,
    { text: `终端 Terminal: ${data.terminalId}` },
    { text: `时间 Time: ${formatTime(data.at, data.timeZone)}` },
    // The id on a line of its own, so it never breaks; 36 characters do not fit 32 columns, and
    // without its hyphens (32 hex digits) it still reads as the same id.
    { text: '流水号 Txn:' },
    { text: (opts.width ?? 32) >= data.txnId.length ? data.txnId : data.txnId.replace(/-/g, '') },
    { text: `业务 Service: ${data.service}` },
    { text: `号码 Account: ${maskPhone(data.phone)}` },
  );
  if (data.amountDue !== null) lines.push({ text: `应缴 Amount due: ${formatFen(data.amountDue)}` });

  lines.push(rule);
  if (data.notes.length > 0) {
    lines.push({ text: '纸币 Notes:' }, ...summarizeCash(data.notes).map((text) => ({ text: `  ${text}` })));
  }
  if (data.coins.length > 0) {
    lines.push({ text: '硬币 Coins:' }, ...summarizeCash(data.coins).map((text) => ({ text: `  ${text}` })));
  }
  const card = data.card;
  if (card) {
    checkFen(card.amount, 'card.amount');
    lines.push({ text: `银行卡 Card: ${formatFen(card.amount)}`, emphasis: true });
    if (card.maskedPan) lines.push({ text: `  卡号 Card no: ${card.maskedPan}` });
    if (card.authCode) lines.push({ text: `  授权码 Auth code: ${card.authCode}` });
    if (card.receiptNo !== undefined) lines.push({ text: `  凭证号 Terminal receipt: ${card.receiptNo}` });
    for (const text of card.terminalLines ?? []) lines.push({ text });
  }
  const mobile = data.mobile;
  if (mobile) {
    checkFen(mobile.amount, 'mobile.amount');
    lines.push({ text: `${WALLET_NAMES[mobile.wallet] ?? '手机支付 Mobile'}: ${formatFen(mobile.amount)}`, emphasis: true });
    if (mobile.maskedCode) lines.push({ text: `  付款码 Code: ${mobile.maskedCode}` });
    if (mobile.gatewayRef) lines.push({ text: `  交易号 Ref: ${mobile.gatewayRef}` });
  }
  if ((!card && !mobile) || data.notes.length + data.coins.length > 0) {
    lines.push({ text: `投入合计 Cash in: ${formatFen(sum(data.notes) + sum(data.coins))}`, emphasis: true });
  }
  lines.push(
    rule,
    { text: '到账金额 Credited', emphasis: true },
    { text: formatFen(data.credited), align: 'center', large: true },
    { text: `已找零 Change paid: ${formatFen(data.changePaid)}` },
  );

  if (data.changeOwed > 0) {
    lines.push(
      rule,
      { text: '欠找零 Change owed', emphasis: true },
      { text: formatFen(data.changeOwed), align: 'center', large: true },
    );
    if (data.claimCode) {
      lines.push(
        { text: '领取码 Claim code', emphasis: true },
        { text: data.claimCode, align: 'center', large: true },
        { text: '请凭领取码及本凭条领取找零 Show this code and receipt to collect your change' },
      );
    } else {
      lines.push({ text: '请凭流水号联系客服领取找零 Contact service with the Txn number to collect your change' });
    }
  }

  lines.push(rule, { text: '谢谢惠顾 Thank you', align: 'center' });
  return { lines, qr: data.txnId };
}
