/**
 * The fault slip: printed whenever a transaction ends with the customer's money not fully
 * delivered (a note the validator kept without crediting it, change not paid, a card payment
 * reversed, a transaction closed after a restart). It tells what went in, what was credited, what
 * the kiosk still owes and how to claim it. Pure layout, bilingual like the receipt.
 */
import type { Receipt, ReceiptLine } from '../types.js';
import { formatFen, formatTime, maskPhone, summarizeCash, type LayoutOptions } from './receipt.js';

export interface SlipData {
  operator: string;
  terminalId: string;
  /** The operator's service number the customer calls. */
  serviceNumber: string;
  /** When the transaction ended. */
  at: Date;
  txnId: string;
  /** Printed masked. */
  phone: string;
  cashIn: number;
  cardIn: number;
  credited: number;
  changePaid: number;
  /** Change not paid: claimable with the code. */
  owed: number;
  /** Owed change credited to the phone account instead. */
  changeCredited: number;
  /** Notes the validator neither stacked nor returned, one entry per note. */
  unresolved: number[];
  /** Card payments reversed because their outcome was unknown. */
  cardReversed: number;
  /** Closed by recovery after a restart. */
  recovered: boolean;
  claimCode?: string;
  reprint?: boolean;
  /** IANA time zone the slip's time is shown in (the configuration's timeZone). */
  timeZone?: string;
}

export function buildSlip(data: SlipData, opts: LayoutOptions = {}): Receipt {
  const rule: ReceiptLine = { text: '-'.repeat(opts.width ?? 32) };
  const unresolved = data.unresolved.reduce((a, b) => a + b, 0);
  const lines: ReceiptLine[] = [
    { text: data.operator, align: 'center', emphasis: true },
    { text: '异常凭条 FAULT SLIP', align: 'center', emphasis: true, large: true },
  ];
  if (data.reprint) lines.push({ text: '** 重打 REPRINT **', align: 'center', emphasis: true });
  lines.push(
    { text: '请妥善保管本凭条 Keep this slip', align: 'center' },
    rule,
    { text: `终端 Terminal: ${data.terminalId}` },
    { text: `时间 Time: ${formatTime(data.at, data.timeZone)}` },
    { text: `流水号 Txn: ${data.txnId}` },
    { text: `号码 Account: ${maskPhone(data.phone)}` },
    rule,
    { text: `投入现金 Cash in: ${formatFen(data.cashIn + unresolved)}` },
  );
  if (data.cardIn > 0) lines.push({ text: `银行卡 Card: ${formatFen(data.cardIn)}` });
  lines.push({ text: `到账金额 Credited: ${formatFen(data.credited)}`, emphasis: true });
  if (data.changePaid > 0) lines.push({ text: `已找零 Change paid: ${formatFen(data.changePaid)}` });
  if (data.recovered) lines.push({ text: '终端重启后已处理 Closed after a restart' });
  if (data.cardReversed > 0) {
    lines.push({ text: '银行卡已撤销 Card payment reversed' }, { text: `未扣款 Not charged: ${formatFen(data.cardReversed)}` });
  }
  if (unresolved > 0) {
    lines.push(
      rule,
      { text: '未入账纸币 Note(s) not credited', emphasis: true },
      ...summarizeCash(data.unresolved).map((text) => ({ text: `  ${text}` })),
      { text: '清点钱箱后确认 Confirmed when the cash box is counted' },
    );
  }
  if (data.changeCredited > 0) {
    lines.push(
      rule,
      { text: '找零已充入账户 Change credited', emphasis: true },
      { text: formatFen(data.changeCredited), align: 'center', large: true },
      { text: '已充入上述手机号码 To the account above' },
    );
  }
  if (data.owed > 0) {
    lines.push(rule, { text: '欠找零 Change owed', emphasis: true }, { text: formatFen(data.owed), align: 'center', large: true });
  }
  const owedTotal = unresolved + data.owed;
  if (data.claimCode) {
    lines.push(rule, { text: '领取码 Claim code', emphasis: true }, { text: data.claimCode, align: 'center', large: true });
    if (owedTotal > 0) lines.push({ text: `待领取 To claim: ${formatFen(owedTotal)}`, emphasis: true });
  }
  lines.push(
    rule,
    { text: `客服电话 Service: ${data.serviceNumber}`, emphasis: true },
    { text: '请凭领取码及本凭条联系客服 Call or visit us with this slip and code', align: 'center' },
  );
  return { lines, qr: data.claimCode ? `${data.txnId} ${data.claimCode}` : data.txnId };
}
